package faults

import (
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrInjected marks every error an injector returns: errors.Is(err,
	// ErrInjected) holds, and so does errors.Is(err, syscall.EIO) (or ENOSPC,
	// ...) for the errno the injector uses.
	ErrInjected = errors.New("faults: injected fault")
	// ErrSyntax reports a text form that Parse does not accept; the wrapping
	// message names the problem.
	ErrSyntax = errors.New("faults: bad injector syntax")
	// ErrBadArgument reports a constructor argument out of range (a
	// probability outside [0,1], a malformed path pattern, ...).
	ErrBadArgument = errors.New("faults: bad argument")
	// ErrNotWritable reports a write through a handle opened only for reading.
	ErrNotWritable = errors.New("faults: file not opened for writing")
	// ErrNotCrashable reports a MemFS that was not made by
	// vfs.NewCrashableMem, so it cannot be cloned after a power loss.
	ErrNotCrashable = errors.New("faults: memfs is not crashable")
	// ErrNoTarget reports a Corruption that finds no file it may damage.
	ErrNoTarget = errors.New("faults: nothing to corrupt")
)

// InjectedError is the error an injector returns for one operation. It
// matches ErrInjected and its Errno under errors.Is.
type InjectedError struct {
	// Op is the operation that failed.
	Op Op
	// Errno is the system error the operation fails with.
	Errno syscall.Errno
	// By is the String of the injector that failed the operation.
	By string
	// Done is how many bytes a read or write transfers before it fails, as
	// a write to a nearly full disk writes what fits; 0 for the others.
	Done int
}

// Error implements error.
func (e *InjectedError) Error() string {
	return fmt.Sprintf("faults: injected fault: %s %s: %s (by %s)", e.Op.Kind, e.Op.Path, e.Errno.Error(), e.By)
}

// Is reports whether target is ErrInjected.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// Unwrap returns the errno, so that errors.Is(err, syscall.EIO) holds.
func (e *InjectedError) Unwrap() error { return e.Errno }

// Inject returns the error an injector reports for op: it wraps errno and
// matches ErrInjected. by names the injector (its String).
func Inject(op Op, errno syscall.Errno, by string) error {
	return &InjectedError{Op: op, Errno: errno, By: by}
}

// InjectPartial is Inject for a read or write that transfers its first done
// bytes and then fails: FS performs the operation on those bytes and
// returns their count with the error.
func InjectPartial(op Op, errno syscall.Errno, by string, done int) error {
	return &InjectedError{Op: op, Errno: errno, By: by, Done: max(done, 0)}
}
