package jepsenlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability/raftlogmodel"
)

// system is the engine under test as the scheduler drives it: in process
// or in a child process.
type system interface {
	faults.Target
	// exec runs one operation. A response that will never come (a hang, a
	// stopped process) gives an unknown output and unbounded true; an
	// engine panic or hang also returns a failure to record.
	exec(w work, paused bool) (out raftlogmodel.Output, unbounded bool, failure *failure)
	// capabilities are the engine's declarations.
	capabilities() raftlog.Capabilities
	close() error
}

// failure is an engine panic, hang or failed recovery, with its evidence.
type failure struct {
	what     string
	evidence string
}

// inproc runs the engine in this process, on a crashable in-memory disk
// when the engine takes a vfs.FS.
type inproc struct {
	name      string
	params    map[string]string
	opTimeout time.Duration

	slot *faults.Slot
	disk *faults.Disk // nil when the engine does not use the FS
	dir  string       // on disk, or a real directory
	tmp  string       // the real directory to remove, if any
	eng  raftlog.Engine
	caps raftlog.Capabilities
}

var (
	_ faults.DiskTarget = (*inproc)(nil)
	_ system            = (*inproc)(nil)
)

// openInproc opens the engine on a fresh crashable disk, or, if it does
// not take a vfs.FS, in a temporary directory.
func openInproc(name string, params map[string]string, opTimeout time.Duration) (*inproc, error) {
	t := &inproc{name: name, params: params, opTimeout: opTimeout, slot: &faults.Slot{}}
	t.disk = faults.NewDisk(t.slot)
	t.dir = "/db"
	eng, err := raftlog.Open(name, raftlog.Options{Dir: t.dir, FS: t.disk.FS(), Params: params})
	if errors.Is(err, raftlog.ErrBadOption) {
		tmp, terr := os.MkdirTemp("", "jepsen-lite-")
		if terr != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, terr)
		}
		t.disk, t.dir, t.tmp = nil, tmp, tmp
		eng, err = raftlog.Open(name, raftlog.Options{Dir: tmp, Params: params})
	}
	if err != nil {
		t.removeTmp()
		return nil, fmt.Errorf("%w: open %s: %w", ErrSetup, name, err)
	}
	t.eng, t.caps = eng, eng.Capabilities()
	if !t.caps.UsesFS {
		// Power loss and fsync faults cannot reach this engine's files.
		t.disk = nil
	}
	return t, nil
}

func (t *inproc) removeTmp() {
	if t.tmp != "" {
		_ = os.RemoveAll(t.tmp)
	}
}

func (t *inproc) Traits() faults.Traits {
	return faults.Traits{UsesFS: t.disk != nil, Persistent: t.caps.Persistent}
}

func (t *inproc) Disk() *faults.Disk                 { return t.disk }
func (t *inproc) Slot() *faults.Slot                 { return t.slot }
func (t *inproc) capabilities() raftlog.Capabilities { return t.caps }

// Reopen abandons the engine and opens it again on d.
func (t *inproc) Reopen(ctx context.Context, d *faults.Disk) error {
	if t.eng != nil {
		eng := t.eng
		t.eng = nil
		// Close may fail on an engine that lost its disk; that is expected.
		_, _ = guard(t.opTimeout, eng.Close)
	}
	t.disk = d
	var eng raftlog.Engine
	f, err := guard(t.opTimeout, func() error {
		var err error
		eng, err = raftlog.Open(t.name, raftlog.Options{Dir: t.dir, FS: d.FS(), Params: t.params})
		return err
	})
	switch {
	case f != nil:
		f.what = "recovery: " + f.what
		return &recoveryError{f: f}
	case err != nil:
		return &recoveryError{f: &failure{what: "recovery failed: " + err.Error()}}
	}
	t.eng = eng
	return nil
}

func (t *inproc) exec(w work, _ bool) (raftlogmodel.Output, bool, *failure) {
	if t.eng == nil {
		return raftlogmodel.Unknown("engine down"), false, &failure{what: "engine is down after a failed recovery"}
	}
	var out raftlogmodel.Output
	f, _ := guard(t.opTimeout, func() error {
		out = raftlogmodel.Apply(t.eng, w.in, w.payload)
		return nil
	})
	if f != nil {
		f.what = fmt.Sprintf("%s during %s", f.what, w.in)
		return raftlogmodel.Unknown(f.what), true, f
	}
	return out, false, nil
}

func (t *inproc) close() error {
	defer t.removeTmp()
	if t.eng == nil {
		return nil
	}
	f, err := guard(t.opTimeout, t.eng.Close)
	if f != nil {
		return errors.New(f.what)
	}
	return err
}

// recoveryError is a failed reopen: an engine failure, not a harness one.
type recoveryError struct{ f *failure }

func (e *recoveryError) Error() string { return e.f.what }

// guard runs fn with a time limit, turning a panic or a hang into a
// failure with evidence (the panic's stack, or every goroutine's). An
// error fn returns is passed back.
func guard(limit time.Duration, fn func() error) (*failure, error) {
	type result struct {
		f   *failure
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.f = &failure{what: fmt.Sprintf("engine panicked: %v", p), evidence: string(debug.Stack())}
			}
			done <- r
		}()
		r.err = fn()
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.f, r.err
	case <-timer.C:
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		return &failure{what: fmt.Sprintf("engine hung for %v", limit), evidence: string(buf[:n])}, nil
	}
}
