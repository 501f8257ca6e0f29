package corrupttable_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/jetstream"
	"github.com/ordeal-dev/ordeal/engines/adapter/manager"
	adapterpebble "github.com/ordeal-dev/ordeal/engines/adapter/pebble"
	"github.com/ordeal-dev/ordeal/engines/adapter/segment"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
	raftbbolt "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	raftfile "github.com/ordeal-dev/ordeal/engines/raftlog/file"
	raftpebble "github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
	"github.com/ordeal-dev/ordeal/engines/raftlog/peers"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/engines/streams/streamstest"
	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/durable"
	"github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
	"github.com/ordeal-dev/ordeal/internal/corruptcase"
	"github.com/ordeal-dev/ordeal/internal/corrupttable"
)

// TestTable runs the corruption case's trials, 20 seeds per column, on
// every reference engine that keeps files and on the peers (raft-wal,
// raft-boltdb, JetStream), and prints the table. It takes tens of minutes: ORDEAL_LONG=1 only.
func TestTable(t *testing.T) {
	if !corruptcase.Long() {
		t.Skip("the corruption table runs with ORDEAL_LONG=1")
	}
	seeds := 20
	if v := os.Getenv("ORDEAL_CORRUPT_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ORDEAL_CORRUPT_SEEDS=%q is not a count", v)
		}
		seeds = n
	}
	trials := corruptcase.Trials(seeds)
	var (
		mu   sync.Mutex
		rows []corrupttable.Row
	)
	add := func(engine string, rs []corruptcase.Result) {
		if rs == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, corrupttable.Row{Engine: engine, Results: rs})
	}
	for _, r := range raftlogRows() {
		t.Run("raftlog/"+r.Name, func(t *testing.T) { add("raftlog/"+r.Name, raftlogtest.Corruption(t, r, trials)) })
	}
	for _, r := range adapterRows() {
		t.Run("adapter/"+r.Name, func(t *testing.T) { add("adapter/"+r.Name, adaptertest.Corruption(t, r, trials)) })
	}
	t.Run("tiered/localfs", func(t *testing.T) {
		_, rsm := tieredtest.Corruption(t, tieredtest.Harness{Name: "localfs", OpenRSM: func(o tiered.Options) (tiered.RemoteStorageManager, error) { return localfs.Open(o) }}, trials)
		add("tiered/localfs (RSM)", rsm)
	})
	t.Run("tiered/durable", func(t *testing.T) {
		rlmm, _ := tieredtest.Corruption(t, tieredtest.Harness{Name: "durable", OpenRLMM: func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return durable.Open(o) }}, trials)
		add("tiered/durable (RLMM)", rlmm)
	})
	t.Run("streams/acid", func(t *testing.T) {
		add("streams/acid", streamstest.Corruption(t, streamstest.Harness{Name: "acid", Open: func(o streams.Options) (streams.Store, error) { return acid.Open(o) }}, trials))
	})
	if corruptcase.InChild() {
		return
	}
	table := fmt.Sprintf("Corruption table: %d seeds per cell; a store written, closed cleanly, one file damaged, reopened and read back.\n\n%s\nTrials that did not pass:\n\n%s",
		seeds, corrupttable.Markdown(rows), corrupttable.Failures(rows))
	t.Log("\n" + table)
	if path := os.Getenv("ORDEAL_CORRUPT_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func raftlogRows() []raftlogtest.Harness {
	params := func(open func(raftlog.Options) (raftlog.Engine, error), p map[string]string) func(raftlog.Options) (raftlog.Engine, error) {
		return func(o raftlog.Options) (raftlog.Engine, error) {
			o.Params = p
			return open(o)
		}
	}
	return []raftlogtest.Harness{
		{Name: "file", Open: func(o raftlog.Options) (raftlog.Engine, error) { return raftfile.Open(o) }},
		{Name: "file/segment_size=256KiB", Open: params(func(o raftlog.Options) (raftlog.Engine, error) { return raftfile.Open(o) }, map[string]string{raftfile.ParamSegmentSize: "256KiB"})},
		{Name: "pebble", Open: func(o raftlog.Options) (raftlog.Engine, error) { return raftpebble.Open(o) }},
		{Name: "bbolt", Open: func(o raftlog.Options) (raftlog.Engine, error) { return raftbbolt.Open(o) }},
		{Name: peers.WAL, Open: peers.OpenWAL},
		{Name: peers.WAL + " (history without truncation)", Open: peers.OpenWAL, NoTruncation: true},
		{Name: peers.BoltDB, Open: peers.OpenBoltDB},
	}
}

