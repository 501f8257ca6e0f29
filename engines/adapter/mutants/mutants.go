// Package mutants registers the segment engine with each of its planted
// bugs (segment.Bugs) in the adapter registry, under "mutant/<bug>", so that
// the conformance suite and jepsen-lite can be shown to catch them.
// Importing it registers them; jepsen-lite does, the bench does not.
package mutants

import (
	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/segment"
)

// Mutant is one planted-bug engine.
type Mutant struct {
	// Name is its storage type in the adapter registry.
	Name string
	// Bug says what it gets wrong.
	Bug string
	// Bugs is the bug planted in the segment engine.
	Bugs segment.Bugs
	// SuiteBlind, when set, says why the conformance suite cannot see the
	// bug and what catches it instead.
	SuiteBlind string
}

// All lists the mutants, in a fixed order.
func All() []Mutant {
	return []Mutant{
		{"mutant/reuse-offsets", "hands out the offset of a deleted last record again", segment.Bugs{ReuseOffsets: true}, ""},
		{"mutant/forget-tags", "the tag index is not persisted: tag reads after a reopen find nothing", segment.Bugs{ForgetTags: true}, ""},
		{"mutant/ack-before-sync", "acknowledges writes before they are synced", segment.Bugs{AckBeforeSync: true}, ""},
		{"mutant/serve-deleted-keys", "ReadByKey returns records deleted by key", segment.Bugs{ServeDeletedKeys: true}, ""},
		{"mutant/retry-sync-after-eio", "retries a failed sync and carries on without the lost data", segment.Bugs{RetrySyncAfterEIO: true}, ""},
		{"mutant/trust-page-cache", "builds on the last segment as read at open, which after a failed fsync may be in the page cache only", segment.Bugs{TrustPageCache: true},
			"the suite's in-memory disk drops what a failed fsync lost; jepsen-lite's fsync on lazyfs, whose page cache keeps it readable, catches it (cmd/jepsen-lite/jepsenlite TestAdapterTrustPageCache)"},
	}
}

// Open opens the segment engine with m's bug.
func (m Mutant) Open(o adapter.Options) (adapter.StorageAdapter, error) {
	return segment.OpenWithBugs(o, m.Bugs)
}

func init() {
	for _, m := range All() {
		adapter.Register(m.Name, m.Open)
	}
}
