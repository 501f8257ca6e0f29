package httpproto_test

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	hp "github.com/ordeal-dev/ordeal/engines/streams/httpproto"
)

func TestParseUint(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  uint64
		want uint64
		ok   bool
	}{
		{"0", 10, 0, true}, {"7", 10, 7, true}, {"10", 10, 10, true}, {"11", 10, 0, false},
		{"", 10, 0, false}, {"01", 10, 0, false}, {"+1", 10, 0, false}, {"-1", 10, 0, false},
		{"1.5", 10, 0, false}, {"1e3", 10000, 0, false}, {"1abc", 10, 0, false},
		{"9007199254740991", hp.MaxProducerInt, hp.MaxProducerInt, true},
		{"9007199254740992", hp.MaxProducerInt, 0, false},
		{"99999999999999999999999", hp.MaxProducerInt, 0, false},
	} {
		got, err := hp.ParseUint("h", c.in, c.max)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseUint(%q, %d) = %d, %v", c.in, c.max, got, err)
		}
		if err != nil && !errors.Is(err, hp.ErrBadHeader) {
			t.Errorf("ParseUint(%q): %v is not ErrBadHeader", c.in, err)
		}
	}
}

func TestMediaTypeAndClosed(t *testing.T) {
	for in, want := range map[string]string{"TEXT/Plain": "text/plain", "application/json; charset=utf-8": "application/json"} {
		if got, err := hp.MediaType(in); err != nil || got != want {
			t.Errorf("MediaType(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := hp.MediaType("not a type;;"); err == nil {
		t.Error("a malformed content type parses")
	}
	for in, want := range map[string]bool{"true": true, "TRUE": true, " True ": true, "false": false, "1": false, "": false, "yes": false} {
		if hp.IsClosed(in) != want {
			t.Errorf("IsClosed(%q) != %v", in, want)
		}
	}
	if !hp.IsText("text/plain") || !hp.IsText("application/json") || hp.IsText("application/octet-stream") {
		t.Error("IsText")
	}
}

// TestStatusAndClass checks that every class maps to a status and back.
func TestStatusAndClass(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{streams.Errorf(streams.ClassNotFound, nil, "s", ""), http.StatusNotFound},
		{streams.Errorf(streams.ClassGone, nil, "s", ""), http.StatusGone},
		{streams.Errorf(streams.ClassConflict, streams.ErrSeqGap, "s", ""), http.StatusConflict},
		{streams.Errorf(streams.ClassConflict, streams.ErrStaleEpoch, "s", ""), http.StatusForbidden},
		{streams.Errorf(streams.ClassBadRequest, streams.ErrBadOffset, "s", ""), http.StatusBadRequest},
		{streams.Errorf(streams.ClassCapacity, streams.ErrLimit, "s", ""), http.StatusRequestEntityTooLarge},
		{streams.Unavailable("s", "x", errors.New("no answer")), http.StatusServiceUnavailable},
		{&streams.Error{Class: streams.ClassUnavailable, Kind: streams.ErrClosed}, http.StatusServiceUnavailable},
		{streams.StorageFailure("s", "x", syscall.ENOSPC), http.StatusInsufficientStorage},
		{streams.StorageFailure("s", "x", fmt.Errorf("%w: record", streams.ErrCorrupt)), http.StatusInternalServerError},
		{streams.StorageFailure("s", "x", syscall.EIO), http.StatusInternalServerError},
	} {
		got := hp.Status(c.err)
		if got != c.status {
			t.Errorf("Status(%v) = %d, want %d", c.err, got, c.status)
		}
		if back := hp.Class(got); back != streams.ClassOf(c.err) {
			t.Errorf("Class(%d) = %v, want %v", got, back, streams.ClassOf(c.err))
		}
	}
	if hp.Class(http.StatusBadGateway) != streams.ClassUnavailable || hp.Class(http.StatusTeapot) != streams.ClassUnavailable {
		t.Error("other 5xx and unknown statuses must be unavailable")
	}
}
