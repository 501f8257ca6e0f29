package linearizability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anishathalye/porcupine"
)

// Op is one operation of a recorded history, as a history file holds it.
// Each model instantiates it with its own input and output types.
type Op[In, Out any] struct {
	Client int   `json:"client"`
	Input  In    `json:"in"`
	Output Out   `json:"out"`
	Call   int64 `json:"call"`
	// Return is Infinity for an unknown, unbounded outcome.
	Return int64 `json:"ret"`
}

// Operations converts recorded operations for porcupine.
func Operations[In, Out any](ops []Op[In, Out]) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		out[i] = porcupine.Operation{ClientId: op.Client, Input: op.Input, Call: op.Call, Output: op.Output, Return: op.Return}
	}
	return out
}

// History is a recorded run as its file holds it: what the checker needs,
// and what a reader needs to replay it. In and Out are the model's
// operation types, Traits the engine's declarations the model uses
// (struct{} for a model without any).
type History[In, Out, Traits any] struct {
	// Model names the model of a family whose files must tell themselves
	// apart from others' ("streams"); empty for the rest.
	Model string `json:"model,omitempty"`
	// Engine is the engine's name.
	Engine string `json:"engine"`
	// Traits are the engine's declarations the model uses.
	Traits Traits `json:"traits,omitzero"`
	// Seed drove the workload and the faults.
	Seed uint64 `json:"seed"`
	// Nemeses names the nemeses of the run.
	Nemeses []string `json:"nemeses,omitempty"`
	// Clock is "logical" or "monotonic".
	Clock string `json:"clock,omitempty"`
	// Ops are the operations, in call order.
	Ops []Op[In, Out] `json:"ops"`
	// Faults are the fault windows.
	Faults []FaultWindow `json:"faults,omitempty"`
	// Failures are engine panics, hangs and failed recoveries: each is a
	// violation in itself.
	Failures []string `json:"failures,omitempty"`
	// Command replays the run.
	Command string `json:"command,omitempty"`
	// Target says where the engine ran ("inproc", "process", "lazyfs").
	Target string `json:"target,omitempty"`
	// Profile names the file-system semantics of a lazyfs target
	// ("strict" or "ext4").
	Profile string `json:"profile,omitempty"`
	// Interrupted is set for a run cut short (by SIGINT): what was
	// recorded was checked, but the run is at best inconclusive.
	Interrupted bool `json:"interrupted,omitempty"`
	// Coverage counts the operations by SPI method and by outcome class.
	Coverage *Coverage `json:"coverage,omitempty"`
}

// Coverage counts what a run made the engine do: each SPI method called
// and each class of outcome seen.
type Coverage struct {
	Methods  map[string]int `json:"methods"`
	Outcomes map[string]int `json:"outcomes"`
}

// Add counts one operation.
func (c *Coverage) Add(method, outcome string) {
	if c.Methods == nil {
		c.Methods, c.Outcomes = map[string]int{}, map[string]int{}
	}
	c.Methods[method]++
	c.Outcomes[outcome]++
}

// Operations converts the history for porcupine.
func (h *History[In, Out, Traits]) Operations() []porcupine.Operation { return Operations(h.Ops) }

// WriteFile writes the history as JSON, atomically.
func (h *History[In, Out, Traits]) WriteFile(path string) error { return WriteJSON(path, h) }

// ReadHistory reads a history written by WriteFile and checks that no
// operation returns before its call.
func ReadHistory[In, Out, Traits any](path string) (*History[In, Out, Traits], error) {
	var h History[In, Out, Traits]
	if err := ReadJSON(path, &h); err != nil {
		return nil, err
	}
	if err := CheckTimes(h.Ops); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &h, nil
}

// CheckTimes reports the first operation that returns before its call.
func CheckTimes[In, Out any](ops []Op[In, Out]) error {
	for i, op := range ops {
		if op.Return < op.Call {
			return fmt.Errorf("op %d returns at %d before its call at %d", i, op.Return, op.Call)
		}
	}
	return nil
}

// WriteJSON writes v to path as indented JSON, atomically: a reader sees
// the old file or the whole new one, never a part.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("linearizability: encode %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteFileAtomic writes data to path through a temporary file in the
// same directory and a rename: a reader sees the old file or the whole
// new one, never a part.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("linearizability: write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("linearizability: write %s: %w", path, err)
	}
	return nil
}

// ReadJSON decodes the JSON file at path into v. The error names the file.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
