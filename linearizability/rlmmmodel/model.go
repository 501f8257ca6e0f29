package rlmmmodel

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Traits are the manager's declarations the model depends on.
type Traits struct {
	// Persistent managers keep their state across a crash; others lose it.
	Persistent bool `json:"persistent"`
	// SyncOnWrite managers make every acknowledged change durable. A
	// persistent manager that does not is checked as if it did.
	SyncOnWrite bool `json:"sync_on_write"`
}

// TraitsOf returns the traits a manager declares.
func TraitsOf(c tiered.Capabilities) Traits {
	return Traits{Persistent: c.Persistent, SyncOnWrite: c.SyncOnWrite}
}

type high struct {
	epoch  int32
	offset int64
}

// state is one partition's state; it is never changed in place.
type state struct {
	segs []Seg  // by ID
	high []high // by epoch
}

func (s state) find(id string) (int, bool) {
	return slices.BinarySearchFunc(s.segs, id, func(x Seg, id string) int { return strings.Compare(x.ID, id) })
}

func (s state) clone() state {
	c := state{segs: make([]Seg, len(s.segs)), high: slices.Clone(s.high)}
	for i, x := range s.segs {
		c.segs[i] = cloneSeg(x)
	}
	return c
}

func (s state) highest(epoch int32) (int64, bool) {
	i, ok := slices.BinarySearchFunc(s.high, epoch, func(h high, e int32) int { return cmp.Compare(h.epoch, e) })
	if !ok {
		return 0, false
	}
	return s.high[i].offset, true
}

func (s *state) setHighest(epoch int32, off int64) {
	i, ok := slices.BinarySearchFunc(s.high, epoch, func(h high, e int32) int { return cmp.Compare(h.epoch, e) })
	if ok {
		s.high[i].offset = max(s.high[i].offset, off)
		return
	}
	s.high = slices.Insert(s.high, i, high{epoch, off})
}

func (s *state) forget(epoch int32) {
	s.high = slices.DeleteFunc(s.high, func(h high) bool { return h.epoch == epoch })
}

// apply returns the state after in, or ok false if in changes nothing,
// and the error class the manager must return.
func (s state) apply(in Input) (next state, changed bool, want ErrClass) {
	i, found := s.find(in.Seg.ID)
	switch in.Kind {
	case KindAdd:
		if found && s.segs[i].State != tiered.CopySegmentStarted {
			return s, false, ErrInvalidTransition
		}
		next = s.clone()
		seg := cloneSeg(in.Seg)
		seg.State = tiered.CopySegmentStarted
		if found {
			next.segs[i] = seg
		} else {
			next.segs = slices.Insert(next.segs, i, seg)
		}
		return next, true, ErrNone
	case KindUpdate:
		to := in.Seg.State
		switch to {
		case tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished:
		default:
			return s, false, ErrInvalidArgument
		}
		if !found {
			return s, false, ErrNotFound
		}
		from := s.segs[i].State
		if !tiered.IsValidTransition(from, to) {
			return s, false, ErrInvalidTransition
		}
		if from == to {
			return s, false, ErrNone
		}
		next = s.clone()
		seg := &next.segs[i]
		seg.State = to
		switch to {
		case tiered.CopySegmentFinished:
			for _, e := range seg.Epochs {
				_, hi, _ := seg.epochRange(e.Epoch)
				next.setHighest(e.Epoch, hi)
			}
		case tiered.DeleteSegmentFinished:
			for _, e := range seg.Epochs {
				live := slices.ContainsFunc(next.segs, func(o Seg) bool {
					if o.State == tiered.DeleteSegmentFinished {
						return false
					}
					_, _, ok := o.epochRange(e.Epoch)
					return ok
				})
				if !live {
					next.forget(e.Epoch)
				}
			}
		}
		return next, true, ErrNone
	}
	return s, false, ErrNone
}

