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
	casetest.Run(t, Cases(), h)
}

// Failures runs every case against h without failing anything and returns,
// for each case that failed, its first failure messages. Skipped cases are
// not failures.
func Failures(h Harness) map[string]string {
	return casetest.Failures(Cases(), h)
}
