package tieredmodel_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/durable"
	"github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/rlmmmodel"
	"github.com/ordeal-dev/ordeal/linearizability/tieredmodel"
)

var tp = tiered.TopicIDPartition{TopicID: tiered.UUID{7}, Topic: "t", Partition: 1}

type (
	in  = tieredmodel.Input
	out = tieredmodel.Output
)

func history(tr tieredmodel.Traits, steps ...[2]any) *tieredmodel.History {
	h := &tieredmodel.History{Traits: tr}
	for i, s := range steps {
		h.Ops = append(h.Ops, tieredmodel.Op{Input: s[0].(in), Output: s[1].(out), Call: int64(2 * i), Return: int64(2*i + 1)})
	}
	return h
}

func meta(i rlmmmodel.Input) in { return in{Input: i} }

var (
	content = tieredmodel.Content{Seed: 3, Log: 5000, Offset: 40, Time: 20, Producer: 7, Txn: -1}
	segA    = rlmmmodel.Seg{ID: tiered.UUID{1}.String(), Start: 0, End: 9, Size: 5000,
		Epochs: []tiered.EpochEntry{{Epoch: 0, StartOffset: 0}, {Epoch: 2, StartOffset: 4}}, State: tiered.CopySegmentStarted}
	ok       = out{}
	durables = tieredmodel.Traits{RSM: tieredmodel.StoreTraits{Persistent: true, SyncOnWrite: true}, RLMM: rlmmmodel.Traits{Persistent: true, SyncOnWrite: true}}
)

func copyOf(c tieredmodel.Content) in {
	return in{Input: rlmmmodel.Input{Kind: tieredmodel.KindCopy, TP: rlmmmodel.TP(tp), Seg: segA}, Content: &c}
}

func fetch(start, end int64) in {
	return in{Input: rlmmmodel.Input{Kind: tieredmodel.KindFetch, TP: rlmmmodel.TP(tp), Seg: segA}, Start: start, End: end}
}

func index(t tiered.IndexType) in {
	return in{Input: rlmmmodel.Input{Kind: tieredmodel.KindFetchIndex, TP: rlmmmodel.TP(tp), Seg: segA}, Index: t}
}

var (
	del   = in{Input: rlmmmodel.Input{Kind: tieredmodel.KindDeleteData, TP: rlmmmodel.TP(tp), Seg: segA}}
	crash = meta(rlmmmodel.Input{Kind: rlmmmodel.KindCrash})
)

func read(b []byte) out { return out{Sum: tieredmodel.Sum(b), Len: int64(len(b))} }

