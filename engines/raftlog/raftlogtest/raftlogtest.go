package raftlogtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Harness describes an engine to the suite.
type Harness struct {
	// Name labels the engine in logs and benchmark names (engine=Name).
	Name string
	// Open opens, or reopens after a close or a crash, the engine; the suite sets
	// o.Dir and o.FS and keeps any Params the harness's closure adds.
	Open func(o raftlog.Options) (raftlog.Engine, error)
	// KnownDifferences maps a case name to why this engine (a peer we do not own)
	// differs from the contract. The suite still runs the case and expects it to fail;
	// a known difference that passes is reported so it can be removed.
	KnownDifferences map[string]string
}

// testCase is one check of the contract. Its name is stable: KnownDifferences,
// Failures and the mutant tests refer to it.
type testCase struct {
	name string
	run  func(t testing.TB, s *suite)
}

// suite is what a case runs with: the harness and whether to keep the
// directories of failed cases.
type suite struct {
	h    Harness
	keep bool
	// test names the test that called Run, re-run as the child that
	// serves an engine crashed on lazyfs; empty under Failures.
	test string
}

// Cases lists the names of every case, in the order Run runs them.
func Cases() []string {
	names := make([]string, 0, len(cases))
	for _, c := range cases {
		names = append(names, c.name)
	}
	return names
}

// Run runs every case as a subtest of t, named after the case. Cases listed in
// h.KnownDifferences must fail; one that passes fails the test so the entry is
// removed.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("raftlogtest: Harness.Open is nil")
	}
	if serveChild(t, h) {
		// This process is a child serving the engine to a parent's case.
		t.SkipNow()
	}
	for name := range h.KnownDifferences {
		if !hasCase(name) {
			t.Errorf("raftlogtest: KnownDifferences names %q, which is not a case (cases: %s)", name, strings.Join(Cases(), ", "))
		}
	}
	s := &suite{h: h, keep: true, test: t.Name()}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			why, known := h.KnownDifferences[c.name]
			if !known {
				c.run(t, s)
				return
			}
			r := runRecorded(c, &suite{h: h, keep: false, test: s.test})
			switch {
			case r.skipped:
				t.Skipf("known difference (%s); the case skipped: %s", why, r.skipMsg)
			case r.failed:
				t.Logf("known difference (%s); failed as expected: %s", why, r.first)
			default:
				t.Errorf("case %s passes on engine %s but is listed as a known difference (%s): remove it from KnownDifferences", c.name, h.Name, why)
			}
		})
	}
}

// Failures runs every case without failing any test and returns the names of the
// cases that failed with their first message: for proving that broken engines are caught.
// Skipped cases are not failures. Known differences are ignored here: every
// case runs against the plain contract.
func Failures(h Harness) map[string]string {
	out := map[string]string{}
	if h.Open == nil {
		out["harness"] = "raftlogtest: Harness.Open is nil"
		return out
	}
	s := &suite{h: h, keep: false}
	for _, c := range cases {
		r := runRecorded(c, s)
		if r.failed {
			out[c.name] = r.first
		}
	}
	return out
}

func hasCase(name string) bool {
	for _, c := range cases {
		if c.name == name {
			return true
		}
	}
	return false
}

// runRecorded runs c on a recorder in its own goroutine, so that FailNow and
// SkipNow can end it with runtime.Goexit, then runs its cleanups.
func runRecorded(c testCase, s *suite) *recorder {
	r := &recorder{name: c.name}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.goRun(func() { c.run(r, s) })
	r.cancel()
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			break
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		r.goRun(f)
	}
	return r
}

// recorder is a testing.TB that records failures instead of reporting them.
// The embedded TB is nil: it only provides the interface's private method;
// every method a case may call is overridden.
type recorder struct {
	testing.TB
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	failed   bool
	skipped  bool
	first    string
	msgs     []string // every failure message, in order
	skipMsg  string
	cleanups []func()
}

// goRun runs f in a new goroutine and waits for it, recovering a panic as a
// failure.
func (r *recorder) goRun(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.fail(fmt.Sprintf("panic: %v", p))
			}
		}()
		f()
	}()
	<-done
}

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg = strings.TrimSpace(msg)
	if !r.failed || r.first == "" {
		r.first = msg
	}
	if msg != "" {
		r.msgs = append(r.msgs, msg)
	}
	r.failed = true
}

func (r *recorder) Helper()                           {}
func (r *recorder) Name() string                      { return r.name }
func (r *recorder) Log(args ...any)                   {}
func (r *recorder) Logf(format string, args ...any)   {}
func (r *recorder) Attr(key, value string)            {}
func (r *recorder) Output() io.Writer                 { return io.Discard }
func (r *recorder) Context() context.Context          { return r.ctx }
func (r *recorder) Error(args ...any)                 { r.fail(fmt.Sprintln(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }
func (r *recorder) Fail()                             { r.fail("") }

func (r *recorder) FailNow() {
	r.Fail()
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Skip(args ...any) { r.skip(fmt.Sprintln(args...)) }

func (r *recorder) Skipf(format string, args ...any) { r.skip(fmt.Sprintf(format, args...)) }

func (r *recorder) SkipNow() { r.skip("") }

func (r *recorder) skip(msg string) {
	r.mu.Lock()
	r.skipped, r.skipMsg = true, strings.TrimSpace(msg)
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
	dir, err := os.MkdirTemp("", "raftlogtest-")
	if err != nil {
		r.Fatalf("raftlogtest: temp dir: %v", err)
	}
	r.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (r *recorder) ArtifactDir() string { return r.TempDir() }

func (r *recorder) Setenv(key, value string) {
	r.Fatalf("raftlogtest: Setenv(%q) is not available to recorded cases", key)
}

func (r *recorder) Chdir(dir string) {
	r.Fatalf("raftlogtest: Chdir(%q) is not available to recorded cases", dir)
}