func adapterRows() []adaptertest.Harness {
	return []adaptertest.Harness{
		{Name: "pebble", Open: func(o adapter.Options) (adapter.StorageAdapter, error) { return adapterpebble.Open(o) }, StorageTypes: []string{adapterpebble.StorageType}},
		{Name: "segment", Open: func(o adapter.Options) (adapter.StorageAdapter, error) { return segment.Open(o) }, StorageTypes: []string{segment.StorageType}},
		{Name: "segment/segment_size=64KiB", Open: func(o adapter.Options) (adapter.StorageAdapter, error) { return segment.Open(o) },
			StorageTypes: []string{segment.StorageType}, Params: map[string]string{"segment_size": "65536"}},
		{Name: "manager(segment,pebble)", Open: func(o adapter.Options) (adapter.StorageAdapter, error) { return manager.Open(o) },
			StorageTypes: []string{"segment", "pebble"}, Params: map[string]string{"storage_types": "segment,pebble", "segment.segment_size": "65536"}},
		{Name: jetstream.StorageType, Open: func(o adapter.Options) (adapter.StorageAdapter, error) {
			return jetstream.OpenAs(jetstream.StorageType, o)
		},
			StorageTypes: []string{jetstream.StorageType}, MetaFiles: "meta.inf|meta.sum|index.db"},
		{Name: jetstream.SyncAlways, Open: func(o adapter.Options) (adapter.StorageAdapter, error) {
			return jetstream.OpenAs(jetstream.SyncAlways, o)
		},
			StorageTypes: []string{jetstream.SyncAlways}, MetaFiles: "meta.inf|meta.sum|index.db",
			Params: map[string]string{jetstream.ParamMaxPayload: "4194304", jetstream.ParamMaxBatch: "2000"}},
	}
}

func TestCellFormat(t *testing.T) {
	c := corrupttable.Cell{corruptcase.Detected: 17, corruptcase.Crashed: 3}
	if got, want := c.String(), "**3 crash**, 17 corrupt"; got != want {
		t.Errorf("cell %q, want %q", got, want)
	}
	if c.Passes() || !(corrupttable.Cell{corruptcase.Correct: 2, corruptcase.Detected: 1}).Passes() || (corrupttable.Cell{}).Passes() {
		t.Error("Passes disagrees with the outcomes")
	}
	rows := []corrupttable.Row{
		{Engine: "good", Results: []corruptcase.Result{{Trial: corruptcase.Trial{Column: "flip", Seed: 1}, Outcome: corruptcase.Detected}}},
		{Engine: "bad", Results: []corruptcase.Result{{Trial: corruptcase.Trial{Column: "zero", Seed: 2}, Damage: "zero it", Outcome: corruptcase.Wrong}}},
	}
	md := corrupttable.Markdown(rows)
	// An engine with a column it never ran does not pass: nothing passes unseen.
	for _, want := range []string{"| good | - | 1 corrupt | - |", "| bad | - | - | **1 wrong** |", "FAIL |"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "pass |") {
		t.Errorf("an engine with columns it never ran passes:\n%s", md)
	}
	if f := corrupttable.Failures(rows); !strings.Contains(f, "bad: zero seed 2: zero it: wrong") || strings.Contains(f, "good") {
		t.Errorf("failures:\n%s", f)
	}
}
