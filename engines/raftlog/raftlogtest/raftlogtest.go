package raftlogtest

import (
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/internal/casetest"
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
	// MetaFiles lists the patterns (path.Match, separated by '|') of the
	// files that hold the engine's metadata, which the corruption case
	// damages in their first 8 KiB; empty means DefaultMetaFiles.
	MetaFiles string
	// NoTruncation leaves the tail truncation out of the corruption case's
	// history, for an engine whose truncation is known to be broken
	// (raft-wal v0.4.0, hashicorp/raft-wal#31), so that its handling of
	// damage shows apart from that defect.
	NoTruncation bool
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
			r := runRecordedIn(t, c, &suite{h: h, keep: false, test: s.test})
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

// recorded is what runRecorded saw a case do.
type recorded struct {
	failed, skipped bool
	first, skipMsg  string
	msgs            []string // every failure message, in order
}

// runRecorded runs c on a recording testing.TB, in its own goroutine so that
// FailNow and SkipNow can end it with runtime.Goexit, then runs its cleanups.
func runRecorded(c testCase, s *suite) recorded {
	return recordedOf(casetest.Record(casetest.Case[*suite]{Name: c.name, Run: c.run}, s))
}

// runRecordedIn is runRecorded for a case recorded as t, its subtest: a
// case that checks in a child process re-runs t.
func runRecordedIn(t *testing.T, c testCase, s *suite) recorded {
	return recordedOf(casetest.RecordIn(t, casetest.Case[*suite]{Name: c.name, Run: c.run}, s))
}

func recordedOf(r casetest.Result) recorded {
	return recorded{failed: r.Failed, skipped: r.Skipped, first: r.First(), skipMsg: r.SkipMsg, msgs: r.Msgs}
}
