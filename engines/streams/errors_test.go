package streams_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
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
	for c, s := range map[error]streams.Class{
		streams.ErrNotFound: streams.ClassNotFound, fmt.Errorf("x: %w", streams.ErrGone): streams.ClassGone,
		errors.New("other"): streams.ClassStorage,
	} {
		if got := streams.ClassOf(c); got != s {
			t.Errorf("ClassOf(%v) = %v, want %v", c, got, s)
		}
	}
	if got := streams.Class(42).String(); got != "class(42)" {
		t.Errorf("unknown class prints %q", got)
	}
}

// TestStorageFailureClasses checks that a storage failure gets the class
// seed 004's server gives it: unavailable (503) for what may pass,
// insufficient storage (507) for a full disk, storage failure (500) for
// corruption and the rest.
func TestStorageFailureClasses(t *testing.T) {
	for _, c := range []struct {
		name    string
		cause   error
		class   streams.Class
		corrupt bool
	}{
		{"interrupted", syscall.EINTR, streams.ClassUnavailable, false},
		{"would block", &os.PathError{Op: "open", Path: "x", Err: syscall.EAGAIN}, streams.ClassUnavailable, false},
		{"timed out", syscall.ETIMEDOUT, streams.ClassUnavailable, false},
		{"deadline", os.ErrDeadlineExceeded, streams.ClassUnavailable, false},
		{"database closed", fmt.Errorf("shard 2: %w", streams.ErrUnavailable), streams.ClassUnavailable, false},
		{"store closed", streams.ErrClosed, streams.ClassUnavailable, false},
		{"disk full", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, streams.ClassInsufficientStorage, false},
		{"quota", syscall.EDQUOT, streams.ClassInsufficientStorage, false},
		{"file too large", syscall.EFBIG, streams.ClassInsufficientStorage, false},
		{"value too large", fmt.Errorf("put: %w", streams.ErrInsufficientStorage), streams.ClassInsufficientStorage, false},
		{"corrupt", fmt.Errorf("decode: %w: bad json", streams.ErrCorrupt), streams.ClassStorage, true},
		{"corrupt and interrupted", fmt.Errorf("%w: %w", streams.ErrCorrupt, syscall.EINTR), streams.ClassStorage, true},
		{"i/o error", &os.PathError{Op: "fsync", Path: "x", Err: syscall.EIO}, streams.ClassStorage, false},
		{"unknown", errors.New("something"), streams.ClassStorage, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := streams.StorageFailure("s", "commit", c.cause)
			if err.Class != c.class || streams.ClassOf(fmt.Errorf("append: %w", err)) != c.class {
				t.Errorf("StorageFailure(%v) has class %v, want %v", c.cause, err.Class, c.class)
			}
			if !errors.Is(err, c.class.Sentinel()) || !errors.Is(err, c.cause) {
				t.Errorf("%v does not match its class sentinel and its cause", err)
			}
			if got := errors.Is(err, streams.ErrCorrupt); got != c.corrupt {
				t.Errorf("%v matches ErrCorrupt: %v, want %v", err, got, c.corrupt)
			}
			if got := streams.CauseClass(c.cause); got != c.class {
				t.Errorf("CauseClass(%v) = %v, want %v", c.cause, got, c.class)
			}
		})
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
