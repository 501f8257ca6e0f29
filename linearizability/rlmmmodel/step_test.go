package rlmmmodel_test

import (
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

func TestSequentialHistories(t *testing.T) {
	a := rlmmmodel.Seg{ID: "A", Start: 0, End: 9, Epochs: []tiered.EpochEntry{{Epoch: 1, StartOffset: 0}}}
	add := rlmmmodel.Input{Kind: rlmmmodel.KindAdd, TP: "t", Seg: a}
	upd := func(s tiered.RemoteLogSegmentState) rlmmmodel.Input {
		return rlmmmodel.Input{Kind: rlmmmodel.KindUpdate, TP: "t", Seg: rlmmmodel.Seg{ID: "A", State: s}}
	}
	look := rlmmmodel.Input{Kind: rlmmmodel.KindLookup, TP: "t", Epoch: 1, Offset: 5}
	high := rlmmmodel.Input{Kind: rlmmmodel.KindHighest, TP: "t", Epoch: 1}
	crash := rlmmmodel.Input{Kind: rlmmmodel.KindCrash}
	ok := rlmmmodel.Output{}
	found := rlmmmodel.Output{Found: true, ID: "A", State: tiered.CopySegmentFinished}
	durable := rlmmmodel.Traits{Persistent: true, SyncOnWrite: true}
	cases := []struct {
		name  string
		tr    rlmmmodel.Traits
		ops   []porcupine.Operation
		legal bool
	}{
		{"finished is found", durable, seq([2]any{add, ok}, [2]any{upd(tiered.CopySegmentFinished), ok}, [2]any{look, found}), true},
		{"started is served", durable, seq([2]any{add, ok}, [2]any{look, rlmmmodel.Output{Found: true, ID: "A", State: tiered.CopySegmentStarted}}), false},
		{"illegal transition accepted", durable, seq([2]any{add, ok}, [2]any{upd(tiered.DeleteSegmentFinished), ok}), false},
		{"illegal transition refused", durable, seq([2]any{add, ok}, [2]any{upd(tiered.DeleteSegmentFinished), rlmmmodel.Output{Err: rlmmmodel.ErrInvalidTransition}}), true},
		{"finished survives a crash", durable, seq([2]any{add, ok}, [2]any{upd(tiered.CopySegmentFinished), ok}, [2]any{crash, ok}, [2]any{look, found}), true},
		{"finished lost in a crash", durable, seq([2]any{add, ok}, [2]any{upd(tiered.CopySegmentFinished), ok}, [2]any{crash, ok}, [2]any{look, ok}), false},
		{"memory forgets at a crash", rlmmmodel.Traits{}, seq([2]any{add, ok}, [2]any{upd(tiered.CopySegmentFinished), ok}, [2]any{crash, ok}, [2]any{look, ok}), true},
		{"unknown update may land", durable, seq([2]any{add, ok}, [2]any{upd(tiered.CopySegmentFinished), rlmmmodel.Output{Err: rlmmmodel.ErrUnknown}}, [2]any{crash, ok}, [2]any{look, found}), true},
		{"highest stays through deletion start", durable, seq([2]any{add, ok}, [2]any{upd(tiered.CopySegmentFinished), ok}, [2]any{upd(tiered.DeleteSegmentStarted), ok}, [2]any{high, rlmmmodel.Output{Found: true, Offset: 9}}), true},
		{"highest forgotten after deletion", durable, seq([2]any{add, ok}, [2]any{upd(tiered.CopySegmentFinished), ok}, [2]any{upd(tiered.DeleteSegmentStarted), ok}, [2]any{upd(tiered.DeleteSegmentFinished), ok}, [2]any{high, rlmmmodel.Output{Found: true, Offset: 9}}), false},
		{"deleted segment not re-added", durable, seq([2]any{add, ok}, [2]any{upd(tiered.DeleteSegmentStarted), ok}, [2]any{upd(tiered.DeleteSegmentFinished), ok}, [2]any{add, ok}), false},
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
