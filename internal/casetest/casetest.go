// Package casetest runs the cases of a conformance suite, either as subtests
// of a *testing.T or on a recording testing.TB that collects failures instead
// of reporting them. The conformance suites (raftlogtest, adaptertest,
// streamstest, tieredtest) share it: their Run and Failures are this
// package's Run and Record. RunKnown is Run for an engine with known
// differences from the contract: the cases it lists must fail.
//
// A recorded case runs in its own goroutine, so that FailNow, Fatal and
// SkipNow end it with runtime.Goexit as the testing package does; a panic is
// recorded as a failure; cleanups run after the case, last registered first,
// each in its own goroutine too.
package casetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Case is one check of a suite, run with the harness h.
type Case[H any] struct {
	Name string
	Run  func(t testing.TB, h H)
}

// Result is what a recorded case did.
type Result struct {
	// Failed reports whether the case failed, panicked or failed in a
	// cleanup.
	Failed bool
	// Skipped reports whether the case skipped.
	Skipped bool
	// Msgs are the non-empty failure messages, in order.
	Msgs []string
	// SkipMsg is the message the case skipped with.
	SkipMsg string
}

// First returns the first failure message, or "" if there is none.
func (r Result) First() string {
	if len(r.Msgs) == 0 {
		return ""
	}
	return r.Msgs[0]
}

// String returns every failure message joined with "; ", "failed" for a
// failure without a message, and "" when the case did not fail.
func (r Result) String() string {
	switch {
	case !r.Failed:
		return ""
	case len(r.Msgs) == 0:
		return "failed"
	}
	return strings.Join(r.Msgs, "; ")
}

// caseOf converts c, any struct type laid out as Case[H], to Case[H].
func caseOf[H any, C ~struct {
	Name string
	Run  func(t testing.TB, h H)
}](c C) Case[H] {
	return Case[H](c)
}

// Run runs every case as a subtest of t named after the case. C is Case[H]
// or a suite's own case type with the same fields.
func Run[H any, C ~struct {
	Name string
	Run  func(t testing.TB, h H)
}](t *testing.T, cases []C, h H) {
	t.Helper()
	for _, c := range cases {
		c := caseOf[H](c)
		t.Run(c.Name, func(t *testing.T) { c.Run(t, h) })
	}
}

// RunKnown runs every case as a subtest of t, as Run does, except the cases
// named in known, each with the reason the engine differs from the
// contract there: such a case runs on a recorder and is expected to fail.
// Its failure is logged with the reason; if it passes, the subtest fails
// so that the entry is removed; if it skips, the subtest skips saying so.
// A name in known that is no case fails t.
func RunKnown[H any, C ~struct {
	Name string
	Run  func(t testing.TB, h H)
}](t *testing.T, cases []C, h H, known map[string]string) {
	t.Helper()
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = caseOf[H](c).Name
	}
	for _, n := range unknownNames(names, known) {
		t.Errorf("known differences name %q, which is not a case (cases: %s)", n, strings.Join(names, ", "))
	}
	for _, c := range cases {
		c := caseOf[H](c)
		why, ok := known[c.Name]
		if !ok {
			t.Run(c.Name, func(t *testing.T) { c.Run(t, h) })
			continue
		}
		t.Run(c.Name, func(t *testing.T) { judgeKnown(t, c.Name, why, RecordIn(t, c, h)) })
	}
}

