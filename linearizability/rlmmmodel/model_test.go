package rlmmmodel_test

import (
	"math/rand/v2"
	"slices"
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

// memoryRun records a crash-free workload against a memory manager.
func memoryRun(t testing.TB, b memory.Bugs, seed uint64) *rlmmmodel.Recorder {
	t.Helper()
	m, err := memory.OpenWithBugs(tiered.Options{}, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	r := rlmmmodel.NewRecorder(m, tps...)
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
		return m
	}
	r := rlmmmodel.NewRecorder(open(disk), tps...)
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

// randomOp draws an operation over a small space of offsets and epochs,
// so that segments overlap, supersede one another and end on the same
// offsets, and partitions are stopped and deleted.
func randomOp(rng *rand.Rand, ids []tiered.UUID, added *[]rlmmmodel.Input) rlmmmodel.Input {
	tp := rlmmmodel.TP(tps[rng.IntN(len(tps))])
	epoch := int32(rng.IntN(4))
	switch k := rng.IntN(100); {
	case k < 25:
		start := rng.Int64N(30)
		end := start + rng.Int64N(10)
		s := rlmmmodel.Seg{ID: ids[rng.IntN(len(ids))].String(), Start: start, End: end, Size: rng.Int64N(100), State: tiered.CopySegmentStarted,
			Epochs: []tiered.EpochEntry{{Epoch: epoch, StartOffset: start}}}
		if end > start && rng.IntN(2) == 0 {
			s.Epochs = append(s.Epochs, tiered.EpochEntry{Epoch: epoch + 1 + int32(rng.IntN(2)), StartOffset: start + 1 + rng.Int64N(end-start)})
		}
		if rng.IntN(20) == 0 {
			s.State = tiered.CopySegmentFinished
		}
		in := rlmmmodel.Input{Kind: rlmmmodel.KindAdd, TP: tp, Seg: s}
		*added = append(*added, in)
		return in
	case k < 50:
		st := []tiered.RemoteLogSegmentState{tiered.CopySegmentFinished, tiered.CopySegmentFinished, tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished, tiered.CopySegmentStarted}[rng.IntN(6)]
		in := rlmmmodel.Input{Kind: rlmmmodel.KindUpdate, TP: tp, Seg: rlmmmodel.Seg{ID: ids[rng.IntN(len(ids))].String(), State: st}}
		if len(*added) > 0 && rng.IntN(4) > 0 {
			a := (*added)[rng.IntN(len(*added))]
			in.TP, in.Seg.ID = a.TP, a.Seg.ID
		}
		return in
	case k < 70 && len(*added) > 0 && rng.IntN(3) > 0:
		// At an epoch's boundary in a segment told of.
		a := (*added)[rng.IntN(len(*added))]
		s := a.Seg
		i := rng.IntN(len(s.Epochs))
		off := []int64{s.Epochs[i].StartOffset, s.End, s.Start - 1, s.End + 1}[rng.IntN(4)]
		if i+1 < len(s.Epochs) && rng.IntN(2) == 0 {
			off = s.Epochs[i+1].StartOffset - 1
		}
		return rlmmmodel.Input{Kind: rlmmmodel.KindLookup, TP: a.TP, Epoch: s.Epochs[i].Epoch, Offset: max(off, 0)}
	case k < 70:
		return rlmmmodel.Input{Kind: rlmmmodel.KindLookup, TP: tp, Epoch: int32(rng.IntN(3)), Offset: rng.Int64N(42)}
	case k < 76:
		return rlmmmodel.Input{Kind: rlmmmodel.KindHighest, TP: tp, Epoch: epoch}
	case k < 82:
		return rlmmmodel.Input{Kind: rlmmmodel.KindListEpoch, TP: tp, Epoch: epoch}
	case k < 86:
		return rlmmmodel.Input{Kind: rlmmmodel.KindSize, TP: tp, Epoch: epoch}
	case k < 90:
		return rlmmmodel.Input{Kind: rlmmmodel.KindList, TP: tp}
	case k < 96:
		return rlmmmodel.Input{Kind: rlmmmodel.KindAssign, Leaders: []string{tp}}
	case k < 99:
		return rlmmmodel.Input{Kind: rlmmmodel.KindStop, Stopped: []string{tp}}
	}
	return rlmmmodel.Input{Kind: rlmmmodel.KindPartitionDelete, TP: tp, PartitionState: tiered.RemotePartitionDeleteState(1 + rng.IntN(3))}
}

// TestModelIsExact runs random sequential histories against the reference
// manager: the model must accept each, and must refuse each again once
// one answer of a query is changed.
func TestModelIsExact(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		ids := make([]tiered.UUID, 8)
		for i := range ids {
			ids[i] = tiered.NewUUID(rng)
		}
		m, err := memory.Open(tiered.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := rlmmmodel.NewRecorder(m, tps...)
		var added []rlmmmodel.Input
		for range 300 {
			r.Do(0, randomOp(rng, ids, &added))
		}
		_ = m.Close()
		ops := r.Operations()
		if res := rlmmmodel.Check(ops, rlmmmodel.Traits{}, 10*time.Second, false); res.Verdict != linearizability.Ok {
			t.Fatalf("seed %d: %s: %s", seed, res.Verdict, res.Reason)
		}
		// Change one answer: a lookup's segment, a highest offset, a size.
		var idx []int
		for i, op := range ops {
			in, out := op.Input.(rlmmmodel.Input), op.Output.(rlmmmodel.Output)
			if out.Err == rlmmmodel.ErrNone && (in.Kind == rlmmmodel.KindLookup || in.Kind == rlmmmodel.KindHighest || in.Kind == rlmmmodel.KindSize || in.Kind == rlmmmodel.KindListEpoch) {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			t.Fatalf("seed %d: no query answered", seed)
		}
		i := idx[rng.IntN(len(idx))]
		out := ops[i].Output.(rlmmmodel.Output)
		switch ops[i].Input.(rlmmmodel.Input).Kind {
		case rlmmmodel.KindLookup:
			if out.Found {
				out.Seg.End++
			} else {
				out.Found, out.Seg = true, rlmmmodel.Seg{ID: ids[0].String(), State: tiered.CopySegmentFinished}
			}
		case rlmmmodel.KindHighest:
			out.Found, out.Offset = true, out.Offset+1
		case rlmmmodel.KindSize:
			out.Size++
		case rlmmmodel.KindListEpoch:
			if len(out.List) > 0 {
				out.List = out.List[1:]
			} else {
				out.List = []rlmmmodel.Seg{{ID: ids[0].String()}}
			}
		}
		bad := slices.Clone(ops)
		bad[i].Output = out
		if res := rlmmmodel.Check(bad, rlmmmodel.Traits{}, 10*time.Second, false); res.Verdict != linearizability.Illegal {
			t.Fatalf("seed %d: changed answer of op %d (%s) gave %s", seed, i, rlmmmodel.Describe(ops[i].Input.(rlmmmodel.Input), out), res.Verdict)
		}
	}
}
