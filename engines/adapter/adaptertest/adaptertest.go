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
// crash/corruption writes a history to a directory of the operating
// system's, closes the engine cleanly, damages one file with a
// faults.Corruption, reopens the engine in a child process and reads
// everything back: it must answer adapter.ErrCorrupt or correct data,
// never other data, a record lost or deleted records back, and never crash
// or hang (package internal/corruptcase).
//
// An engine that writes through the operating system rather than
// Options.FS (a server embedded as a library, say) sets Harness.RealDir:
// each case then opens it in a fresh directory of the real file system, and
// the crash cases, which need Options.FS, skip saying so. An engine that
// differs from the contract on purpose, or a third party's engine whose
// semantics are not ours to change, lists the cases it fails in
// Harness.KnownDifferences with the reason: those cases still run and must
// fail; one that starts passing fails the test, so the entry is removed.
//
// Failures runs the same cases on an engine and reports which ones failed
// instead of failing the test: it is how tests prove that planted bugs are
// caught. It ignores KnownDifferences: every case runs against the plain
// contract.
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
	// RealDir opens the engine with a nil Options.FS in a new directory of
	// the real file system (t.TempDir) per case, reopening it in the same
	// one, for engines that write through the operating system and reject
	// any other FS. The crash cases skip: power loss and fsync failure
	// reach such an engine only from outside its process (lazyfs).
	RealDir bool
	// KnownDifferences maps a case name to why the engine differs from the
	// contract there. Run still runs the case and expects it to fail; a
	// listed case that passes, or a name that is no case, fails the test.
	KnownDifferences map[string]string
}

// Case is one check of the suite.
type Case struct {
	Name string
	Run  func(t testing.TB, h Harness)
}

// Cases lists every check, in the order Run runs them.
func Cases() []Case { return cases }

// Run runs every case as a subtest of t; the cases in h.KnownDifferences
// must fail.
func Run(t *testing.T, h Harness) {
	t.Helper()
	casetest.RunKnown(t, Cases(), h, h.KnownDifferences)
}

// Failures runs every case against h without failing anything and returns,
// for each case that failed, its failure messages joined with "; ". Skipped
// cases are not failures.
func Failures(h Harness) map[string]string {
	return casetest.Failures(Cases(), h)
}
