package kvmodel_test

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/kvmodel"
)

const inf = linearizability.Infinity

type op = linearizability.Op[kvmodel.Input, kvmodel.Output]

func w(c int, key, v string, call, ret int64) op {
	return op{Client: c, Input: kvmodel.Input{Kind: kvmodel.KindWrite, Key: key, Value: v}, Call: call, Return: ret}
}

func wUnknown(c int, key, v string, call int64) op {
	o := w(c, key, v, call, inf)
	o.Output = kvmodel.Unknown("timeout")
	return o
}

func r(c int, key, v string, call, ret int64) op {
	out := kvmodel.Output{Found: v != "", Value: v}
	return op{Client: c, Input: kvmodel.Input{Kind: kvmodel.KindRead, Key: key}, Output: out, Call: call, Return: ret}
}

func cas(c int, key, old, v string, out kvmodel.Output, call, ret int64) op {
	return op{Client: c, Input: kvmodel.Input{Kind: kvmodel.KindCAS, Key: key, Old: old, Value: v}, Output: out, Call: call, Return: ret}
}

func crash(at int64) op {
	return op{Client: 9, Input: kvmodel.Input{Kind: kvmodel.KindCrash, Detail: "kill"}, Call: at, Return: at + 1}
}

var (
	ok       = kvmodel.Output{}
	mismatch = func(v string) kvmodel.Output {
		return kvmodel.Output{Err: kvmodel.ErrMismatch, Found: v != "", Value: v}
	}
)

// TestModel: histories a linearizable store may give, and those it may
// not; the partitioned check agrees with the check of the whole history.
func TestModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []op
		want linearizability.Verdict
	}{
		{"read absent", []op{r(0, "a", "", 1, 2)}, linearizability.Ok},
		{"write then read", []op{w(0, "a", "1", 1, 2), r(1, "a", "1", 3, 4)}, linearizability.Ok},
		{"acknowledged write lost", []op{w(0, "a", "1", 1, 2), r(1, "a", "", 3, 4)}, linearizability.Illegal},
		{"stale read", []op{w(0, "a", "1", 1, 2), w(0, "a", "2", 3, 4), r(1, "a", "1", 5, 6)}, linearizability.Illegal},
		{"concurrent read sees either", []op{w(0, "a", "1", 1, 2), w(0, "a", "2", 3, 6), r(1, "a", "1", 4, 5), r(2, "a", "2", 7, 8)}, linearizability.Ok},
		{"read of a value never written", []op{w(0, "a", "1", 1, 2), r(1, "a", "7", 3, 4)}, linearizability.Illegal},
		{"unknown write may land late", []op{w(0, "a", "1", 1, 2), wUnknown(0, "a", "2", 3), r(1, "a", "1", 4, 5), r(1, "a", "2", 6, 7)}, linearizability.Ok},
		{"unknown write may never land", []op{w(0, "a", "1", 1, 2), wUnknown(0, "a", "2", 3), r(1, "a", "1", 4, 5)}, linearizability.Ok},
		{"value flips back", []op{w(0, "a", "1", 1, 2), wUnknown(0, "a", "2", 3), r(1, "a", "2", 4, 5), r(1, "a", "1", 6, 7)}, linearizability.Illegal},
		{"cas succeeds on a match", []op{w(0, "a", "1", 1, 2), cas(1, "a", "1", "2", ok, 3, 4), r(0, "a", "2", 5, 6)}, linearizability.Ok},
		{"cas succeeds without a match", []op{w(0, "a", "1", 1, 2), cas(1, "a", "9", "2", ok, 3, 4)}, linearizability.Illegal},
		{"cas on an absent key", []op{cas(1, "a", "9", "2", mismatch(""), 1, 2)}, linearizability.Ok},
		{"cas refused on a match", []op{w(0, "a", "1", 1, 2), cas(1, "a", "1", "2", mismatch("1"), 3, 4)}, linearizability.Illegal},
		{"cas refusal names a wrong value", []op{w(0, "a", "1", 1, 2), cas(1, "a", "9", "2", mismatch("3"), 3, 4)}, linearizability.Illegal},
		{"unknown cas may land", []op{w(0, "a", "1", 1, 2), cas(1, "a", "1", "2", kvmodel.Unknown("timeout"), 3, inf), r(0, "a", "2", 5, 6)}, linearizability.Ok},
		{"unknown cas without a match cannot land", []op{w(0, "a", "1", 1, 2), cas(1, "a", "9", "2", kvmodel.Unknown("timeout"), 3, inf), r(0, "a", "2", 5, 6)}, linearizability.Illegal},
		{"refused write changes nothing", []op{w(0, "a", "1", 1, 2), func() op { o := w(1, "a", "2", 3, 4); o.Output.Err = kvmodel.ErrUnavailable; return o }(), r(0, "a", "1", 5, 6)}, linearizability.Ok},
		{"refused write took effect", []op{w(0, "a", "1", 1, 2), func() op { o := w(1, "a", "2", 3, 4); o.Output.Err = kvmodel.ErrUnavailable; return o }(), r(0, "a", "2", 5, 6)}, linearizability.Illegal},
		{"crash keeps acknowledged writes", []op{w(0, "a", "1", 1, 2), crash(3), r(1, "a", "1", 5, 6)}, linearizability.Ok},
		{"crash loses an acknowledged write", []op{w(0, "a", "1", 1, 2), crash(3), r(1, "a", "", 5, 6)}, linearizability.Illegal},
		{"keys are independent", []op{w(0, "a", "1", 1, 2), w(1, "b", "2", 3, 4), r(0, "b", "2", 5, 6), r(1, "a", "1", 7, 8)}, linearizability.Ok},
		{"loss on one key of two", []op{w(0, "a", "1", 1, 2), w(1, "b", "2", 3, 4), r(0, "b", "2", 5, 6), r(1, "a", "", 7, 8)}, linearizability.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &kvmodel.History{Ops: tc.ops}
			res := kvmodel.Check(h, 10*time.Second, false)
			whole := linearizability.FromPorcupine(porcupine.CheckOperationsTimeout(kvmodel.Model(false), h.Operations(), 10*time.Second))
			if res.Verdict != tc.want {
				t.Errorf("verdict %v, want %v (%s)", res.Verdict, tc.want, res.Reason)
			}
			if whole != res.Verdict {
				t.Errorf("partitioned verdict %v, whole history %v", res.Verdict, whole)
			}
		})
	}
}

// TestPartitionPerKey: one part per key, crashes in none.
func TestPartitionPerKey(t *testing.T) {
	h := &kvmodel.History{Ops: []op{w(0, "a", "1", 1, 2), crash(3), w(1, "b", "2", 5, 6), r(0, "a", "1", 7, 8)}}
	parts := kvmodel.Partition(h.Operations())
	if len(parts) != 2 || len(parts[0]) != 2 || len(parts[1]) != 1 {
		t.Fatalf("parts %v", parts)
	}
	res := kvmodel.Check(h, time.Second, false)
	if res.Partitions != 2 || res.Verdict != linearizability.Ok {
		t.Errorf("%d partitions, %v", res.Partitions, res.Verdict)
	}
}

// TestFailuresAreIllegal: a recorded failure (a node that died on its
// own) makes a linearizable history illegal.
func TestFailuresAreIllegal(t *testing.T) {
	h := &kvmodel.History{Ops: []op{w(0, "a", "1", 1, 2)}, Failures: []string{"node n2 exited"}}
	if res := kvmodel.Check(h, time.Second, false); res.Verdict != linearizability.Illegal {
		t.Errorf("verdict %v", res.Verdict)
	}
}
