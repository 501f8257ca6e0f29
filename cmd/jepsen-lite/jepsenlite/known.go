package jepsenlite

// KnownFinding is a defect found in an engine nobody here wrote: its
// evidence and an upstream-ready report are kept in the repository, and
// the campaign still runs its cell, which passes while the finding shows
// and fails once the peer's behaviour changes (then the finding must be
// looked at again).
type KnownFinding struct {
	// ID names the finding.
	ID string
	// Engine and Nemesis name the cell that shows it.
	Engine, Nemesis string
	// Summary says what goes wrong, in a line.
	Summary string
	// Report is where the report and evidence are kept, relative to the
	// repository's root.
	Report string
}

// KnownFindings are the findings in peers that the campaign expects.
var KnownFindings = []KnownFinding{
	{
		ID:      "raft-wal-unsynced-tail",
		Engine:  "raftlog/raft-wal",
		Nemesis: "fsync",
		Summary: "recovery keeps a tail batch whose fsync failed (read back from the page cache); a later power loss loses entries acknowledged after it or leaves a sealed segment Open refuses (failed to read header: EOF)",
		Report:  "engines/raftlog/peers/findings/raft-wal-unsynced-tail.md",
	},
}

func lookupKnown(engine, nemesis string) (KnownFinding, bool) {
	for _, k := range KnownFindings {
		if k.Engine == engine && k.Nemesis == nemesis {
			return k, true
		}
	}
	return KnownFinding{}, false
}
