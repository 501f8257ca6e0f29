package linearizability

import (
	"slices"
	"sync"
)

// Recorder records the operations of a history and its fault windows on
// one clock. It is safe for concurrent use. A model wraps it with its own
// operation types and its way of calling the engine.
type Recorder[In, Out any] struct {
	clock  Clock
	faults *FaultLog

	mu        sync.Mutex
	ops       []Op[In, Out]
	done      []bool
	open      map[int]struct{} // called, not returned
	unbounded []int            // returned at infinity
}

// NewRecorder returns a recorder stamping with clock.
func NewRecorder[In, Out any](clock Clock) *Recorder[In, Out] {
	return &Recorder[In, Out]{clock: clock, faults: NewFaultLog(clock), open: map[int]struct{}{}}
}

// Now reads the recorder's clock.
func (r *Recorder[In, Out]) Now() int64 { return r.clock.Now() }

// Call records the call of in by client and returns the operation's id.
func (r *Recorder[In, Out]) Call(client int, in In) int {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, Op[In, Out]{Client: client, Input: in, Call: now, Return: Infinity})
	r.done = append(r.done, false)
	r.open[len(r.ops)-1] = struct{}{}
	return len(r.ops) - 1
}

// Return records the response to operation id now. A response to an
// operation already answered (by CutOff) is dropped: it stays unknown.
func (r *Recorder[In, Out]) Return(id int, out Out) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done[id] {
		return
	}
	r.ops[id].Output, r.ops[id].Return, r.done[id] = out, now, true
	delete(r.open, id)
}

// ReturnAt records the response to operation id at a given time, over any
// earlier answer. At Infinity the outcome is unknown and unbounded until
// the next CutOff.
func (r *Recorder[In, Out]) ReturnAt(id int, out Out, at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops[id].Output, r.ops[id].Return, r.done[id] = out, at, true
	delete(r.open, id)
	if at == Infinity {
		r.unbounded = append(r.unbounded, id)
	}
}

// Pending returns the ids of operations called and not returned.
func (r *Recorder[In, Out]) Pending() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int, 0, len(r.open))
	for id := range r.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// CutOff answers every pending operation with unknown, returning now, and
// bounds every unknown operation still returning at Infinity to now: the
// engine is going down, and none of them can take effect after that.
func (r *Recorder[In, Out]) CutOff(unknown Out) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.open {
		r.ops[id].Output, r.ops[id].Return, r.done[id] = unknown, now, true
	}
	clear(r.open)
	for _, id := range r.unbounded {
		r.ops[id].Return = now
	}
	r.unbounded = r.unbounded[:0]
}

// Ops returns a copy of the operations; those still pending are answered
// with pending, at Infinity.
func (r *Recorder[In, Out]) Ops(pending Out) []Op[In, Out] {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := slices.Clone(r.ops)
	for i, d := range r.done {
		if !d {
			ops[i].Output, ops[i].Return = pending, Infinity
		}
	}
	return ops
}

// Faults returns the recorder's fault log, stamped on the same clock.
func (r *Recorder[In, Out]) Faults() *FaultLog { return r.faults }
