package rlmmmodel

import (
	"cmp"
	"fmt"
	"hash"
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

// ref is a segment an epoch's lookups may return, by the offset the epoch
// starts at in it.
type ref struct {
	start int64
	id    string
}

// epochIdx is what a leader epoch knows once a segment of it finished:
// its referenced segments (disjoint, by start) and its highest offset.
type epochIdx struct {
	epoch   int32
	refs    []ref
	highest int64
}

// State is one partition's state as the model keeps it. It is a value:
// Step never changes a state it is given.
type State struct {
	assigned bool
	pdelete  tiered.RemotePartitionDeleteState
	segs     []Seg      // every segment told of, by ID; DELETE_SEGMENT_FINISHED ones are tombstones
	epochs   []epochIdx // by epoch
}

func (s State) find(id string) (int, bool) {
	return slices.BinarySearchFunc(s.segs, id, func(x Seg, id string) int { return strings.Compare(x.ID, id) })
}

func (s State) epoch(e int32) (int, bool) {
	return slices.BinarySearchFunc(s.epochs, e, func(x epochIdx, e int32) int { return cmp.Compare(x.epoch, e) })
}

func (s State) clone() State {
	c := s
	c.segs = make([]Seg, len(s.segs))
	for i, x := range s.segs {
		c.segs[i] = cloneSeg(x)
	}
	c.epochs = make([]epochIdx, len(s.epochs))
	for i, x := range s.epochs {
		x.refs = slices.Clone(x.refs)
		c.epochs[i] = x
	}
	return c
}

// live returns the segments in any state but DELETE_SEGMENT_FINISHED that
// keep pass, in list order.
func (s State) live(keep func(Seg) bool) []Seg {
	var out []Seg
	for _, x := range s.segs {
		if x.State != tiered.DeleteSegmentFinished && keep(x) {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, compareListed)
	return out
}

func (s State) highest(e int32) (int64, bool) {
	i, ok := s.epoch(e)
	if !ok {
		return 0, false
	}
	return s.epochs[i].highest, true
}

// lookup is RemoteLogSegmentMetadata's rule: the referenced segment of the
// epoch with the greatest start at or below offset, if offset is at or
// below the epoch's end in it.
func (s State) lookup(e int32, offset int64) (Seg, bool) {
	i, ok := s.epoch(e)
	if !ok {
		return Seg{}, false
	}
	refs := s.epochs[i].refs
	k := slices.IndexFunc(refs, func(r ref) bool { return r.start > offset })
	if k < 0 {
		k = len(refs)
	}
	if k == 0 {
		return Seg{}, false
	}
	j, _ := s.find(refs[k-1].id)
	seg := s.segs[j]
	if _, hi, ok := seg.epochRange(e); ok && offset <= hi {
		return seg, true
	}
	return Seg{}, false
}

// finish references seg, which just reached COPY_SEGMENT_FINISHED, in each
// of its epochs, as the package tiered states it: a segment that reaches
// the epoch's highest offset supersedes the referenced segments starting
// at or after it; a late copy that ends below is referenced only if it
// overlaps no referenced segment.
func (s *State) finish(seg Seg) {
	for _, e := range seg.Epochs {
		lo, hi, _ := seg.epochRange(e.Epoch)
		i, ok := s.epoch(e.Epoch)
		if !ok {
			s.epochs = slices.Insert(s.epochs, i, epochIdx{epoch: e.Epoch, refs: []ref{{lo, seg.ID}}, highest: hi})
			continue
		}
		ix := &s.epochs[i]
		if hi >= ix.highest {
			k := slices.IndexFunc(ix.refs, func(r ref) bool { return r.start >= lo })
			if k < 0 {
				k = len(ix.refs)
			}
			ix.refs = append(ix.refs[:k:k], ref{lo, seg.ID})
			ix.highest = hi
			continue
		}
		overlaps := slices.ContainsFunc(ix.refs, func(r ref) bool {
			j, _ := s.find(r.id)
			olo, ohi, _ := s.segs[j].epochRange(e.Epoch)
			return olo <= hi && lo <= ohi
		})
		if !overlaps {
			k, _ := slices.BinarySearchFunc(ix.refs, lo, func(r ref, lo int64) int { return cmp.Compare(r.start, lo) })
			ix.refs = slices.Insert(ix.refs, k, ref{lo, seg.ID})
		}
	}
}

// unref removes seg from the referenced segments of its epochs.
func (s *State) unref(seg Seg) {
	for _, e := range seg.Epochs {
		if i, ok := s.epoch(e.Epoch); ok {
			s.epochs[i].refs = slices.DeleteFunc(s.epochs[i].refs, func(r ref) bool { return r.id == seg.ID })
		}
	}
}

// mutate returns the state after the mutation in, whether it changes
// anything, and the error classes the manager may return instead (none:
// it must succeed). Where several errors apply, any of them is allowed.
func (s State) mutate(in Input) (next State, changed bool, errs []ErrClass) {
	deleted := s.pdelete == tiered.DeletePartitionFinished
	if in.Kind == KindAdd || in.Kind == KindUpdate {
		if deleted {
			errs = append(errs, ErrPartitionDeleted)
		}
		if !s.assigned {
			errs = append(errs, ErrNotAssigned)
		}
	}
	i, found := s.find(in.Seg.ID)
	switch in.Kind {
	case KindAdd:
		if !in.Seg.valid() || in.Seg.State != tiered.CopySegmentStarted {
			errs = append(errs, ErrInvalidArgument)
		}
		if !deleted && s.pdelete != tiered.PartitionDeleteNone {
			errs = append(errs, ErrPartitionDeleted)
		}
		if found && s.segs[i].State != tiered.CopySegmentStarted {
			errs = append(errs, ErrInvalidTransition)
		}
		if len(errs) > 0 {
			return s, false, errs
		}
		next = s.clone()
		if found {
			next.segs[i] = cloneSeg(in.Seg)
		} else {
			next.segs = slices.Insert(next.segs, i, cloneSeg(in.Seg))
		}
		return next, true, nil
	case KindUpdate:
		to := in.Seg.State
		switch to {
		case tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished:
		default:
			errs = append(errs, ErrInvalidArgument)
		}
		if !found {
			errs = append(errs, ErrNotFound)
		} else if !tiered.IsValidTransition(s.segs[i].State, to) {
			errs = append(errs, ErrInvalidTransition)
		}
		if len(errs) > 0 {
			return s, false, errs
		}
		seg := s.segs[i]
		if seg.State == to {
			return s, false, nil
		}
		next = s.clone()
		next.segs[i].State = to
		switch to {
		case tiered.CopySegmentFinished:
			next.finish(next.segs[i])
		case tiered.DeleteSegmentStarted:
			next.unref(seg)
		case tiered.DeleteSegmentFinished:
			next.unref(seg)
			for _, e := range seg.Epochs {
				held := slices.ContainsFunc(next.segs, func(o Seg) bool {
					return o.State != tiered.DeleteSegmentFinished && o.hasEpoch(e.Epoch)
				})
				if j, ok := next.epoch(e.Epoch); ok && !held {
					next.epochs = slices.Delete(next.epochs, j, j+1)
				}
			}
		}
		return next, true, nil
	case KindPartitionDelete:
		to := in.PartitionState
		if !tiered.IsValidPartitionDeleteTransition(s.pdelete, to) {
			errs = append(errs, ErrInvalidTransition)
			if to == tiered.PartitionDeleteNone || to > tiered.DeletePartitionFinished {
				errs = append(errs, ErrInvalidArgument)
			}
			return s, false, errs
		}
		if s.pdelete == to {
			return s, false, nil
		}
		next = s.clone()
		next.pdelete = to
		if to == tiered.DeletePartitionFinished {
			next.segs, next.epochs = nil, nil
		}
		return next, true, nil
	case KindAssign, KindStop:
		next = s
		next.assigned = in.Kind == KindAssign
		return next, next.assigned != s.assigned, nil
	}
	return s, false, []ErrClass{ErrInvalidArgument}
}

// queryErrs returns the error classes a query may return instead of its
// answer (none: it must answer).
func (s State) queryErrs(in Input) []ErrClass {
	var errs []ErrClass
	if s.pdelete == tiered.DeletePartitionFinished {
		errs = append(errs, ErrPartitionDeleted)
	}
	if !s.assigned {
		errs = append(errs, ErrNotAssigned)
	}
	if in.Kind != KindList && (in.Epoch < 0 || in.Kind == KindLookup && in.Offset < 0) {
		errs = append(errs, ErrInvalidArgument)
	}
	return errs
}

func equalList(a, b []Seg) bool { return slices.EqualFunc(a, b, Seg.equal) }

// read reports whether a query's output is one the manager may give in s.
func (s State) read(in Input, out Output) bool {
	if out.Err == ErrUnknown {
		return true
	}
	if errs := s.queryErrs(in); len(errs) > 0 {
		return slices.Contains(errs, out.Err)
	}
	if out.Err != ErrNone {
		return false
	}
	holds := func(x Seg) bool { return x.hasEpoch(in.Epoch) }
	switch in.Kind {
	case KindLookup:
		want, ok := s.lookup(in.Epoch, in.Offset)
		return out.Found == ok && (!ok || out.Seg.equal(want))
	case KindHighest:
		off, ok := s.highest(in.Epoch)
		return out.Found == ok && (!ok || out.Offset == off)
	case KindList:
		return equalList(out.List, s.live(func(Seg) bool { return true }))
	case KindListEpoch:
		return equalList(out.List, s.live(holds))
	case KindSize:
		var n int64
		for _, x := range s.live(holds) {
			n += x.Size
		}
		return out.Size == n
	}
	return false
}

// Step returns the states a partition in s may move to when in returns
// out: none if the output is impossible there.
func Step(tr Traits, s State, in Input, out Output) []State {
	switch {
	case in.Kind == KindCrash:
		if !tr.Persistent {
			return []State{{}}
		}
		next := s
		next.assigned = false // assignments are not persisted
		return []State{next}
	case in.Kind.IsMutation():
		next, changed, errs := s.mutate(in)
		switch {
		case out.Err == ErrStorage || out.Err == ErrUnknown:
			if changed {
				return []State{s, next}
			}
			return []State{s}
		case (in.Kind == KindAssign || in.Kind == KindStop) && out.Err == ErrPartitionDeleted:
			// Refused for a deleted partition among those named, which
			// may be another one: this one may or may not have changed.
			if len(in.Partitions()) == 1 && s.pdelete != tiered.DeletePartitionFinished {
				return nil
			}
			return []State{s, next}
		case len(errs) == 0 && out.Err == ErrNone:
			return []State{next}
		case slices.Contains(errs, out.Err):
			return []State{s}
		}
		return nil
	}
	if s.read(in, out) {
		return []State{s}
	}
	return nil
}

// Equal reports whether two states are the same.
func (s State) Equal(o State) bool {
	if s.assigned != o.assigned || s.pdelete != o.pdelete || !equalList(s.segs, o.segs) || len(s.epochs) != len(o.epochs) {
		return false
	}
	for i, x := range s.epochs {
		y := o.epochs[i]
		if x.epoch != y.epoch || x.highest != y.highest || !slices.Equal(x.refs, y.refs) {
			return false
		}
	}
	return true
}

// HashTo writes what identifies s to h.
func (s State) HashTo(h hash.Hash64) {
	fmt.Fprintf(h, "a%v d%d;", s.assigned, s.pdelete)
	for _, x := range s.segs {
		fmt.Fprintf(h, "%s:%d:%d:%d:%d:%v;", x.ID, x.State, x.Start, x.End, x.Size, x.Epochs)
	}
	for _, x := range s.epochs {
		fmt.Fprintf(h, "e%d=%d%v;", x.epoch, x.highest, x.refs)
	}
}

func hashState(s State) uint64 {
	h := fnv.New64a()
	s.HashTo(h)
	return h.Sum64()
}

// String describes s for the timeline.
func (s State) String() string {
	var b strings.Builder
	if !s.assigned {
		b.WriteString("unassigned ")
	}
	if s.pdelete != tiered.PartitionDeleteNone {
		fmt.Fprintf(&b, "%s ", s.pdelete)
	}
	for _, x := range s.segs {
		fmt.Fprintf(&b, "%s[%d,%d]:%s ", short(x.ID), x.Start, x.End, x.State)
	}
	for _, x := range s.epochs {
		fmt.Fprintf(&b, "hi(e%d)=%d ", x.epoch, x.highest)
	}
	return strings.TrimSpace(b.String())
}

// Partitioner returns a porcupine Partition function for histories whose
// inputs carry an Input (got by meta): it splits them by partition. A
// crash belongs to every partition; an assignment or a stop that names
// several partitions is split into one operation per partition, its
// input retargeted by retarget. Since every other operation names one
// partition and reads or changes that partition's state only, a history
// is linearizable if each partition's is (linearizability is local); the
// split assignments are checked per partition, which accepts a history
// in which the partitions of one call took effect at different moments.
func Partitioner(meta func(in any) Input, retarget func(in any, tp string) any) func([]porcupine.Operation) [][]porcupine.Operation {
	return func(history []porcupine.Operation) [][]porcupine.Operation {
		var order []string
		by := map[string][]porcupine.Operation{}
		var crashes []porcupine.Operation
		for _, op := range history {
			in := meta(op.Input)
			if in.Kind == KindCrash {
				crashes = append(crashes, op)
				continue
			}
			tps := in.Partitions()
			for _, tp := range tps {
				o := op
				if len(tps) > 1 || in.TP != tp {
					o.Input = retarget(op.Input, tp)
				}
				if _, ok := by[tp]; !ok {
					order = append(order, tp)
				}
				by[tp] = append(by[tp], o)
			}
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, tp := range order {
			ops := append(by[tp], crashes...)
			slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
			out = append(out, ops)
		}
		return out
	}
}

// Partition splits a history of Inputs by topic-partition (see
// Partitioner).
var Partition = Partitioner(func(in any) Input { return in.(Input) }, func(in any, tp string) any {
	x := in.(Input)
	x.TP = tp
	return x
})

// Model returns the porcupine model of a manager with traits tr.
func Model(tr Traits) porcupine.Model {
	return linearizability.Typed[State, Input, Output]{
		Partition:         Partition,
		Init:              func() State { return State{} },
		Step:              func(s State, in Input, out Output) []State { return Step(tr, s, in, out) },
		Equal:             State.Equal,
		Hash:              hashState,
		DescribeOperation: Describe,
		DescribeState:     State.String,
	}.Model()
}
