package rlmmmodel_test

import (
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/durable"
	"github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/rlmmmodel"
)

var tps = []tiered.TopicIDPartition{
	{TopicID: tiered.UUID{1}, Topic: "a", Partition: 0},
	{TopicID: tiered.UUID{2}, Topic: "b", Partition: 3},
}

func assign(t testing.TB, m tiered.RemoteLogMetadataManager) tiered.RemoteLogMetadataManager {
	t.Helper()
	if err := m.OnPartitionLeadershipChanges(tps, nil); err != nil {
		t.Fatalf("assign: %v", err)
	}
	return m
}

// memoryRun records a crash-free workload against a memory manager.
func memoryRun(t testing.TB, b memory.Bugs, seed uint64) *rlmmmodel.Recorder {
	t.Helper()
	m, err := memory.OpenWithBugs(tiered.Options{}, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	r := rlmmmodel.NewRecorder(assign(t, m))
	if err := rlmmmodel.Drive(r, rlmmmodel.Workload{Clients: 3, Ops: 150, Seed: seed, Partitions: tps}); err != nil {
		t.Fatal(err)
	}
	return r
}

// durableRun records a workload against a durable manager on a crashable
// disk, with a power loss every 40 operations of client 0.
func durableRun(t testing.TB, b durable.Bugs, seed uint64) *rlmmmodel.Recorder {
	t.Helper()
	disk := faults.NewDisk(nil)
	open := func(d *faults.Disk) tiered.RemoteLogMetadataManager {
		m, err := durable.OpenWithBugs(tiered.Options{Dir: "/rlmm", FS: d.FS()}, b)
		if err != nil {
			t.Fatalf("open durable: %v", err)
		}
		return assign(t, m)
	}
	r := rlmmmodel.NewRecorder(open(disk))
	n := uint64(0)
	crash := func(old tiered.RemoteLogMetadataManager) (tiered.RemoteLogMetadataManager, error) {
		n++
		nd, err := disk.PowerLoss(seed*100+n, int(n%3)*50, nil)
		if err != nil {
			return nil, err
		}
		_ = old.Close()
		disk = nd
		return open(disk), nil
	}
	err := rlmmmodel.Drive(r, rlmmmodel.Workload{Clients: 3, Ops: 150, Seed: seed, Partitions: tps, CrashEvery: 40, Crash: crash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Manager().Close() })
	return r
}

func check(t testing.TB, r *rlmmmodel.Recorder, m tiered.RemoteLogMetadataManager) *rlmmmodel.Result {
	t.Helper()
	res := rlmmmodel.Check(r.Operations(), rlmmmodel.TraitsOf(m.Capabilities()), 20*time.Second, false)
	if res.Partitions != len(tps) {
		t.Fatalf("%d partitions checked, want %d", res.Partitions, len(tps))
	}
	return res
}

func TestReferencePasses(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		r := memoryRun(t, memory.Bugs{}, seed)
		if res := check(t, r, r.Manager()); res.Verdict != linearizability.Ok {
			t.Fatalf("memory seed %d: %s: %s", seed, res.Verdict, res.Reason)
		}
		r = durableRun(t, durable.Bugs{}, seed)
		if res := check(t, r, r.Manager()); res.Verdict != linearizability.Ok {
			t.Fatalf("durable seed %d: %s: %s", seed, res.Verdict, res.Reason)
		}
	}
}

// caught runs seeds 1..10 and reports the first whose history is Illegal.
func caught(t *testing.T, run func(seed uint64) *rlmmmodel.Recorder) uint64 {
	t.Helper()
	for seed := uint64(1); seed <= 10; seed++ {
		r := run(seed)
		if res := check(t, r, r.Manager()); res.Verdict == linearizability.Illegal {
			return seed
		}
	}
	return 0
}

func TestPlantedBugsAreFlagged(t *testing.T) {
	cases := []struct {
		name string
		run  func(seed uint64) *rlmmmodel.Recorder
	}{
		{"lookup-returns-started", func(s uint64) *rlmmmodel.Recorder { return memoryRun(t, memory.Bugs{ServeCopying: true}, s) }},
		{"accept-illegal-transition", func(s uint64) *rlmmmodel.Recorder {
			return memoryRun(t, memory.Bugs{AcceptIllegalTransition: true}, s)
		}},
		{"drop-last-record", func(s uint64) *rlmmmodel.Recorder { return durableRun(t, durable.Bugs{DropLastRecord: true}, s) }},
	}
	for _, c := range cases {
		seed := caught(t, c.run)
		if seed == 0 {
			t.Errorf("%s: no history flagged in 10 seeds", c.name)
			continue
		}
		t.Logf("%s: flagged at seed %d", c.name, seed)
	}
}

func TestTimeline(t *testing.T) {
	r := memoryRun(t, memory.Bugs{ServeCopying: true}, 1)
	res := rlmmmodel.Check(r.Operations(), rlmmmodel.TraitsOf(r.Manager().Capabilities()), 20*time.Second, true)
	var b []byte
	w := &sliceWriter{&b}
	if err := res.WriteTimeline(w); err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatal("empty timeline")
	}
	quiet := rlmmmodel.Check(r.Operations(), rlmmmodel.Traits{}, time.Second, false)
	if err := quiet.WriteTimeline(w); err == nil {
		t.Fatal("timeline of a non-verbose check did not fail")
	}
}

type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }
