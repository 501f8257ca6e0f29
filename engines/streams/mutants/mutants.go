// Package mutants registers the acid store with each of its planted bugs
// (acid.Bugs) in the streams registry, under "mutant/<bug>", so that the
// conformance suite and jepsen-lite can be shown to catch them. Importing
// it registers them; jepsen-lite does, the bench does not.
package mutants

import (
	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
)

// Mutant is one planted-bug store.
type Mutant struct {
	// Name is its name in the streams registry.
	Name string
	// Bug says what it gets wrong.
	Bug string
	// Bugs is the bug planted in the acid store.
	Bugs acid.Bugs
	// SuiteOnly, when set, says why a jepsen-lite run cannot reach the
	// bug and which conformance case catches it instead.
	SuiteOnly string
}

// All lists the mutants, in a fixed order.
func All() []Mutant {
	return []Mutant{
		{Name: "mutant/producer-state-outside-txn", Bug: "keeps producer state in memory, not in the append's transaction", Bugs: acid.Bugs{ProducerStateOutsideTxn: true}},
		{Name: "mutant/fork-read-past-offset", Bug: "reads a fork's source past the fork offset", Bugs: acid.Bugs{ForkReadPastOffset: true}},
		{Name: "mutant/no-total-rollback", Bug: "keeps the total-bytes reservation of a failed append", Bugs: acid.Bugs{NoTotalRollback: true},
			SuiteOnly: "the jepsen-lite workload opens the store without byte limits; streamstest's limits/total and limits/stream catch it"},
		{Name: "mutant/keep-expired-bytes", Bug: "keeps an expired stream's bytes counted against the total limit until a restart", Bugs: acid.Bugs{KeepExpiredBytes: true},
			SuiteOnly: "the jepsen-lite workload sets no TTL or byte limit; streamstest's expiry/frees-bytes catches it"},
		{Name: "mutant/fixed-ttl", Bug: "a stream's TTL does not slide on appends, closes and touches", Bugs: acid.Bugs{FixedTTL: true},
			SuiteOnly: "the jepsen-lite workload sets no TTL; streamstest's expiry/sliding catches it"},
		{Name: "mutant/skip-layout-check", Bug: "opens a directory whatever its layout manifest says", Bugs: acid.Bugs{SkipLayoutCheck: true},
			SuiteOnly: "a run never reopens a store with another shard count; streamstest's layout/mismatch catches it"},
	}
}

// Open opens the acid store with m's bug.
func (m Mutant) Open(o streams.Options) (streams.Store, error) { return acid.OpenWithBugs(o, m.Bugs) }

func init() {
	for _, m := range All() {
		streams.Register(m.Name, m.Open)
	}
}
