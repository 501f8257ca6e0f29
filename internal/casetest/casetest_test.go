package casetest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestRecord(t *testing.T) {
	tests := []struct {
		name    string
		run     func(t testing.TB, h int)
		failed  bool
		skipped bool
		msgs    []string
		skipMsg string
	}{
		{name: "pass", run: func(t testing.TB, h int) {}},
		{name: "error", run: func(t testing.TB, h int) {
			t.Error("got", h)
			t.Errorf("want %d", h+1)
		}, failed: true, msgs: []string{"got 7", "want 8"}},
		{name: "fail_without_message", run: func(t testing.TB, h int) { t.Fail() }, failed: true},
		{name: "fatal_stops", run: func(t testing.TB, h int) {
			t.Fatalf("fatal %d", h)
			t.Error("after Fatal")
		}, failed: true, msgs: []string{"fatal 7"}},
		{name: "failnow_stops", run: func(t testing.TB, h int) {
			t.FailNow()
			t.Error("after FailNow")
		}, failed: true},
		{name: "panic", run: func(t testing.TB, h int) { panic("boom") }, failed: true, msgs: []string{"panic: boom"}},
		{name: "skip", run: func(t testing.TB, h int) {
			t.Skip("not", "here")
			t.Error("after Skip")
		}, skipped: true, skipMsg: "not here"},
		{name: "skipnow", run: func(t testing.TB, h int) {
			t.SkipNow()
			t.Error("after SkipNow")
		}, skipped: true},
		{name: "panic_in_cleanup", run: func(t testing.TB, h int) {
			t.Cleanup(func() { panic("late") })
		}, failed: true, msgs: []string{"panic in cleanup: late"}},
		{name: "fatal_in_cleanup", run: func(t testing.TB, h int) {
			t.Cleanup(func() { t.Error("second"); t.FailNow(); t.Error("unreached") })
			t.Cleanup(func() { t.Fatal("first") })
		}, failed: true, msgs: []string{"first", "second"}},
		{name: "setenv_refused", run: func(t testing.TB, h int) {
			t.Setenv("CASETEST_X", "1")
		}, failed: true, msgs: []string{`casetest: Setenv("CASETEST_X") is not available to recorded cases`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Record(Case[int]{Name: tc.name, Run: tc.run}, 7)
			if r.Failed != tc.failed || r.Skipped != tc.skipped {
				t.Errorf("failed %v skipped %v; want %v, %v", r.Failed, r.Skipped, tc.failed, tc.skipped)
			}
			if got, want := fmt.Sprintf("%q", r.Msgs), fmt.Sprintf("%q", tc.msgs); got != want {
				t.Errorf("messages %s, want %s", got, want)
			}
			if r.SkipMsg != tc.skipMsg {
				t.Errorf("skip message %q, want %q", r.SkipMsg, tc.skipMsg)
			}
		})
	}
}

func TestRecordCleanupOrderAndContext(t *testing.T) {
	var order []string
	var dir string
	r := Record(Case[string]{Name: "probe", Run: func(t testing.TB, h string) {
		if t.Name() != "probe" {
			t.Errorf("Name() = %q", t.Name())
		}
		dir = t.TempDir()
		ctx := t.Context()
		t.Cleanup(func() {
			order = append(order, "first")
			if ctx.Err() == nil {
				order = append(order, "context still live")
			}
		})
		t.Cleanup(func() {
			order = append(order, "second")
			t.Cleanup(func() { order = append(order, "registered by second") })
		})
		order = append(order, h)
	}}, "body")
	if r.Failed || r.Skipped {
		t.Fatalf("failed %v skipped %v: %s", r.Failed, r.Skipped, r)
	}
	if got, want := strings.Join(order, ", "), "body, second, registered by second, first"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("TempDir %s after the case: %v, want it removed", dir, err)
	}
}

func TestResultString(t *testing.T) {
	for _, tc := range []struct {
		r          Result
		str, first string
	}{
		{Result{}, "", ""},
		{Result{Failed: true}, "failed", ""},
		{Result{Failed: true, Msgs: []string{"a", "b"}}, "a; b", "a"},
	} {
		if got := tc.r.String(); got != tc.str {
			t.Errorf("%+v.String() = %q, want %q", tc.r, got, tc.str)
		}
		if got := tc.r.First(); got != tc.first {
			t.Errorf("%+v.First() = %q, want %q", tc.r, got, tc.first)
		}
	}
}

// ownCase stands for a suite's exported case type, laid out as Case.
type ownCase struct {
	Name string
	Run  func(t testing.TB, h int)
}

func TestFailures(t *testing.T) {
	cases := []ownCase{
		{"pass", func(t testing.TB, h int) {}},
		{"skip", func(t testing.TB, h int) { t.Skip("no") }},
		{"fail", func(t testing.TB, h int) { t.Errorf("h=%d", h); t.Error("again") }},
		{"fail_now", func(t testing.TB, h int) { t.FailNow() }},
		{"panic", func(t testing.TB, h int) { panic(h) }},
	}
	got := fmt.Sprint(Failures(cases, 3))
	if want := "map[fail:h=3; again fail_now:failed panic:panic: 3]"; got != want {
		t.Errorf("Failures = %s, want %s", got, want)
	}
}

func TestRunNamesSubtests(t *testing.T) {
	var ran []string
	cases := []Case[string]{
		{Name: "one", Run: func(t testing.TB, h string) { ran = append(ran, t.Name()+"="+h) }},
		{Name: "two", Run: func(t testing.TB, h string) { ran = append(ran, t.Name()+"="+h) }},
	}
	Run(t, cases, "h")
	want := t.Name() + "/one=h, " + t.Name() + "/two=h"
	if got := strings.Join(ran, ", "); got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
}

func TestJudgeKnown(t *testing.T) {
	tests := []struct {
		name    string
		r       Result
		failed  bool
		skipped bool
		msg     string
	}{
		{name: "fails_as_expected", r: Result{Failed: true, Msgs: []string{"offset 3, want 4"}}},
		{name: "skips", r: Result{Skipped: true, SkipMsg: "no FS"}, skipped: true},
		{name: "passes", r: Result{}, failed: true,
			msg: "case c passes but is listed as a known difference (why): remove it from the known differences"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Record(Case[Result]{Name: "judge", Run: func(t testing.TB, r Result) { judgeKnown(t, "c", "why", r) }}, tc.r)
			if got.Failed != tc.failed || got.Skipped != tc.skipped {
				t.Fatalf("failed %v skipped %v; want %v, %v (%s)", got.Failed, got.Skipped, tc.failed, tc.skipped, got.String())
			}
			if tc.msg != "" && got.First() != tc.msg {
				t.Errorf("message %q, want %q", got.First(), tc.msg)
			}
		})
	}
}

func TestUnknownNames(t *testing.T) {
	got := unknownNames([]string{"a", "b"}, map[string]string{"b": "x", "zz": "y", "c": "z"})
	if fmt.Sprint(got) != "[c zz]" {
		t.Fatalf("unknown names %v, want [c zz]", got)
	}
}

// TestRunKnown lists the failing case of a suite as a known difference:
// RunKnown then passes, and runs the other cases as subtests.
func TestRunKnown(t *testing.T) {
	ran := false
	cases := []Case[int]{
		{Name: "differs", Run: func(t testing.TB, h int) { t.Errorf("got %d", h) }},
		{Name: "conforms", Run: func(t testing.TB, h int) { ran = true }},
	}
	RunKnown(t, cases, 3, map[string]string{"differs": "the engine counts from 3"})
	if !ran {
		t.Fatal("the case not listed did not run")
	}
}
