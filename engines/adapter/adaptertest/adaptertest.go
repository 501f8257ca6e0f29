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
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/internal/casetest"
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
	// MetaFiles lists the patterns (path.Match, separated by '|') of the
	// files that hold the engine's metadata, which the corruption case
	// damages in their first 8 KiB; empty means DefaultMetaFiles.
	MetaFiles string
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
	casetest.Run(t, Cases(), h)
}

// Failures runs every case against h without failing anything and returns,
// for each case that failed, its failure messages joined with "; ". Skipped
// cases are not failures.
func Failures(h Harness) map[string]string {
	return casetest.Failures(Cases(), h)
}
