// Package adaptertest is the conformance suite for adapter engines. Any
// implementation of adapter.StorageAdapter runs it from its own go test:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, adaptertest.Harness{Name: "mine", Open: mine.OpenAdapter})
//	}
//
// The suite checks every contract written in package adapter: shard
// lifecycle, offsets (from 0, contiguous, never reused), reads by offset,
// tag, key and timestamp, deletes, group offsets, concurrency, and, as the
// engine's Capabilities declare, durability across a reopen, across a power
// loss (vfs.NewCrashableMem and CrashClone) and across a failed fsync.
//
// Failures runs the same cases on an engine and reports which ones failed
// instead of failing the test: it is how tests prove that planted bugs are
// caught.
package adaptertest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// Harness describes the engine under test.
type Harness struct {
	// Name labels the engine in messages.
	Name string
	// Open opens the engine. The suite passes a Dir and an FS (a crashable
	// in-memory file system) and Params; it reopens with the same Dir and
	// FS to check persistence.
	Open func(adapter.Options) (adapter.StorageAdapter, error)
	// StorageTypes are put, in turn, into the StorageType of the shards the
	// suite creates, so a driver manager is tested with mixed storage. Empty
	// means every shard gets the empty storage type. The retention case
	// creates its shard with StorageTypes[0], so for an adapter that
	// implements adapter.Retainer that type must be one that retains.
	StorageTypes []string
	// Params are passed to Open in Options.Params.
	Params map[string]string
}

// Case is one check of the suite.
type Case struct {
	Name string
	Run  func(t testing.TB, h Harness)
}

// Cases lists every check, in the order Run runs them.
func Cases() []Case { return cases }

// Run runs every case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, h) })
	}
}

// Failures runs every case against h without failing anything and returns,
// for each case that failed, its first failure message. Skipped cases are
// not failures.
func Failures(h Harness) map[string]string {
	out := map[string]string{}
	for _, c := range cases {
		r := newRecorder(c.Name)
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					r.Errorf("panic: %v", p)
				}
			}()
			c.Run(r, h)
		}()
		<-done
		r.runCleanups()
		if msg, failed := r.result(); failed {
			out[c.Name] = msg
		}
	}
	return out
}

// recorder is a testing.TB that records failures instead of reporting them.
// FailNow and SkipNow end the case's goroutine with runtime.Goexit, as the
// testing package does. Methods not overridden here are not used by the
// suite.
type recorder struct {
	testing.TB
	name string

	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	cleanups []func()
	tmpDirs  []string
}

func newRecorder(name string) *recorder { return &recorder{name: name} }

func (r *recorder) Name() string { return r.name }
func (r *recorder) Helper()      {}
func (r *recorder) Log(args ...any) {
}
func (r *recorder) Logf(format string, args ...any) {}

func (r *recorder) Error(args ...any) { r.record(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) {
	r.record(fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) { r.record(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *recorder) Fail()    { r.record("failed") }
func (r *recorder) FailNow() { r.record("failed"); runtime.Goexit() }
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
func (r *recorder) Skip(args ...any)                 { r.SkipNow() }
func (r *recorder) Skipf(format string, args ...any) { r.SkipNow() }
func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}
func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}
func (r *recorder) TempDir() string {
	d, err := os.MkdirTemp("", "adaptertest-")
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
	cs := r.cleanups
	r.cleanups = nil
	dirs := r.tmpDirs
	r.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if p := recover(); p != nil {
					r.record(fmt.Sprintf("panic in cleanup: %v", p))
				}
			}()
			cs[i]()
		}()
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
