package raftlogmodel

import (
	"testing"

	"github.com/ordeal-dev/ordeal/linearizability"
)

func TestRecorderCutOff(t *testing.T) {
	r := NewRecorder(&linearizability.Logical{})
	a := r.Call(0, Input{Kind: KindLast})
	b := r.Call(1, Input{Kind: KindAppend})
	c := r.Call(2, Input{Kind: KindSaveHS})
	r.Return(a, Output{Value: 3})
	r.ReturnAt(b, Unknown("timeout"), linearizability.Infinity)
	if got := r.Pending(); len(got) != 1 || got[0] != c {
		t.Fatalf("pending %v, want [%d]", got, c)
	}
	r.CutOff("crash")
	ops := r.Ops()
	if ops[a].Return == linearizability.Infinity || ops[a].Output.Value != 3 {
		t.Errorf("returned op changed: %+v", ops[a])
	}
	if ops[b].Return == linearizability.Infinity || ops[c].Return == linearizability.Infinity {
		t.Errorf("cut-off ops still unbounded: %+v %+v", ops[b], ops[c])
	}
	if ops[c].Output.Err != ErrUnknown || ops[b].Return != ops[c].Return {
		t.Errorf("pending op not cut off at the crash: %+v", ops[c])
	}
	if len(r.Pending()) != 0 {
		t.Errorf("pending after CutOff: %v", r.Pending())
	}
	late := r.Call(0, Input{Kind: KindLast})
	if ops := r.Ops(); ops[late].Return != linearizability.Infinity || ops[late].Output.Err != ErrUnknown {
		t.Errorf("op without response: %+v, want unknown at infinity", ops[late])
	}
}
