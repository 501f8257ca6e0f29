package peers_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/peers"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

// walTailTruncation is raft-wal v0.4.0's bug hashicorp/raft-wal#31, fixed
// upstream by #33 after that release: a tail truncation (DeleteRange of a
// suffix) marks the tail segment sealed in the meta database without writing
// the segment's index block, so after a reopen every read in that segment
// fails with "sealed segment has no index block". TestWALTailTruncationBug
// shows it on the bare WAL, without the adapter.
const walTailTruncation = "raft-wal v0.4.0 loses the index of a segment truncated at its tail " +
	"(hashicorp/raft-wal#31, fixed by #33 after v0.4.0): reads in it fail after a reopen"

// boltNoSync is bbolt's NoSync: pages are written in place with no ordering
// between them, so a power loss before the next sync can damage pages that
// were already durable, not only lose the unsynced change; Flush (a sync)
// cannot make up for that. Shown on lazyfs.
const boltNoSync = "bbolt with NoSync writes pages in place without ordering: a power loss " +
	"before the next sync can damage what an earlier Flush made durable"

// boltCorruption is what the corruption case finds in raft-boltdb: bbolt
// without checks of its own and values without checksums; the corruption
// table (internal/corrupttable) has the counts.
const boltCorruption = "raft-boltdb hands a damaged file to bbolt unchecked and keeps no checksums: a flipped byte of an entry is served, a cut file panics bbolt, " +
	"a damaged newest meta page brings the hard state saved before back, a deleted file is a new empty log"

// walCorruption is what the corruption case finds in raft-wal v0.4.0,
// besides its truncation defect (walTailTruncation): its meta database is
// bbolt, unchecked, and a damaged segment reads short.
const walCorruption = "raft-wal v0.4.0 loses the index of a segment truncated at its tail (hashicorp/raft-wal#31) on the case's history; " +
	"without a truncation, damaged segments read as fewer entries, and a damaged meta database panics or serves the hard state saved before"

func TestConformance(t *testing.T) {
	harnesses := []raftlogtest.Harness{
		{Name: peers.BoltDB, Open: peers.OpenBoltDB, KnownDifferences: map[string]string{"corruption": boltCorruption}},
		{Name: peers.BoltDB + "/no_sync", Open: func(o raftlog.Options) (raftlog.Engine, error) {
			o.Params = map[string]string{"no_sync": "true"}
			return peers.OpenBoltDB(o)
		}, KnownDifferences: map[string]string{"power_loss": boltNoSync, "corruption": boltCorruption}},
		{Name: peers.WAL, Open: peers.OpenWAL, KnownDifferences: map[string]string{
			"reopen_truncate_purge":     walTailTruncation,
			"truncate_repersist_reopen": walTailTruncation,
			"reopen_cycles":             walTailTruncation,
			"power_loss":                walTailTruncation,
			"corruption":                walCorruption,
		}},
	}
	for _, h := range harnesses {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			raftlogtest.Run(t, h)
		})
	}
}
