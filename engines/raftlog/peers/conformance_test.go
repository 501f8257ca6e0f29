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

func TestConformance(t *testing.T) {
	harnesses := []raftlogtest.Harness{
		{Name: peers.BoltDB, Open: peers.OpenBoltDB},
		{Name: peers.BoltDB + "/no_sync", Open: func(o raftlog.Options) (raftlog.Engine, error) {
			o.Params = map[string]string{"no_sync": "true"}
			return peers.OpenBoltDB(o)
		}},
		{Name: peers.WAL, Open: peers.OpenWAL, KnownDifferences: map[string]string{
			"reopen_truncate_purge":     walTailTruncation,
			"truncate_repersist_reopen": walTailTruncation,
			"reopen_cycles":             walTailTruncation,
		}},
	}
	for _, h := range harnesses {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			raftlogtest.Run(t, h)
		})
	}
}
