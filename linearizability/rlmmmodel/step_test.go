package rlmmmodel_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/rlmmmodel"
)

// seq builds a sequential history of one client.
func seq(steps ...[2]any) []porcupine.Operation {
	ops := make([]porcupine.Operation, len(steps))
	for i, s := range steps {
		ops[i] = porcupine.Operation{ClientId: 0, Input: s[0], Output: s[1], Call: int64(2 * i), Return: int64(2*i + 1)}
	}
	return ops
}

type (
	in  = rlmmmodel.Input
	out = rlmmmodel.Output
)

func seg(id string, start, end int64, epochs ...int64) rlmmmodel.Seg {
	s := rlmmmodel.Seg{ID: id, Start: start, End: end, Size: end - start + 1, State: tiered.CopySegmentStarted}
	for i := 0; i+1 < len(epochs); i += 2 {
		s.Epochs = append(s.Epochs, tiered.EpochEntry{Epoch: int32(epochs[i]), StartOffset: epochs[i+1]})
	}
	return s
}

func add(s rlmmmodel.Seg) in { return in{Kind: rlmmmodel.KindAdd, TP: "t", Seg: s} }
func upd(id string, st tiered.RemoteLogSegmentState) in {
	return in{Kind: rlmmmodel.KindUpdate, TP: "t", Seg: rlmmmodel.Seg{ID: id, State: st}}
}
func look(e int32, o int64) in { return in{Kind: rlmmmodel.KindLookup, TP: "t", Epoch: e, Offset: o} }
func high(e int32) in          { return in{Kind: rlmmmodel.KindHighest, TP: "t", Epoch: e} }
func pdel(st tiered.RemotePartitionDeleteState) in {
	return in{Kind: rlmmmodel.KindPartitionDelete, TP: "t", PartitionState: st}
}

func found(s rlmmmodel.Seg) out {
	s.State = tiered.CopySegmentFinished
	return out{Found: true, Seg: s}
}

func listed(segs ...rlmmmodel.Seg) out { return out{List: segs} }

func errOut(c rlmmmodel.ErrClass) out { return out{Err: c} }

var (
	ok       = out{}
	none     = out{}
	assign   = in{Kind: rlmmmodel.KindAssign, Leaders: []string{"t"}}
	stop     = in{Kind: rlmmmodel.KindStop, Stopped: []string{"t"}}
	crash    = in{Kind: rlmmmodel.KindCrash}
	list     = in{Kind: rlmmmodel.KindList, TP: "t"}
	syncing  = rlmmmodel.Traits{Persistent: true, SyncOnWrite: true}
	inMemory = rlmmmodel.Traits{}
)