// read checks a query's output against s.
func (s state) read(in Input, out Output) bool {
	if out.Err == ErrStorage || out.Err == ErrUnknown {
		return true
	}
	if out.Err != ErrNone {
		return false
	}
	switch in.Kind {
	case KindLookup:
		var cands []string
		for _, x := range s.segs {
			if x.State != tiered.CopySegmentFinished {
				continue
			}
			if lo, hi, ok := x.epochRange(in.Epoch); ok && lo <= in.Offset && in.Offset <= hi {
				cands = append(cands, x.ID)
			}
		}
		switch {
		case len(cands) == 0:
			return !out.Found
		case len(cands) == 1:
			return out.Found && out.ID == cands[0] && out.State == tiered.CopySegmentFinished
		}
		return !out.Found || slices.Contains(cands, out.ID) && out.State == tiered.CopySegmentFinished
	case KindHighest:
		off, ok := s.highest(in.Epoch)
		return out.Found == ok && (!ok || out.Offset == off)
	case KindList:
		var want []Seg
		for _, x := range s.segs {
			if x.State != tiered.DeleteSegmentFinished {
				want = append(want, x)
			}
		}
		if len(want) != len(out.List) {
			return false
		}
		got := slices.Clone(out.List)
		for i := 1; i < len(got); i++ {
			if got[i].Start < got[i-1].Start {
				return false
			}
		}
		slices.SortFunc(got, func(a, b Seg) int { return strings.Compare(a.ID, b.ID) })
		for i := range got {
			if got[i].ID != want[i].ID || got[i].State != want[i].State {
				return false
			}
		}
		return true
	}
	return false
}

// step returns the states s may move to when in returns out.
func step(tr Traits, s state, in Input, out Output) []state {
	switch in.Kind {
	case KindAdd, KindUpdate:
		next, changed, want := s.apply(in)
		switch out.Err {
		case want:
			return []state{next}
		case ErrStorage, ErrUnknown:
			if changed {
				return []state{s, next}
			}
			return []state{s}
		}
		return nil
	case KindCrash:
		if tr.Persistent {
			return []state{s}
		}
		return []state{{}}
	}
	if s.read(in, out) {
		return []state{s}
	}
	return nil
}

func equalState(a, b state) bool {
	if len(a.segs) != len(b.segs) || !slices.Equal(a.high, b.high) {
		return false
	}
	for i := range a.segs {
		x, y := a.segs[i], b.segs[i]
		if x.ID != y.ID || x.State != y.State || x.Start != y.Start || x.End != y.End || !slices.Equal(x.Epochs, y.Epochs) {
			return false
		}
	}
	return true
}

func hashState(s state) uint64 {
	h := fnv.New64a()
	for _, x := range s.segs {
		fmt.Fprintf(h, "%s:%d:%d:%d;", x.ID, x.State, x.Start, x.End)
	}
	for _, x := range s.high {
		fmt.Fprintf(h, "e%d=%d;", x.epoch, x.offset)
	}
	return h.Sum64()
}

func describeState(s state) string {
	var b strings.Builder
	for _, x := range s.segs {
		fmt.Fprintf(&b, "%s[%d,%d]:%s ", short(x.ID), x.Start, x.End, x.State)
	}
	for _, x := range s.high {
		fmt.Fprintf(&b, "hi(e%d)=%d ", x.epoch, x.offset)
	}
	return strings.TrimSpace(b.String())
}

// Partition splits a history by topic-partition; a crash belongs to every
// partition.
func Partition(history []porcupine.Operation) [][]porcupine.Operation {
	var order []string
	by := map[string][]porcupine.Operation{}
	var crashes []porcupine.Operation
	for _, op := range history {
		in := op.Input.(Input)
		if in.Kind == KindCrash {
			crashes = append(crashes, op)
			continue
		}
		if _, ok := by[in.TP]; !ok {
			order = append(order, in.TP)
		}
		by[in.TP] = append(by[in.TP], op)
	}
	out := make([][]porcupine.Operation, 0, len(order))
	for _, tp := range order {
		ops := append(by[tp], crashes...)
		slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		out = append(out, ops)
	}
	return out
}

// Model returns the porcupine model of a manager with traits tr.
func Model(tr Traits) porcupine.Model {
	return linearizability.Typed[state, Input, Output]{
		Partition:         Partition,
		Init:              func() state { return state{} },
		Step:              func(s state, in Input, out Output) []state { return step(tr, s, in, out) },
		Equal:             equalState,
		Hash:              hashState,
		DescribeOperation: describe,
		DescribeState:     describeState,
	}.Model()
}
