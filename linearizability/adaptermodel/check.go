package adaptermodel

import (
	"fmt"
	"io"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// Result is the outcome of checking a history.
type Result struct {
	// Verdict is Illegal if the history has no linearization or records an
	// engine failure, Unknown if the checker timed out.
	Verdict linearizability.Verdict `json:"verdict"`
	// Reason says why, in one line.
	Reason string `json:"reason"`
	// Ops is the number of operations checked.
	Ops int `json:"ops"`
	// Partitions is the number of partitions (shards) checked.
	Partitions int `json:"partitions"`
	// Elapsed is how long the check took.
	Elapsed time.Duration `json:"elapsed_ns"`

	info  porcupine.LinearizationInfo
	model porcupine.Model
	h     *History
}

// Check checks h within timeout (0: no limit). With verbose it keeps what
// WriteTimeline needs, at some cost in time.
func Check(h *History, timeout time.Duration, verbose bool) *Result {
	model := Model(h.Traits, true)
	ops := h.Operations()
	start := time.Now()
	var pr porcupine.CheckResult
	var info porcupine.LinearizationInfo
	if verbose {
		pr, info = porcupine.CheckOperationsVerbose(model, ops, timeout)
	} else {
		pr = porcupine.CheckOperationsTimeout(model, ops, timeout)
	}
	res := &Result{
		Verdict:    linearizability.FromPorcupine(pr),
		Ops:        len(ops),
		Partitions: len(Partition(ops)),
		Elapsed:    time.Since(start),
		info:       info,
		model:      model,
		h:          h,
	}
	switch res.Verdict {
	case linearizability.Ok:
		res.Reason = "linearizable per shard, and every acknowledged durable mutation survived the crashes"
	case linearizability.Illegal:
		res.Reason = "no linearization: a read or a recovery contradicts the acknowledged operations"
	default:
		res.Reason = fmt.Sprintf("checker gave up after %v: inconclusive", timeout)
	}
	if len(h.Failures) > 0 {
		res.Verdict = linearizability.Illegal
		res.Reason = fmt.Sprintf("engine failure: %s", h.Failures[0])
	}
	return res
}

// WriteTimeline writes porcupine's HTML timeline with the fault windows.
// It needs a verbose check.
func (r *Result) WriteTimeline(w io.Writer) error {
	return linearizability.Visualize(w, r.model, r.info, r.h.Faults)
}