func TestSequentialHistories(t *testing.T) {
	a := seg("A", 0, 9, 1, 0)
	fin := tiered.CopySegmentFinished
	// Two segments with the same start offset: lists order them by UUID
	// bytes, which is not the order of their text.
	u1, u2 := tiered.UUID{0x01}, tiered.UUID{0xf8}
	x, y := seg(u2.String(), 0, 4, 1, 0), seg(u1.String(), 0, 6, 1, 0)
	if u2.String() > u1.String() {
		t.Fatalf("test UUIDs do not invert the text order: %s %s", u1, u2)
	}
	multi := seg("M", 0, 9, 1, 0, 3, 5)
	cases := []struct {
		name  string
		tr    rlmmmodel.Traits
		ops   []porcupine.Operation
		legal bool
	}{
		{"finished is found", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), ok}, [2]any{look(1, 5), found(a)}), true},
		{"found with other offsets", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), ok}, [2]any{look(1, 5), found(seg("A", 0, 8, 1, 0))}), false},
		{"started is served", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{look(1, 5), out{Found: true, Seg: a}}), false},
		{"illegal transition accepted", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", tiered.DeleteSegmentFinished), ok}), false},
		{"illegal transition refused", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", tiered.DeleteSegmentFinished), errOut(rlmmmodel.ErrInvalidTransition)}), true},
		{"update to started refused", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", tiered.CopySegmentStarted), errOut(rlmmmodel.ErrInvalidArgument)}), true},
		{"update of an unknown segment", syncing, seq([2]any{assign, ok}, [2]any{upd("A", fin), errOut(rlmmmodel.ErrNotFound)}), true},
		{"bad metadata refused", syncing, seq([2]any{assign, ok}, [2]any{add(seg("B", 3, 9, 1, 4)), errOut(rlmmmodel.ErrInvalidArgument)}), true},
		{"bad metadata accepted", syncing, seq([2]any{assign, ok}, [2]any{add(seg("B", 3, 9, 1, 4)), ok}), false},
		{"finished survives a crash", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), ok}, [2]any{crash, ok}, [2]any{assign, ok}, [2]any{look(1, 5), found(a)}), true},
		{"finished lost in a crash", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), ok}, [2]any{crash, ok}, [2]any{assign, ok}, [2]any{look(1, 5), none}), false},
		{"assignment lost in a crash", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{crash, ok}, [2]any{list, listed(a)}), false},
		{"unassigned after a crash", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{crash, ok}, [2]any{list, errOut(rlmmmodel.ErrNotAssigned)}), true},
		{"memory forgets at a crash", inMemory, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), ok}, [2]any{crash, ok}, [2]any{assign, ok}, [2]any{look(1, 5), none}), true},
		{"unknown update may land", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), errOut(rlmmmodel.ErrUnknown)}, [2]any{crash, ok}, [2]any{assign, ok}, [2]any{look(1, 5), found(a)}), true},
		{"stopped partition served", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{stop, ok}, [2]any{list, listed(a)}), false},
		{"stopped partition refused", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{stop, ok}, [2]any{list, errOut(rlmmmodel.ErrNotAssigned)}, [2]any{assign, ok}, [2]any{list, listed(a)}), true},
		{"highest stays through deletion start", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), ok}, [2]any{upd("A", tiered.DeleteSegmentStarted), ok}, [2]any{high(1), out{Found: true, Offset: 9}}), true},
		{"highest forgotten after deletion", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", fin), ok}, [2]any{upd("A", tiered.DeleteSegmentStarted), ok}, [2]any{upd("A", tiered.DeleteSegmentFinished), ok}, [2]any{high(1), out{Found: true, Offset: 9}}), false},
		{"deleted segment not re-added", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{upd("A", tiered.DeleteSegmentStarted), ok}, [2]any{upd("A", tiered.DeleteSegmentFinished), ok}, [2]any{add(a), ok}), false},
		{"epoch boundaries", syncing, seq([2]any{assign, ok}, [2]any{add(multi), ok}, [2]any{upd("M", fin), ok},
			[2]any{look(1, 4), found(multi)}, [2]any{look(1, 5), none}, [2]any{look(3, 5), found(multi)}, [2]any{look(3, 9), found(multi)},
			[2]any{look(3, 10), none}, [2]any{look(2, 5), none}, [2]any{high(1), out{Found: true, Offset: 4}}, [2]any{high(3), out{Found: true, Offset: 9}},
			[2]any{high(2), none}), true},
		{"epoch end served", syncing, seq([2]any{assign, ok}, [2]any{add(multi), ok}, [2]any{upd("M", fin), ok}, [2]any{look(1, 5), found(multi)}), false},
		{"negative epoch refused", syncing, seq([2]any{assign, ok}, [2]any{look(-1, 0), errOut(rlmmmodel.ErrInvalidArgument)}), true},
		{"negative offset answered", syncing, seq([2]any{assign, ok}, [2]any{look(0, -1), none}), false},
		// B supersedes A (it starts below A and reaches the epoch's highest
		// offset); once B's deletion starts, A is listed but never returned.
		{"superseded segment not returned", syncing, seq([2]any{assign, ok}, [2]any{add(seg("A", 5, 10, 1, 5)), ok}, [2]any{upd("A", fin), ok},
			[2]any{add(seg("B", 0, 20, 1, 0)), ok}, [2]any{upd("B", fin), ok}, [2]any{look(1, 7), found(seg("B", 0, 20, 1, 0))},
			[2]any{upd("B", tiered.DeleteSegmentStarted), ok}, [2]any{look(1, 7), none}), true},
		{"superseded segment returned", syncing, seq([2]any{assign, ok}, [2]any{add(seg("A", 5, 10, 1, 5)), ok}, [2]any{upd("A", fin), ok},
			[2]any{add(seg("B", 0, 20, 1, 0)), ok}, [2]any{upd("B", fin), ok}, [2]any{upd("B", tiered.DeleteSegmentStarted), ok},
			[2]any{look(1, 7), found(seg("A", 5, 10, 1, 5))}), false},
		{"late copy does not shadow", syncing, seq([2]any{assign, ok}, [2]any{add(seg("A", 0, 20, 1, 0)), ok}, [2]any{upd("A", fin), ok},
			[2]any{add(seg("C", 3, 5, 1, 3)), ok}, [2]any{upd("C", fin), ok}, [2]any{look(1, 4), found(seg("A", 0, 20, 1, 0))}), true},
		{"list order by uuid bytes", syncing, seq([2]any{assign, ok}, [2]any{add(x), ok}, [2]any{add(y), ok}, [2]any{list, listed(y, x)}), true},
		{"list order by uuid text", syncing, seq([2]any{assign, ok}, [2]any{add(x), ok}, [2]any{add(y), ok}, [2]any{list, listed(x, y)}), false},
		{"size and list of an epoch", syncing, seq([2]any{assign, ok}, [2]any{add(multi), ok}, [2]any{add(seg("N", 10, 19, 3, 10)), ok},
			[2]any{in{Kind: rlmmmodel.KindSize, TP: "t", Epoch: 3}, out{Size: 20}}, [2]any{in{Kind: rlmmmodel.KindSize, TP: "t", Epoch: 1}, out{Size: 10}},
			[2]any{in{Kind: rlmmmodel.KindListEpoch, TP: "t", Epoch: 1}, listed(multi)}), true},
		{"size of an epoch wrong", syncing, seq([2]any{assign, ok}, [2]any{add(multi), ok}, [2]any{add(seg("N", 10, 19, 3, 10)), ok},
			[2]any{in{Kind: rlmmmodel.KindSize, TP: "t", Epoch: 1}, out{Size: 20}}), false},
		{"add refused once marked", syncing, seq([2]any{assign, ok}, [2]any{pdel(tiered.DeletePartitionMarked), ok}, [2]any{add(a), errOut(rlmmmodel.ErrPartitionDeleted)}), true},
		{"add accepted once marked", syncing, seq([2]any{assign, ok}, [2]any{pdel(tiered.DeletePartitionMarked), ok}, [2]any{add(a), ok}), false},
		{"partition deletion forgets", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{pdel(tiered.DeletePartitionMarked), ok},
			[2]any{pdel(tiered.DeletePartitionStarted), ok}, [2]any{pdel(tiered.DeletePartitionFinished), ok}, [2]any{list, errOut(rlmmmodel.ErrPartitionDeleted)},
			[2]any{pdel(tiered.DeletePartitionFinished), ok}, [2]any{pdel(tiered.DeletePartitionMarked), errOut(rlmmmodel.ErrInvalidTransition)}), true},
		{"deleted partition listed", syncing, seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{pdel(tiered.DeletePartitionMarked), ok},
			[2]any{pdel(tiered.DeletePartitionStarted), ok}, [2]any{pdel(tiered.DeletePartitionFinished), ok}, [2]any{list, listed()}), false},
		{"partition deletion skips a state", syncing, seq([2]any{pdel(tiered.DeletePartitionStarted), ok}), false},
		{"partition deletion survives a crash", syncing, seq([2]any{pdel(tiered.DeletePartitionMarked), ok}, [2]any{crash, ok}, [2]any{assign, ok}, [2]any{add(a), ok}), false},
		{"storage error may land", syncing, seq([2]any{assign, ok}, [2]any{add(a), errOut(rlmmmodel.ErrStorage)}, [2]any{list, listed(a)}), true},
		{"storage error on a query", syncing, seq([2]any{assign, ok}, [2]any{list, errOut(rlmmmodel.ErrStorage)}), false},
		{"closed manager", syncing, seq([2]any{assign, ok}, [2]any{add(a), errOut(rlmmmodel.ErrClosed)}), false},
	}
	for _, c := range cases {
		res := rlmmmodel.Check(c.ops, c.tr, 5*time.Second, false)
		want := linearizability.Illegal
		if c.legal {
			want = linearizability.Ok
		}
		if res.Verdict != want {
			t.Errorf("%s: %s, want %s", c.name, res.Verdict, want)
		}
	}
}

