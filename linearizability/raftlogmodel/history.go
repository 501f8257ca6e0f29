package raftlogmodel

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
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
	rec *linearizability.Recorder[Input, Output]
}

// NewRecorder returns a recorder stamping with clock.
func NewRecorder(clock linearizability.Clock) *Recorder {
	return &Recorder{rec: linearizability.NewRecorder[Input, Output](clock)}
}

// Now reads the recorder's clock.
func (r *Recorder) Now() int64 { return r.rec.Now() }

// Call records the call of in by client and returns the operation's id.
func (r *Recorder) Call(client int, in Input) int { return r.rec.Call(client, in) }

// Return records the response to operation id now.
func (r *Recorder) Return(id int, out Output) { r.rec.ReturnAt(id, out, r.rec.Now()) }

// ReturnAt records the response to operation id at a given time
// (linearizability.Infinity for an unknown, unbounded outcome).
func (r *Recorder) ReturnAt(id int, out Output, at int64) { r.rec.ReturnAt(id, out, at) }

// Do calls in on e for client and records it.
func (r *Recorder) Do(client int, e raftlog.Engine, in Input, payload func(EntryRef) raftlog.Entry) Output {
	id := r.rec.Call(client, in)
	out := Apply(e, in, payload)
	r.Return(id, out)
	return out
}

// Pending returns the ids of operations called and not returned.
func (r *Recorder) Pending() []int { return r.rec.Pending() }

// CutOff marks every pending operation unknown, returning now, and bounds
// every earlier unknown operation still returning at infinity to now: the
// engine is going down, and none of them can take effect after that.
func (r *Recorder) CutOff(why string) { r.rec.CutOff(Unknown(why)) }

// OpenWindow records the start of a fault and returns its handle.
func (r *Recorder) OpenWindow(nemesis, detail string) int {
	return r.rec.Faults().Open(nemesis, detail)
}

// CloseWindow records the end of fault w, adding to its detail.
func (r *Recorder) CloseWindow(w int, more string) { r.rec.Faults().Close(w, more) }

// Ops returns a copy of the operations; those still pending are unknown at
// infinity.
func (r *Recorder) Ops() []Op { return r.rec.Ops(Unknown("no response")) }

// Windows returns a copy of the fault windows.
func (r *Recorder) Windows() []linearizability.FaultWindow { return r.rec.Faults().Windows() }
