package adaptermodel

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Op is one operation of a history.
type Op = linearizability.Op[Input, Output]

// History is a recorded run: what the checker needs, and what a reader
// needs to replay it.
type History = linearizability.History[Input, Output, Traits]

// ReadFile reads a history written by History.WriteFile.
func ReadFile(path string) (*History, error) {
	h, err := linearizability.ReadHistory[Input, Output, Traits](path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadHistory, err)
	}
	return h, nil
}

// Recorder records operations on one clock. It is safe for concurrent use.
type Recorder struct {
	clock  linearizability.Clock
	faults *linearizability.FaultLog

	mu   sync.Mutex
	ops  []Op
	done []bool
	open map[int]struct{} // called, not returned
}

// NewRecorder returns a recorder stamping with clock.
func NewRecorder(clock linearizability.Clock) *Recorder {
	return &Recorder{clock: clock, open: map[int]struct{}{}, faults: linearizability.NewFaultLog(clock)}
}

// Call records the call of in by client and returns the operation's id.
func (r *Recorder) Call(client int, in Input) int {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, Op{Client: client, Input: in, Call: now, Return: linearizability.Infinity})
	r.done = append(r.done, false)
	r.open[len(r.ops)-1] = struct{}{}
	return len(r.ops) - 1
}

// Return records the response to operation id now. A response to an
// operation already cut off is dropped: it stays unknown.
func (r *Recorder) Return(id int, out Output) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done[id] {
		return
	}
	r.ops[id].Output, r.ops[id].Return, r.done[id] = out, now, true
	delete(r.open, id)
}

// Do calls in on a for client and records it.
func (r *Recorder) Do(ctx context.Context, client int, a adapter.StorageAdapter, in Input) Output {
	id := r.Call(client, in)
	out := Apply(ctx, a, in)
	r.Return(id, out)
	return out
}

// CutOff marks every pending operation unknown, returning now: the engine
// is going down, and none of them can take effect after that.
func (r *Recorder) CutOff(why string) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.open {
		r.ops[id].Output, r.ops[id].Return, r.done[id] = Unknown(why), now, true
	}
	clear(r.open)
}

// OpenWindow records the start of a fault and returns its handle.
func (r *Recorder) OpenWindow(nemesis, detail string) int { return r.faults.Open(nemesis, detail) }

// CloseWindow records the end of fault w, adding to its detail.
func (r *Recorder) CloseWindow(w int, more string) { r.faults.Close(w, more) }

// Ops returns a copy of the operations; those still pending are unknown at
// infinity.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := slices.Clone(r.ops)
	for i, d := range r.done {
		if !d {
			ops[i].Output = Unknown("no response")
			ops[i].Return = linearizability.Infinity
		}
	}
	return ops
}

// Windows returns a copy of the fault windows.
func (r *Recorder) Windows() []linearizability.FaultWindow { return r.faults.Windows() }
