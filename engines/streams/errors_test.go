package streams_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

func TestErrorMatchesClassAndKind(t *testing.T) {
	err := fmt.Errorf("append: %w", &streams.Error{
		Class: streams.ClassConflict, Kind: streams.ErrSeqGap, Stream: "s", ExpectedSeq: 2, ReceivedSeq: 5,
	})
	if !errors.Is(err, streams.ErrConflict) || !errors.Is(err, streams.ErrSeqGap) {
		t.Errorf("%v does not match its class and kind", err)
	}
	if errors.Is(err, streams.ErrBadRequest) || errors.Is(err, streams.ErrStaleEpoch) {
		t.Errorf("%v matches another class or kind", err)
	}
	if c := streams.ClassOf(err); c != streams.ClassConflict {
		t.Errorf("class %v", c)
	}
	if msg := err.Error(); !strings.Contains(msg, "expected seq 2, received 5") || !strings.Contains(msg, `"s"`) {
		t.Errorf("message %q lacks the details", msg)
	}
	stale := &streams.Error{Class: streams.ClassConflict, Kind: streams.ErrStaleEpoch, CurrentEpoch: 7}
	if !strings.Contains(stale.Error(), "current epoch 7") {
		t.Errorf("message %q lacks the epoch", stale.Error())
	}
	cause := errors.New("eio")
	tr := streams.Transient("s", "commit", cause)
	if !errors.Is(tr, cause) || !errors.Is(tr, streams.ErrTransient) || streams.ClassOf(tr) != streams.ClassTransient {
		t.Errorf("transient %v loses its cause or class", tr)
	}
	for c, s := range map[error]streams.Class{
		streams.ErrNotFound: streams.ClassNotFound, fmt.Errorf("x: %w", streams.ErrGone): streams.ClassGone,
		errors.New("other"): streams.ClassTransient,
	} {
		if got := streams.ClassOf(c); got != s {
			t.Errorf("ClassOf(%v) = %v, want %v", c, got, s)
		}
	}
	if got := streams.Class(42).String(); got != "class(42)" {
		t.Errorf("unknown class prints %q", got)
	}
}

func TestCheckParams(t *testing.T) {
	if err := streams.CheckParams("x", map[string]string{"a": "1"}, "a", "b"); err != nil {
		t.Errorf("known parameter refused: %v", err)
	}
	if err := streams.CheckParams("x", map[string]string{"c": "1"}, "a"); !errors.Is(err, streams.ErrBadOption) {
		t.Errorf("unknown parameter: %v", err)
	}
}