// TestSplitAssignment checks that an assignment naming two partitions
// counts for both.
func TestSplitAssignment(t *testing.T) {
	a := seg("A", 0, 9, 1, 0)
	both := in{Kind: rlmmmodel.KindAssign, Leaders: []string{"t"}, Followers: []string{"u"}}
	addU := add(a)
	addU.TP = "u"
	for _, c := range []struct {
		name  string
		ops   []porcupine.Operation
		legal bool
	}{
		{"both served", seq([2]any{both, ok}, [2]any{add(a), ok}, [2]any{addU, ok}), true},
		{"other not served", seq([2]any{assign, ok}, [2]any{add(a), ok}, [2]any{addU, ok}), false},
	} {
		if res := rlmmmodel.Check(c.ops, syncing, 5*time.Second, false); (res.Verdict == linearizability.Ok) != c.legal {
			t.Errorf("%s: %s", c.name, res.Verdict)
		}
	}
}

// TestParseTP reads back the partition names the histories use.
func TestParseTP(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tp := range []tiered.TopicIDPartition{
		{TopicID: tiered.NewUUID(rng), Topic: "a", Partition: 0},
		{TopicID: tiered.NewUUID(rng), Topic: "my-topic.v2_x", Partition: 17},
		{TopicID: tiered.NewUUID(rng), Topic: "-", Partition: 2147483647},
	} {
		got, err := rlmmmodel.ParseTP(rlmmmodel.TP(tp))
		if err != nil || got != tp {
			t.Errorf("ParseTP(%q) = %v, %v", rlmmmodel.TP(tp), got, err)
		}
	}
	for _, bad := range []string{"", "a:b", "a-x:" + tiered.UUID{1}.String(), "a-1:zz"} {
		if _, err := rlmmmodel.ParseTP(bad); err == nil {
			t.Errorf("ParseTP(%q) did not fail", bad)
		}
	}
}
