package linearizability_test

import (
	"slices"
	"testing"

	"github.com/ordeal-dev/ordeal/linearizability"
)

func TestRecorder(t *testing.T) {
	unknown, pending := regOut{Value: -1}, regOut{Value: -2}
	r := linearizability.NewRecorder[regIn, regOut](&linearizability.Logical{})
	a := r.Call(0, regIn{Write: true, Value: 1}) // t=1
	b := r.Call(1, regIn{})                      // t=2
	c := r.Call(2, regIn{})                      // t=3
	d := r.Call(3, regIn{})                      // t=4
	if got := r.Pending(); !slices.Equal(got, []int{a, b, c, d}) {
		t.Fatalf("Pending = %v", got)
	}
	r.Return(a, regOut{})                                     // t=5
	r.ReturnAt(b, regOut{Value: 1}, linearizability.Infinity) // unbounded
	w := r.Faults().Open("crash", "")                         // t=6
	r.CutOff(unknown)                                         // t=7: c, d cut off, b bounded
	r.Faults().Close(w, "")                                   // t=8
	r.Return(c, regOut{Value: 9})                             // t=9, dropped
	r.ReturnAt(d, regOut{Value: 8}, r.Now())                  // t=10: overrides
	e := r.Call(0, regIn{})                                   // t=11, never returns

	want := []linearizability.Op[regIn, regOut]{
		{Client: 0, Input: regIn{Write: true, Value: 1}, Call: 1, Return: 5},
		{Client: 1, Output: regOut{Value: 1}, Call: 2, Return: 7},
		{Client: 2, Output: unknown, Call: 3, Return: 7},
		{Client: 3, Output: regOut{Value: 8}, Call: 4, Return: 10},
		{Client: 0, Output: pending, Call: 11, Return: linearizability.Infinity},
	}
	if got := r.Ops(pending); !slices.Equal(got, want) {
		t.Fatalf("Ops =\n%+v\nwant\n%+v", got, want)
	}
	if got := r.Pending(); !slices.Equal(got, []int{e}) {
		t.Fatalf("Pending = %v, want [%d]", got, e)
	}
	if ws := r.Faults().Windows(); len(ws) != 1 || ws[0].Start != 6 || ws[0].End != 8 {
		t.Fatalf("Windows = %+v", ws)
	}
}
