package jepsenlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
)

// system is the engine under test as the scheduler drives it: in process
// or in a child process.
type system interface {
	faults.Target
	// exec runs one work item. A response that will never come (a hang, a
	// stopped process) gives an unknown output and unbounded true; an
	// engine panic or hang also returns a failure to record.
	exec(w any, paused bool) (out any, unbounded bool, failure *failure)
	// info is what the engine declared when it was opened.
	info() Info
	// where names the target: "inproc", "process" or "lazyfs".
	where() string
	close() error
}

// failure is an engine panic, hang or failed recovery, with its evidence.
type failure struct {
	what     string
	evidence string
}

// inproc runs the engine in this process, on a crashable in-memory disk
// when the engine writes through the file system it is given.
type inproc struct {
	fam       Family
	name      string
	params    map[string]string
	opTimeout time.Duration

	slot *faults.Slot
	disk *faults.Disk // nil when the engine does not use the FS
	dir  string       // on disk, or a real directory
	tmp  string       // the real directory to remove, if any
	eng  handle
	inf  Info
}

var (
	_ faults.DiskTarget = (*inproc)(nil)
	_ system            = (*inproc)(nil)
)

// openInproc opens the engine on a fresh crashable disk, or, if it does
// not write through the FS it is given, in a temporary directory.
func openInproc(fam Family, name string, params map[string]string, opTimeout time.Duration) (*inproc, error) {
	t := &inproc{fam: fam, name: name, params: params, opTimeout: opTimeout, slot: &faults.Slot{}}
	t.disk = faults.NewDisk(t.slot)
	t.dir = "/db"
	eng, inf, err := t.open(t.disk)
	if errors.Is(err, ErrNoFS) {
		tmp, terr := os.MkdirTemp("", "jepsen-lite-")
		if terr != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, terr)
		}
		t.disk, t.tmp = nil, tmp
		t.dir = filepath.Join(tmp, "db")
		eng, inf, err = t.open(nil)
	}
	if err != nil {
		t.removeTmp()
		return nil, fmt.Errorf("%w: open %s/%s: %w", ErrSetup, fam.Name(), name, err)
	}
	t.eng, t.inf = eng, inf
	if !inf.UsesFS {
		// Power loss and fsync faults cannot reach this engine's files.
		t.disk = nil
	}
	return t, nil
}

// open opens the engine on d (nil: on the real directory), guarded
// against a panic or a hang.
func (t *inproc) open(d *faults.Disk) (handle, Info, error) {
	o := OpenOptions{Dir: t.dir, Params: t.params}
	if d != nil {
		o.FS = d.FS()
	}
	var eng handle
	var inf Info
	f, err := guard(t.opTimeout, func() error {
		var err error
		eng, inf, err = t.fam.open(t.name, o)
		return err
	})
	if f != nil {
		return nil, Info{}, &recoveryError{f: f}
	}
	return eng, inf, err
}

func (t *inproc) removeTmp() {
	if t.tmp != "" {
		_ = os.RemoveAll(t.tmp)
	}
}

func (t *inproc) Traits() faults.Traits {
	return faults.Traits{UsesFS: t.disk != nil, Persistent: t.inf.Persistent}
}

func (t *inproc) Disk() *faults.Disk { return t.disk }
func (t *inproc) Slot() *faults.Slot { return t.slot }
func (t *inproc) info() Info         { return t.inf }
func (t *inproc) where() string      { return "inproc" }

// Reopen abandons the engine and opens it again on d.
func (t *inproc) Reopen(ctx context.Context, d *faults.Disk) error {
	if t.eng != nil {
		eng := t.eng
		t.eng = nil
		// Close may fail on an engine that lost its disk; that is expected.
		_, _ = guard(t.opTimeout, eng.close)
	}
	t.disk = d
	eng, _, err := t.open(d)
	var re *recoveryError
	switch {
	case errors.As(err, &re):
		re.f.what = "recovery: " + re.f.what
		return re
	case err != nil:
		return &recoveryError{f: &failure{what: "recovery failed: " + err.Error()}}
	}
	t.eng = eng
	return nil
}

func (t *inproc) exec(w any, _ bool) (any, bool, *failure) {
	if t.eng == nil {
		return t.fam.unknown("engine down"), false, &failure{what: "engine is down after a failed recovery"}
	}
	var out any
	f, _ := guard(t.opTimeout, func() error {
		out = t.eng.apply(w)
		return nil
	})
	if f != nil {
		f.what = fmt.Sprintf("%s during %v", f.what, t.fam.input(w))
		return t.fam.unknown(f.what), true, f
	}
	return out, false, nil
}

func (t *inproc) close() error {
	defer t.removeTmp()
	if t.eng == nil {
		return nil
	}
	f, err := guard(t.opTimeout, t.eng.close)
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
