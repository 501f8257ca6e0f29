// Package mutants is a catalog of planted-bug tiered-storage
// implementations, each a reference implementation with one known defect,
// registered as "mutant/<name>" with the registry of its SPI, so that the
// conformance suite and the tools can be shown to catch every one.
package mutants

import (
	"maps"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/durable"
	"github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	"github.com/ordeal-dev/ordeal/engines/tiered/memory"
)

// Prefix starts every mutant's registered name.
const Prefix = "mutant/"

// Mutant is one planted-bug implementation of one of the two SPIs: exactly
// one of OpenRSM and OpenRLMM is set.
type Mutant struct {
	// Name is the registered name ("mutant/rsm-copy-without-fsync").
	Name string
	// Bug says what the implementation gets wrong.
	Bug      string
	OpenRSM  func(tiered.Options) (tiered.RemoteStorageManager, error)
	OpenRLMM func(tiered.Options) (tiered.RemoteLogMetadataManager, error)
	// Params are parameters the mutant needs for its bug to show (a small
	// compaction threshold); the registered opener applies them unless the
	// caller sets them.
	Params map[string]string
}

func rsm(b localfs.Bugs) func(tiered.Options) (tiered.RemoteStorageManager, error) {
	return func(o tiered.Options) (tiered.RemoteStorageManager, error) { return localfs.OpenWithBugs(o, b) }
}

func mem(b memory.Bugs) func(tiered.Options) (tiered.RemoteLogMetadataManager, error) {
	return func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return memory.OpenWithBugs(o, b) }
}

func dur(b durable.Bugs) func(tiered.Options) (tiered.RemoteLogMetadataManager, error) {
	return func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return durable.OpenWithBugs(o, b) }
}

var catalog = []Mutant{
	{
		Name:    Prefix + "rsm-copy-without-fsync",
		Bug:     "localfs renames a copied segment into place without syncing its data, so a segment recorded COPY_SEGMENT_FINISHED may be lost or torn by a power loss",
		OpenRSM: rsm(localfs.Bugs{SkipDataSync: true}),
	},
	{
		Name:    Prefix + "rsm-rename-before-fsync",
		Bug:     "localfs renames a copied segment into place and syncs the directory before syncing its data, so a crash during the copy can leave a torn segment visible",
		OpenRSM: rsm(localfs.Bugs{RenameBeforeSync: true}),
	},
	{
		Name:     Prefix + "rlmm-accept-illegal-transition",
		Bug:      "memory accepts every segment and partition-delete state change, valid or not",
		OpenRLMM: mem(memory.Bugs{AcceptIllegalTransition: true}),
	},
	{
		Name:     Prefix + "rlmm-serve-copying",
		Bug:      "memory lets lookups return a segment still in COPY_SEGMENT_STARTED",
		OpenRLMM: mem(memory.Bugs{ServeCopying: true}),
	},
	{
		Name:     Prefix + "rlmm-drop-last-record",
		Bug:      "durable leaves the last record of its metadata log out of the replay at open",
		OpenRLMM: dur(durable.Bugs{DropLastRecord: true}),
	},
	{
		Name:     Prefix + "rlmm-compact-without-dir-sync",
		Bug:      "durable renames a compacted log over the old one without syncing the directory, so changes appended after a compaction can vanish in a power loss",
		OpenRLMM: dur(durable.Bugs{SkipCompactionDirSync: true}),
		Params:   map[string]string{durable.ParamCompactMin: "512"},
	},
}

func init() {
	for _, m := range catalog {
		if m.OpenRSM != nil {
			open := m.OpenRSM
			tiered.RegisterRSM(m.Name, func(o tiered.Options) (tiered.RemoteStorageManager, error) { return open(m.withParams(o)) })
		} else {
			open := m.OpenRLMM
			tiered.RegisterRLMM(m.Name, func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return open(m.withParams(o)) })
		}
	}
}

// withParams returns o with the mutant's parameters added where o sets
// none.
func (m Mutant) withParams(o tiered.Options) tiered.Options {
	if len(m.Params) == 0 {
		return o
	}
	p := maps.Clone(m.Params)
	maps.Copy(p, o.Params)
	o.Params = p
	return o
}

// List returns the catalog, in a fixed order.
func List() []Mutant { return append([]Mutant(nil), catalog...) }
