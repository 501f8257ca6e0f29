// Package streamstest is the conformance suite for streams.Store. Any
// implementation runs it from its own go test:
//
//	func TestConformance(t *testing.T) {
//		streamstest.Run(t, streamstest.Harness{Name: "mine", Open: mine.Open})
//	}
//
// The cases check offset parsing, creation with the same and another
// configuration, appends and reads at every kind of offset, the producer
// checks in their protocol order (stale epoch, duplicate, closed stream,
// epoch bump, gap, unknown producer), writer sequences, closing, Wait,
// expiry on a controlled clock, forks (reads that stop at the fork offset,
// chains three deep, tombstones, cascading deletes), both byte limits with
// their rollback after every kind of refused append, concurrent appenders,
// and, as the Capabilities declare, durability across a reopen and the
// validation of the data directory's layout.
//
// Power loss is not simulated here: the acid store writes through bbolt's
// mmap, which an in-process vfs cannot crash; that needs faults/lazyfs and
// a child process.
//
// Failures runs the same cases on an implementation and reports which ones
// failed instead of failing the test: it is how tests prove that planted
// bugs are caught.
package streamstest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

// Harness describes the implementation under test.
type Harness struct {
	// Name labels the implementation in messages.
	Name string
	// Open opens, or reopens after a close, the store. The suite sets Dir
	// (a fresh temporary directory per case), Clock and the limits, and
	// passes Params.
	Open func(streams.Options) (streams.Store, error)
	// Params are passed in Options.Params.
	Params map[string]string
	// MismatchParams, if not nil, describe another on-disk layout than
	// Params: opening a directory made with Params with them must fail with
	// streams.ErrLayout.
	MismatchParams map[string]string
}

// Case is one check of the suite. Its name is stable: Failures and the
// mutant tests refer to it.
type Case struct {
	Name string
	Run  func(t testing.TB, h Harness)
}

// Cases lists every check, in the order Run runs them.
func Cases() []Case { return append([]Case(nil), cases...) }

// Run runs every case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, h) })
	}
}

// Failures runs every case against h without failing anything and returns,
// for each case that failed, its first failure messages. Skipped cases are
// not failures.
func Failures(h Harness) map[string]string {
	out := map[string]string{}
	for _, c := range Cases() {
		r := &recorder{name: c.Name}
		r.goRun(func() { c.Run(r, h) })
		r.runCleanups()
		if msg, failed := r.result(); failed {
			out[c.Name] = msg
		}
	}
	return out
}

// recorder is a testing.TB that records failures instead of reporting them.
// FailNow and SkipNow end the case's goroutine with runtime.Goexit, as the
// testing package does. The embedded TB is nil: every method a case calls
// is overridden.
type recorder struct {
	testing.TB
	name string

	mu       sync.Mutex
	failed   bool
	msgs     []string
	cleanups []func()
	tmpDirs  []string
}

func (r *recorder) goRun(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.record(fmt.Sprintf("panic: %v", p))
			}
		}()
		f()
	}()
	<-done
}

func (r *recorder) Name() string                 { return r.name }
func (r *recorder) Helper()                      {}
func (r *recorder) Log(...any)                   {}
func (r *recorder) Logf(string, ...any)          {}
func (r *recorder) Error(args ...any)            { r.record(fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, args ...any) { r.record(fmt.Sprintf(f, args...)) }
func (r *recorder) Fatal(args ...any)            { r.record(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(f string, args ...any) {
	r.record(fmt.Sprintf(f, args...))
	runtime.Goexit()
}
func (r *recorder) Fail()    { r.record("failed") }
func (r *recorder) FailNow() { r.record("failed"); runtime.Goexit() }
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
func (r *recorder) Skip(...any)          { runtime.Goexit() }
func (r *recorder) Skipf(string, ...any) { runtime.Goexit() }
func (r *recorder) SkipNow()             { runtime.Goexit() }
func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}
func (r *recorder) TempDir() string {
	d, err := os.MkdirTemp("", "streamstest-")
	if err != nil {
		r.Fatalf("temp dir: %v", err)
	}
	r.mu.Lock()
	r.tmpDirs = append(r.tmpDirs, d)
	r.mu.Unlock()
	return d
}

func (r *recorder) record(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) runCleanups() {
	r.mu.Lock()
	cs, dirs := r.cleanups, r.tmpDirs
	r.cleanups, r.tmpDirs = nil, nil
	r.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		r.goRun(cs[i])
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

func (r *recorder) result() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.failed {
		return "", false
	}
	return strings.Join(r.msgs, "; "), true
}
