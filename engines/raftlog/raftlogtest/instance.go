package raftlogtest

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// instance is one engine opened by a case, reopened in place across closes and
// crashes. A cleanup closes it.
type instance struct {
	t      testing.TB
	s      *suite
	o      raftlog.Options
	e      raftlog.Engine
	closed bool
	// faulted is set once a fault was injected: Close may then fail.
	faulted bool
}

// dir makes a directory for an engine. It is removed after the case, unless
// the case failed under Run: then it is kept and its path logged.
func (s *suite) dir(t testing.TB) string {
	t.Helper()
	name := strings.NewReplacer("/", "_", " ", "_", "=", "_").Replace(t.Name())
	dir, err := os.MkdirTemp("", "raftlogtest-"+name+"-")
	if err != nil {
		t.Fatalf("raftlogtest: make the engine directory: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() && s.keep {
			t.Logf("raftlogtest: kept the directory of engine %s: %s", s.h.Name, dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

// fresh opens the engine on a new directory of the operating system's file
// system.
func (s *suite) fresh(t testing.TB) *instance {
	t.Helper()
	return s.openOn(t, vfs.Default, s.dir(t))
}

// openOn opens the engine in dir on fs and registers its close.
func (s *suite) openOn(t testing.TB, fs vfs.FS, dir string) *instance {
	t.Helper()
	in := &instance{t: t, s: s, o: raftlog.Options{Dir: dir, FS: fs}}
	in.openNow()
	in.closeAtEnd()
	return in
}

// tryOpenOn opens the engine in dir on fs and registers its close, or
// returns the error of the open.
func (s *suite) tryOpenOn(t testing.TB, fs vfs.FS, dir string) (*instance, error) {
	t.Helper()
	in := &instance{t: t, s: s, o: raftlog.Options{Dir: dir, FS: fs}}
	e, err := s.h.Open(in.o)
	if err != nil {
		return nil, err
	}
	if e == nil {
		t.Fatalf("open engine %s in %s: nil engine and nil error", s.h.Name, dir)
	}
	in.e = e
	in.closeAtEnd()
	return in, nil
}

// closeAtEnd registers the close of the engine at the end of the case.
func (in *instance) closeAtEnd() {
	t, s := in.t, in.s
	t.Cleanup(func() {
		if in.closed {
			return
		}
		if !in.faulted {
			// The bounds agree with each other whatever the case did.
			ls := in.e.Log()
			first, last, pid := ls.FirstIndex(), ls.LastIndex(), ls.PurgedID()
			if first != pid.Index+1 || last < pid.Index {
				t.Errorf("engine %s at the end of the case: FirstIndex %d, LastIndex %d and PurgedID %v disagree", s.h.Name, first, last, pid)
			}
		}
		if err := in.e.Close(); err != nil && !in.faulted && !errors.Is(err, raftlog.ErrClosed) {
			t.Errorf("close engine %s at the end of the case: %v", s.h.Name, err)
		}
	})
}

func (in *instance) openNow() {
	in.t.Helper()
	e, err := in.s.h.Open(in.o)
	if err != nil {
		in.t.Fatalf("open engine %s in %s: %v", in.s.h.Name, in.o.Dir, err)
	}
	if e == nil {
		in.t.Fatalf("open engine %s in %s: nil engine and nil error", in.s.h.Name, in.o.Dir)
	}
	in.e, in.closed = e, false
}

func (in *instance) log() raftlog.LogStore      { return in.e.Log() }
func (in *instance) meta() raftlog.MetaStore    { return in.e.Meta() }
func (in *instance) caps() raftlog.Capabilities { return in.e.Capabilities() }

// close closes the engine; an error fails the case.
func (in *instance) close() {
	in.t.Helper()
	in.closed = true
	if err := in.e.Close(); err != nil {
		in.t.Fatalf("close engine %s: %v", in.s.h.Name, err)
	}
}

// reopen closes the engine cleanly and opens it again on the same files.
func (in *instance) reopen() {
	in.t.Helper()
	in.close()
	in.openNow()
}

// settle makes every acknowledged mutation durable: nothing to do for an
// engine that declares SyncOnWrite, a Flush of both stores otherwise.
func (in *instance) settle() {
	in.t.Helper()
	if in.caps().SyncOnWrite {
		return
	}
	if err := in.log().Flush(); err != nil {
		in.t.Fatalf("flush the log: %v", err)
	}
	if err := in.meta().Flush(); err != nil {
		in.t.Fatalf("flush the meta store: %v", err)
	}
}

// requirePersistent skips the case for an engine that keeps nothing across
// Close.
func (in *instance) requirePersistent() {
	in.t.Helper()
	if !in.caps().Persistent {
		in.t.Skipf("engine %s declares Capabilities().Persistent = false: reopen cases do not apply", in.s.h.Name)
	}
}
