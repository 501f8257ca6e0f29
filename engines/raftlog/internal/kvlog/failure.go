package kvlog

import (
	"sync"
	"sync/atomic"
)

// Failure holds the first storage error of an engine. Its methods may be
// called concurrently, from any goroutine.
type Failure struct {
	failed atomic.Bool
	mu     sync.Mutex
	err    error
}

// Record keeps err if it is the first error recorded; nil is ignored.
func (f *Failure) Record(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
		f.failed.Store(true)
	}
	f.mu.Unlock()
}

// Failed reports whether an error was recorded, without locking.
func (f *Failure) Failed() bool { return f.failed.Load() }

// Cause returns the first error recorded, or nil.
func (f *Failure) Cause() error {
	if !f.failed.Load() {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