func flipped(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func errOut(c tieredmodel.ErrClass) out {
	return out{Output: rlmmmodel.Output{Err: c}}
}

func TestSequentialHistories(t *testing.T) {
	log := content.Bytes("log")
	missing := content
	missing.Missing = "offset"
	volatile := durables
	volatile.RSM = tieredmodel.StoreTraits{}
	cases := []struct {
		name  string
		tr    tieredmodel.Traits
		h     [][2]any
		legal bool
	}{
		{"copied bytes read back", durables, [][2]any{{copyOf(content), ok}, {fetch(0, tiered.ToEnd), read(log)}, {fetch(4095, 4096), read(log[4095:4097])}}, true},
		{"wrong bytes", durables, [][2]any{{copyOf(content), ok}, {fetch(0, tiered.ToEnd), read(log[1:])}}, false},
		{"one byte changed", durables, [][2]any{{copyOf(content), ok}, {fetch(100, 199), read(flipped(log[100:200], 50))}}, false},
		{"range clipped", durables, [][2]any{{copyOf(content), ok}, {fetch(4990, 9000), read(log[4990:])}, {fetch(5000, tiered.ToEnd), read(nil)}}, true},
		{"start past the end", durables, [][2]any{{copyOf(content), ok}, {fetch(5001, tiered.ToEnd), errOut(rlmmmodel.ErrInvalidArgument)}}, true},
		{"start past the end read", durables, [][2]any{{copyOf(content), ok}, {fetch(5001, tiered.ToEnd), read(nil)}}, false},
		{"end before start", durables, [][2]any{{fetch(3, 2), errOut(rlmmmodel.ErrInvalidArgument)}, {fetch(-1, 2), errOut(rlmmmodel.ErrInvalidArgument)}}, true},
		{"never copied", durables, [][2]any{{fetch(0, 0), errOut(rlmmmodel.ErrNotFound)}, {index(tiered.IndexOffset), errOut(rlmmmodel.ErrNotFound)}}, true},
		{"never copied read", durables, [][2]any{{fetch(0, 0), read(nil)}}, false},
		{"indexes", durables, [][2]any{{copyOf(content), ok}, {index(tiered.IndexOffset), read(content.Bytes("offset"))},
			{index(tiered.IndexLeaderEpoch), read(tieredmodel.LeaderEpochIndex(segA.Epochs))},
			{index(tiered.IndexTransaction), errOut(rlmmmodel.ErrNotFound)}, {index(0), errOut(rlmmmodel.ErrInvalidArgument)}}, true},
		{"absent transaction index read", durables, [][2]any{{copyOf(content), ok}, {index(tiered.IndexTransaction), read(nil)}}, false},
		{"corrupt is never allowed", durables, [][2]any{{copyOf(content), ok}, {fetch(0, 0), errOut(rlmmmodel.ErrCorrupt)}}, false},
		{"copy survives a crash", durables, [][2]any{{copyOf(content), ok}, {crash, ok}, {fetch(0, tiered.ToEnd), read(log)}}, true},
		{"copy lost in a crash", durables, [][2]any{{copyOf(content), ok}, {crash, ok}, {fetch(0, 0), errOut(rlmmmodel.ErrNotFound)}}, false},
		{"volatile storage forgets", volatile, [][2]any{{copyOf(content), ok}, {crash, ok}, {fetch(0, 0), errOut(rlmmmodel.ErrNotFound)}}, true},
		{"delete survives a crash", durables, [][2]any{{copyOf(content), ok}, {del, ok}, {crash, ok}, {fetch(0, 0), read(log[:1])}}, false},
		{"deleted is not found", durables, [][2]any{{copyOf(content), ok}, {del, ok}, {fetch(0, 0), errOut(rlmmmodel.ErrNotFound)}, {del, ok}}, true},
		{"unknown copy absent", durables, [][2]any{{copyOf(content), errOut(rlmmmodel.ErrUnknown)}, {crash, ok}, {fetch(0, 0), errOut(rlmmmodel.ErrNotFound)}}, true},
		{"unknown copy present", durables, [][2]any{{copyOf(content), errOut(rlmmmodel.ErrUnknown)}, {crash, ok}, {fetch(0, 0), read(log[:1])}}, true},
		{"unknown copy torn", durables, [][2]any{{copyOf(content), errOut(rlmmmodel.ErrUnknown)}, {crash, ok}, {fetch(0, 0), read([]byte{0})}}, false},
		{"missing source fails", durables, [][2]any{{copyOf(content), ok}, {copyOf(missing), errOut(tieredmodel.ErrSourceMissing)}, {fetch(0, 0), errOut(rlmmmodel.ErrNotFound)}}, true},
		{"missing source keeps old copy", durables, [][2]any{{copyOf(content), ok}, {copyOf(missing), errOut(tieredmodel.ErrSourceMissing)}, {fetch(0, 0), read(log[:1])}}, false},
		{"missing source accepted", durables, [][2]any{{copyOf(missing), ok}}, false},
		{"failed removal may come back", durables, [][2]any{{copyOf(content), ok}, {copyOf(missing), errOut(tieredmodel.ErrSourceMissing)}, {crash, ok}, {fetch(0, 0), read(log[:1])}}, true},
		{"failed delete", durables, [][2]any{{copyOf(content), ok}, {del, errOut(rlmmmodel.ErrStorage)}, {fetch(0, 0), errOut(rlmmmodel.ErrNotFound)}, {crash, ok}, {fetch(0, 0), read(log[:1])}}, true},
		{"metadata with the data", durables, [][2]any{{meta(rlmmmodel.Input{Kind: rlmmmodel.KindAssign, Leaders: []string{rlmmmodel.TP(tp)}}), ok},
			{meta(rlmmmodel.Input{Kind: rlmmmodel.KindAdd, TP: rlmmmodel.TP(tp), Seg: segA}), ok}, {copyOf(content), ok},
			{meta(rlmmmodel.Input{Kind: rlmmmodel.KindUpdate, TP: rlmmmodel.TP(tp), Seg: rlmmmodel.Seg{ID: segA.ID, State: tiered.CopySegmentFinished}}), ok},
			{crash, ok}, {meta(rlmmmodel.Input{Kind: rlmmmodel.KindLookup, TP: rlmmmodel.TP(tp), Epoch: 2, Offset: 9}), errOut(rlmmmodel.ErrNotAssigned)},
			{fetch(0, tiered.ToEnd), read(log)}}, true},
	}
	for _, c := range cases {
		res := tieredmodel.Check(history(c.tr, c.h...), 5*time.Second, false)
		want := linearizability.Illegal
		if c.legal {
			want = linearizability.Ok
		}
		if res.Verdict != want {
			t.Errorf("%s: %s, want %s", c.name, res.Verdict, want)
		}
	}
}

// drive runs a sequential random workload on localfs with b planted and
// durable, on a crashable disk with a power loss every 25 operations, and
// returns the history.
func drive(t testing.TB, seed uint64, b localfs.Bugs) *tieredmodel.History {
	t.Helper()
	disk := faults.NewDisk(nil)
	var p tieredmodel.Pair
	open := func() {
		fs := disk.FS()
		rsm, err := localfs.OpenWithBugs(tiered.Options{Dir: "/rsm", FS: fs}, b)
		if err != nil {
			t.Fatal(err)
		}
		rlmm, err := durable.Open(tiered.Options{Dir: "/rlmm", FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.MkdirAll("/local", 0o755); err != nil {
			t.Fatal(err)
		}
		p = tieredmodel.Pair{RSM: rsm, RLMM: rlmm, FS: fs, LocalDir: "/local"}
	}
	open()
	h := &tieredmodel.History{Traits: tieredmodel.TraitsOf(p.RSM.Capabilities(), p.RLMM.Capabilities())}
	rng := rand.New(rand.NewPCG(seed, 5))
	segs := make([]rlmmmodel.Seg, 4)
	for i := range segs {
		segs[i] = rlmmmodel.Seg{ID: tiered.NewUUID(rng).String(), Start: int64(10 * i), End: int64(10*i + 9), Size: 100,
			Epochs: []tiered.EpochEntry{{Epoch: 1, StartOffset: int64(10 * i)}}, State: tiered.CopySegmentStarted}
	}
	clock := int64(0)
	do := func(x in) {
		o := tieredmodel.Apply(p, x)
		h.Ops = append(h.Ops, tieredmodel.Op{Input: x, Output: o, Call: clock, Return: clock + 1})
		clock += 2
	}
	do(meta(rlmmmodel.Input{Kind: rlmmmodel.KindAssign, Leaders: []string{rlmmmodel.TP(tp)}}))
	for i := range 200 {
		if i%25 == 24 {
			nd, err := disk.PowerLoss(seed*1000+uint64(i), 50, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = p.RSM.Close()
			_ = p.RLMM.Close()
			disk = nd
			open()
			h.Ops = append(h.Ops, tieredmodel.Op{Input: crash, Call: clock, Return: clock + 1})
			clock += 2
			do(meta(rlmmmodel.Input{Kind: rlmmmodel.KindAssign, Leaders: []string{rlmmmodel.TP(tp)}}))
			continue
		}
		s := segs[rng.IntN(len(segs))]
		x := in{Input: rlmmmodel.Input{TP: rlmmmodel.TP(tp), Seg: s}}
		switch k := rng.IntN(10); {
		case k < 3:
			c := tieredmodel.Content{Seed: rng.Uint64(), Log: rng.IntN(9000), Offset: rng.IntN(50), Time: rng.IntN(50), Producer: rng.IntN(50), Txn: rng.IntN(60) - 20}
			x.Kind, x.Content = tieredmodel.KindCopy, &c
		case k < 6:
			x.Kind, x.Start, x.End = tieredmodel.KindFetch, rng.Int64N(100), tiered.ToEnd
		case k < 8:
			x.Kind, x.Index = tieredmodel.KindFetchIndex, tiered.IndexType(rng.IntN(7))
		case k < 9:
			x.Kind = tieredmodel.KindDeleteData
		default:
			x.Kind = rlmmmodel.KindAdd
		}
		do(x)
	}
	_ = p.RSM.Close()
	_ = p.RLMM.Close()
	return h
}

func TestLocalfsOnACrashingDisk(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		h := drive(t, seed, localfs.Bugs{})
		if res := tieredmodel.Check(h, 20*time.Second, false); res.Verdict != linearizability.Ok {
			t.Fatalf("seed %d: %s: %s", seed, res.Verdict, res.Reason)
		}
		reads := 0
		for _, op := range h.Ops {
			if op.Input.Kind == tieredmodel.KindFetch && op.Output.Err == rlmmmodel.ErrNone && op.Output.Len > 0 {
				reads++
			}
		}
		if reads == 0 {
			t.Fatalf("seed %d: no fetch read anything", seed)
		}
	}
}

// TestUnsyncedCopyCaught plants a copy that is renamed into place without
// its data synced: a power loss tears or empties it, and the model must
// refuse what a fetch then returns.
func TestUnsyncedCopyCaught(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		h := drive(t, seed, localfs.Bugs{SkipDataSync: true})
		if res := tieredmodel.Check(h, 20*time.Second, false); res.Verdict == linearizability.Illegal {
			t.Logf("caught at seed %d", seed)
			return
		}
	}
	t.Fatal("a copy without fsync passed 10 seeds")
}

func TestPartitionSplitsStorageCalls(t *testing.T) {
	other := tiered.TopicIDPartition{TopicID: tiered.UUID{8}, Topic: "u", Partition: 0}
	x := copyOf(content)
	y := fetch(0, 0)
	y.TP = rlmmmodel.TP(other)
	ops := []porcupine.Operation{{Input: x, Output: ok}, {Input: y, Output: errOut(rlmmmodel.ErrNotFound)}, {Input: crash, Output: ok}}
	if parts := tieredmodel.Partition(ops); len(parts) != 2 || len(parts[0]) != 2 || len(parts[1]) != 2 {
		t.Fatalf("partitions %v", parts)
	}
}
