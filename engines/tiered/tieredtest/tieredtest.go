// Package tieredtest is the conformance suite for tiered storage. Any
// implementation of tiered.RemoteStorageManager or
// tiered.RemoteLogMetadataManager runs it from its own go test:
//
//	func TestConformance(t *testing.T) {
//		tieredtest.Run(t, tieredtest.Harness{Name: "mine", OpenRLMM: mine.OpenRLMM})
//	}
//
// The RLMM cases check every segment and partition-delete transition
// (valid and invalid), visibility, lookups at epoch boundaries, unknown
// epochs, offsets past an epoch's end, overlapping segments after a leader
// change, lists and sizes, assignment and partition deletion, and, as the
// Capabilities declare, durability across a reopen, a power loss during
// concurrent changes (faults.PowerLoss on a crashable MemFS), a power loss
// before each sync of a history in turn, and a failed fsync. The RSM cases
// check copies and fetches, byte ranges, a missing transaction index or
// producer snapshot index, idempotent copy and delete, and the same durability, with a power loss
// before each sync of a copy. When a harness gives both, a joint case
// checks that a segment recorded as finished can be fetched after a power
// loss. rlmm/corruption and rsm/corruption write a history to a directory
// of the operating system's, close cleanly, damage one file with a
// faults.Corruption, reopen in a child process and read everything back:
// the answer must be tiered.ErrCorrupt or correct data, never a segment
// lost or back at an earlier state, deleted data back, other bytes, a
// crash or a hang (package internal/corruptcase).
//
// Failures runs the same cases on an implementation and reports which ones
// failed instead of failing the test: it is how tests prove that planted
// bugs are caught.
package tieredtest

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/internal/casetest"
)

// Harness describes the implementations under test. Either Open function
// may be nil; the cases of that SPI are then skipped.
type Harness struct {
	// Name labels the implementations in messages.
	Name string
	// OpenRSM opens, or reopens after a close or a crash, the storage
	// manager. The suite sets Dir and FS (a crashable in-memory file system)
	// and passes Params.
	OpenRSM func(tiered.Options) (tiered.RemoteStorageManager, error)
	// OpenRLMM opens, or reopens, the metadata manager, as OpenRSM.
	OpenRLMM func(tiered.Options) (tiered.RemoteLogMetadataManager, error)
	// RSMParams and RLMMParams are passed to OpenRSM and OpenRLMM in
	// Options.Params.
	RSMParams  map[string]string
	RLMMParams map[string]string
	// MetaFiles lists the patterns (path.Match, separated by '|') of the
	// files that hold metadata, which the corruption cases damage in their
	// first 8 KiB; empty means DefaultMetaFiles.
	MetaFiles string
}

// Case is one check of the suite. Its name is stable: Failures and the
// mutant tests refer to it.
type Case struct {
	Name string
	Run  func(t testing.TB, h Harness)
}

// Cases lists every check, in the order Run runs them.
func Cases() []Case {
	out := append([]Case(nil), rlmmCases...)
	out = append(out, rsmCases...)
	return append(out, jointCases...)
}

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
