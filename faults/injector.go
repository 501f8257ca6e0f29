package faults

import (
	"fmt"
	"sync"
	"syscall"
)

// Injector decides whether an operation fails. It must be safe for
// concurrent use. MaybeError returns nil to let op proceed, or an error
// (made with Inject, so that it matches ErrInjected and its errno) to fail
// it. An injector may also delay op before returning. String returns the
// injector's text form, which Parse accepts.
type Injector interface {
	String() string
	MaybeError(op Op) error
}

// MayFailer is implemented by injectors that can tell, before any operation
// runs, whether they may ever fail an operation of a kind. Wrap uses it to
// learn whether a file system may see a failed sync: if it cannot, writes go
// straight to the underlying file system. An injector without it is assumed
// to fail anything.
type MayFailer interface {
	MayFail(kind OpKind) bool
}

// mayFail reports whether inj may fail an operation of kind.
func mayFail(inj Injector, kind OpKind) bool {
	if inj == nil {
		return false
	}
	if m, ok := inj.(MayFailer); ok {
		return m.MayFail(kind)
	}
	return true
}

// None is the injector that fails nothing; its text form is "none".
var None Injector = none{}

type none struct{}

func (none) String() string           { return "none" }
func (none) MaybeError(Op) error      { return nil }
func (none) MayFail(kind OpKind) bool { return false }

// Trigger fails nothing until armed: Arm(n) makes the next n operations of
// its kind fail with its errno. Its text form is "trigger(sync,EIO)"; the
// armed count is state, not part of the text form.
type Trigger struct {
	kind  OpKind
	errno syscall.Errno

	mu    sync.Mutex
	armed int
	fired int
}

var (
	_ Injector  = (*Trigger)(nil)
	_ MayFailer = (*Trigger)(nil)
)

// NewTrigger returns a disarmed trigger for operations of kind; a kind of 0
// means every kind.
func NewTrigger(kind OpKind, errno syscall.Errno) *Trigger {
	return &Trigger{kind: kind, errno: errno}
}

// Arm makes the next n operations of the trigger's kind fail, replacing any
// count still armed. n <= 0 disarms.
func (t *Trigger) Arm(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = max(n, 0)
}

// Disarm cancels any armed failures.
func (t *Trigger) Disarm() { t.Arm(0) }

// Armed reports how many failures are still armed.
func (t *Trigger) Armed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.armed
}

// Fired reports how many operations the trigger has failed.
func (t *Trigger) Fired() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fired
}

// String implements Injector.
func (t *Trigger) String() string {
	return fmt.Sprintf("trigger(%s,%s)", kindName(t.kind), ErrnoName(t.errno))
}

// MayFail implements MayFailer.
func (t *Trigger) MayFail(kind OpKind) bool { return t.kind == 0 || kind == t.kind }

// MaybeError implements Injector.
func (t *Trigger) MaybeError(op Op) error {
	if t.kind != 0 && op.Kind != t.kind {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.armed == 0 {
		return nil
	}
	t.armed--
	t.fired++
	return Inject(op, t.errno, t.String())
}
