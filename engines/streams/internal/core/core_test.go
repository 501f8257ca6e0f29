package core_test

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
)

// failing is a Backend of one empty shard whose every transaction fails
// with err, once err is set.
type failing struct{ err error }

func (f *failing) Shards() int                           { return 1 }
func (f *failing) ShardOf(string) int                    { return 0 }
func (f *failing) Update(int, func(core.Tx) error) error { return f.err }
func (f *failing) Append(int, func(core.Tx) error) error { return f.err }
func (f *failing) View(int, func(core.Tx) error) error   { return f.err }
func (f *failing) Close() error                          { return nil }

// TestBackendFailureClasses fails every transaction of the backend with a
// storage error: each call reports it in the class seed 004's server gives
// it, not as one class for every failure, and releases what it reserved.
func TestBackendFailureClasses(t *testing.T) {
	for _, c := range []struct {
		name    string
		cause   error
		class   streams.Class
		corrupt bool
	}{
		{"disk full", &os.PathError{Op: "write", Path: "shard-000.db", Err: syscall.ENOSPC}, streams.ClassInsufficientStorage, false},
		{"quota", syscall.EDQUOT, streams.ClassInsufficientStorage, false},
		{"database closed", fmt.Errorf("%w: database not open", streams.ErrUnavailable), streams.ClassUnavailable, false},
		{"interrupted", syscall.EINTR, streams.ClassUnavailable, false},
		{"corrupt record", fmt.Errorf("%w: record of stream \"x\"", streams.ErrCorrupt), streams.ClassStorage, true},
		{"i/o error", &os.PathError{Op: "fdatasync", Path: "shard-000.db", Err: syscall.EIO}, streams.ClassStorage, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := &failing{}
			s, err := core.New(b, core.Options{MaxTotalBytes: 100})
			if err != nil {
				t.Fatal(err)
			}
			b.err = c.cause
			_, cerr := s.Create("x", streams.Config{})
			_, aerr := s.Append("x", []byte("data"), streams.AppendOptions{})
			_, rerr := s.Read("x", streams.Start)
			for what, err := range map[string]error{"create": cerr, "append": aerr, "read": rerr} {
				if got := streams.ClassOf(err); got != c.class {
					t.Errorf("%s: %v has class %v, want %v", what, err, got, c.class)
				}
				if !errors.Is(err, c.cause) || errors.Is(err, streams.ErrCorrupt) != c.corrupt {
					t.Errorf("%s: %v does not wrap its cause, or says corrupt wrongly (want %v)", what, err, c.corrupt)
				}
			}
			if n := s.TotalBytes(); n != 0 {
				t.Errorf("after the failed append the total is %d, want 0", n)
			}
		})
	}
}
