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
// expiry on a controlled clock (which frees the stream's bytes at once),
// forks (reads that stop at the fork offset,
// chains three deep, tombstones, cascading deletes), both byte limits with
// their rollback after every kind of refused append, concurrent appenders,
// and, as the Capabilities declare, durability across a reopen, the
// validation of the data directory's layout, and damaged files:
// durability/corruption writes a history, closes the store cleanly,
// damages one file with a faults.Corruption, reopens the store in a child
// process and reads everything back; it must answer streams.ErrCorrupt or
// correct data, never other bytes, messages lost, a deleted stream back, a
// crash or a hang (package internal/corruptcase).
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
	"sort"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/internal/casetest"
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
	// MetaFiles lists the patterns (path.Match, separated by '|') of the
	// files that hold the store's metadata, which the corruption case
	// damages in their first 8 KiB; empty means DefaultMetaFiles.
	MetaFiles string
	// KnownDifferences maps a case name to why the implementation cannot
	// meet it (a store reached through a protocol that does not carry
	// what the case checks). Those cases still run and must fail; one that
	// passes fails the test so the entry is removed.
	KnownDifferences map[string]string
}

// Case is one check of the suite. Its name is stable: Failures and the
// mutant tests refer to it.
type Case struct {
	Name string
	Run  func(t testing.TB, h Harness)
}

// Cases lists every check, in the order Run runs them.
func Cases() []Case { return append([]Case(nil), cases...) }

// Run runs every case as a subtest of t. Cases listed in
// h.KnownDifferences must fail (or skip); one that passes fails the test.
func Run(t *testing.T, h Harness) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range cases {
		names[c.Name] = true
	}
	var unknown []string
	for name := range h.KnownDifferences {
		if !names[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		t.Errorf("streamstest: KnownDifferences names %q, which is not a case", name)
	}
	for _, c := range cases {
		why, known := h.KnownDifferences[c.Name]
		if !known {
			t.Run(c.Name, func(t *testing.T) { c.Run(t, h) })
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			r := casetest.Record(casetest.Case[Harness](c), h)
			switch {
			case r.Skipped:
				t.Skipf("known difference (%s); the case skipped: %s", why, r.SkipMsg)
			case r.Failed:
				t.Logf("known difference (%s); failed as expected: %s", why, strings.TrimSpace(r.First()))
			default:
				t.Errorf("case %s passes on %s but is listed as a known difference (%s): remove it from KnownDifferences", c.Name, h.Name, why)
			}
		})
	}
}

// Failures runs every case against h without failing anything and returns,
// for each case that failed, its first failure messages. Skipped cases are
// not failures.
func Failures(h Harness) map[string]string {
	return casetest.Failures(Cases(), h)
}
