// Package mutants is a catalog of planted-bug raftlog engines: the file
// engine with one known defect each, and the bbolt engine with syncing off
// while it claims SyncOnWrite, registered with raftlog under
// "mutant/<name>" so that jepsen-lite and the conformance suite can be
// shown to catch every one of them. The bbolt mutant writes around
// Options.FS, so only a crash of its mount (jepsen-lite on lazyfs) can
// catch it.
//
// A mutant uses small segments unless told otherwise (parameter
// segment_size), so that short runs cross many segment boundaries: 4 KiB,
// or 64 KiB and preallocated for the torn-record mutant, whose records must
// straddle a 4 KiB block inside the file's length for a power loss to tear
// them (a dropped block then reads as zeros).
package mutants

import (
	"maps"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	"github.com/ordeal-dev/ordeal/engines/raftlog/file"
)

// Prefix starts every mutant's registered name.
const Prefix = "mutant/"

// DefaultSegmentSize is the segment size of a mutant opened without one,
// unless the mutant names its own.
const DefaultSegmentSize = "4KiB"

// Mutant is one planted-bug engine.
type Mutant struct {
	// Name is the registered engine name ("mutant/ack-before-fsync").
	Name string
	// Bug says what the engine gets wrong.
	Bug string
	// Bugs is the defect planted in the file engine.
	Bugs file.Bugs
	// Defaults are parameters the mutant is opened with unless the caller
	// sets them.
	Defaults map[string]string
	// Engine is the engine the bug is planted in: file.Name when empty,
	// or bbolt.Name.
	Engine string
	// Target is the jepsen-lite target that exposes the bug, when the
	// default one cannot ("lazyfs": the page cache keeps data a failed
	// fsync never wrote, which only a real kernel-side cache shows).
	Target string
}

var catalog = []Mutant{
	{Prefix + "ack-before-fsync", "acknowledges appends without syncing the segment", file.Bugs{SkipSync: true}, nil, "", ""},
	{Prefix + "retry-fsync-after-eio", "after a failed fsync, syncs again and acknowledges", file.Bugs{RetrySyncAfterError: true}, nil, "", ""},
	{Prefix + "forget-purge-boundary", "does not persist the purge boundary; reopen derives it from the segments", file.Bugs{ForgetPurgeBoundary: true}, nil, "", ""},
	{Prefix + "no-dir-fsync", "does not sync the directory after creating or removing a segment", file.Bugs{SkipDirSync: true}, nil, "", ""},
	{Prefix + "volatile-truncate", "applies Truncate in memory only", file.Bugs{VolatileTruncate: true}, nil, "", ""},
	{Prefix + "accept-torn-record", "recovery keeps a torn tail record whose checksum fails", file.Bugs{AcceptTornRecord: true}, map[string]string{file.ParamSegmentSize: "64KiB", file.ParamPreallocate: "on"}, "", ""},
	{Prefix + "stale-last-index", "caches LastIndex and does not update it on Truncate", file.Bugs{StaleLastIndex: true}, nil, "", ""},
	{Prefix + "trust-page-cache", "recovery builds on what it reads after a failed fsync without writing it back", file.Bugs{TrustPageCache: true}, nil, "", "lazyfs"},
	{Prefix + "bbolt-nosync-claims-sync", "bbolt with syncing off (nosync) that declares SyncOnWrite", file.Bugs{}, map[string]string{"nosync": "true"}, bbolt.Name, ""},
}

func init() {
	for _, m := range catalog {
		raftlog.Register(m.Name, m.Open)
	}
}

// List returns the catalog, in a fixed order.
func List() []Mutant { return append([]Mutant(nil), catalog...) }

// Open opens the mutant engine.
func (m Mutant) Open(o raftlog.Options) (raftlog.Engine, error) {
	p := map[string]string{}
	if m.Engine == "" {
		p[file.ParamSegmentSize] = DefaultSegmentSize
	}
	maps.Copy(p, m.Defaults)
	maps.Copy(p, o.Params)
	o.Params = p
	if m.Engine == bbolt.Name {
		e, err := bbolt.Open(o)
		if err != nil {
			return nil, err
		}
		return claimsSync{e}, nil
	}
	return file.OpenWithBugs(o, m.Bugs)
}

// claimsSync is an engine that declares SyncOnWrite whatever it does.
type claimsSync struct{ raftlog.Engine }

// Capabilities declares SyncOnWrite.
func (c claimsSync) Capabilities() raftlog.Capabilities {
	caps := c.Engine.Capabilities()
	caps.SyncOnWrite = true
	return caps
}
