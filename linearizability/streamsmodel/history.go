package streamsmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Op is one operation of a history.
type Op = linearizability.Op[Input, Output]

// History is a recorded run of a streams store; its Model is ModelName.
type History = linearizability.History[Input, Output, struct{}]

// ModelName is History.Model for streams histories.
const ModelName = "streams"

// ReadFile reads a history written by History.WriteFile.
func ReadFile(path string) (*History, error) {
	h, err := linearizability.ReadHistory[Input, Output, struct{}](path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistory, err)
	}
	if h.Model != ModelName {
		return nil, fmt.Errorf("%w: %s is a %q history, not %q", ErrHistory, path, h.Model, ModelName)
	}
	return h, nil
}

// IsHistory reports whether path (a file, or a directory holding
// history.json) is a streams history.
func IsHistory(path string) bool {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path += "/history.json"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var h struct {
		Model string `json:"model"`
	}
	return json.Unmarshal(b, &h) == nil && h.Model == ModelName
}

// Recorder records a history; its methods are safe for concurrent use.
type Recorder struct {
	clock  linearizability.Clock
	faults *linearizability.FaultLog

	mu   sync.Mutex
	ops  []Op
	open map[int]struct{}
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
	r.open[len(r.ops)-1] = struct{}{}
	return len(r.ops) - 1
}

// Return records the response to operation id now. An unknown outcome
// stays open until CutOff bounds it.
func (r *Recorder) Return(id int, out Output) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.open[id]; !ok {
		return
	}
	r.ops[id].Output = out
	if out.Err != ErrUnknown {
		r.ops[id].Return = now
		delete(r.open, id)
	}
}

// Do calls in on s for client and records it.
func (r *Recorder) Do(client int, s streams.Store, in Input) Output {
	id := r.Call(client, in)
	out := Apply(s, in)
	r.Return(id, out)
	return out
}

// CutOff marks every open operation unknown, returning now: the process
// serving them is dead, and none can take effect later.
func (r *Recorder) CutOff(why string) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.open {
		if r.ops[id].Output.Err != ErrUnknown {
			r.ops[id].Output = Unknown(why)
		}
		r.ops[id].Return = now
	}
	clear(r.open)
}

// OpenWindow records the start of a fault and returns its handle.
func (r *Recorder) OpenWindow(nemesis, detail string) int { return r.faults.Open(nemesis, detail) }

// CloseWindow records the end of fault w.
func (r *Recorder) CloseWindow(w int) { r.faults.Close(w, "") }

// History returns the recorded history; operations still open are
// unknown at infinity.
func (r *Recorder) History() *History {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := &History{Model: ModelName, Ops: slices.Clone(r.ops), Faults: r.faults.Windows()}
	for id := range r.open {
		if h.Ops[id].Output.Err != ErrUnknown {
			h.Ops[id].Output = Unknown("no response")
		}
	}
	return h
}