// unknownNames returns the keys of known that are not in names, sorted.
func unknownNames(names []string, known map[string]string) []string {
	var out []string
	for n := range known {
		if !slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// judgeKnown reports on t what a case listed as a known difference (for
// the reason why) did, as RunKnown describes.
func judgeKnown(t testing.TB, name, why string, r Result) {
	t.Helper()
	switch {
	case r.Failed:
		t.Logf("known difference (%s); failed as expected: %s", why, r.String())
	case r.Skipped:
		t.Skipf("known difference (%s); the case skipped: %s", why, r.SkipMsg)
	default:
		t.Errorf("case %s passes but is listed as a known difference (%s): remove it from the known differences", name, why)
	}
}

// Failures runs every case on a recorder and returns, for each case that
// failed, its messages as Result.String gives them. Skipped cases are not
// failures.
func Failures[H any, C ~struct {
	Name string
	Run  func(t testing.TB, h H)
}](cases []C, h H) map[string]string {
	out := map[string]string{}
	for _, c := range cases {
		c := caseOf[H](c)
		if r := Record(c, h); r.Failed {
			out[c.Name] = r.String()
		}
	}
	return out
}

// Record runs c with h on a recording testing.TB, then its cleanups, and
// returns what it did. It fails no test.
func Record[H any](c Case[H], h H) Result { return record(c, h, "") }

// RecordIn is Record for a case recorded while t runs, as a test's own
// subtest: the recorder's ChildTest names t, so that a case that checks in
// a child process (re-running the test binary on one test) can still do so.
func RecordIn[H any](t *testing.T, c Case[H], h H) Result { return record(c, h, t.Name()) }

// ChildTester is implemented by a testing.TB that stands for a test of the
// running binary, which a child process may re-run: ChildTest returns its
// full name, or "" when there is none.
type ChildTester interface {
	ChildTest() string
}

func record[H any](c Case[H], h H, test string) Result {
	r := &recorder{name: c.Name, test: test}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.goRun("panic: ", func() { c.Run(r, h) })
	// As in the testing package, the context ends before the cleanups.
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
		r.goRun("panic in cleanup: ", f)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res
}

// recorder is a testing.TB that records failures instead of reporting them.
// The embedded TB is nil: it only provides the interface's private method;
// every method a case may call is overridden.
type recorder struct {
	testing.TB
	name   string
	test   string // the test it records in, for ChildTest
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	res      Result
	cleanups []func()
}

var _ testing.TB = (*recorder)(nil)

// goRun runs f in a new goroutine and waits for it, recording a panic as a
// failure whose message starts with prefix.
func (r *recorder) goRun(prefix string, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.fail(fmt.Sprintf("%s%v", prefix, p))
			}
		}()
		f()
	}()
	<-done
}

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Failed = true
	if msg = strings.TrimSpace(msg); msg != "" {
		r.res.Msgs = append(r.res.Msgs, msg)
	}
}

func (r *recorder) skip(msg string) {
	r.mu.Lock()
	r.res.Skipped, r.res.SkipMsg = true, strings.TrimSpace(msg)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Helper()                           {}
func (r *recorder) Name() string                      { return r.name }
func (r *recorder) ChildTest() string                 { return r.test }
func (r *recorder) Log(args ...any)                   {}
func (r *recorder) Logf(format string, args ...any)   {}
func (r *recorder) Attr(key, value string)            {}
func (r *recorder) Output() io.Writer                 { return io.Discard }
func (r *recorder) Context() context.Context          { return r.ctx }
func (r *recorder) Error(args ...any)                 { r.fail(fmt.Sprintln(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }
func (r *recorder) Fail()                             { r.fail("") }
func (r *recorder) FailNow()                          { r.Fail(); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *recorder) Skip(args ...any)                  { r.skip(fmt.Sprintln(args...)) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip(fmt.Sprintf(format, args...)) }
func (r *recorder) SkipNow()                          { r.skip("") }

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res.Failed
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res.Skipped
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// TempDir returns a new directory, removed by a cleanup.
func (r *recorder) TempDir() string {
	dir, err := os.MkdirTemp("", "casetest-")
	if err != nil {
		r.Fatalf("casetest: temp dir: %v", err)
	}
	r.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (r *recorder) ArtifactDir() string { return r.TempDir() }

// Setenv and Chdir change the whole process, which a recorded case must not
// do: they fail the case.
func (r *recorder) Setenv(key, value string) {
	r.Fatalf("casetest: Setenv(%q) is not available to recorded cases", key)
}

func (r *recorder) Chdir(dir string) {
	r.Fatalf("casetest: Chdir(%q) is not available to recorded cases", dir)
}
