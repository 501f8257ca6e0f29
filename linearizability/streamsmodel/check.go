package streamsmodel

import (
	"fmt"
	"io"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// Result is the outcome of checking a history.
type Result struct {
	Verdict    linearizability.Verdict `json:"verdict"`
	Reason     string                  `json:"reason"`
	Ops        int                     `json:"ops"`
	Partitions int                     `json:"partitions"`
	Elapsed    time.Duration           `json:"elapsed_ns"`

	info   porcupine.LinearizationInfo
	model  porcupine.Model
	faults []linearizability.FaultWindow
}

// Check checks h within timeout (0: no limit). With verbose it keeps what
// WriteTimeline needs.
func Check(h *History, timeout time.Duration, verbose bool) *Result {
	model := Model(true)
	ops := h.Operations()
	start := time.Now()
	var pr porcupine.CheckResult
	var info porcupine.LinearizationInfo
	if verbose {
		pr, info = porcupine.CheckOperationsVerbose(model, ops, timeout)
	} else {
		pr = porcupine.CheckOperationsTimeout(model, ops, timeout)
	}
	res := &Result{Verdict: linearizability.FromPorcupine(pr), Ops: len(ops), Partitions: len(Partition(ops)),
		Elapsed: time.Since(start), info: info, model: model, faults: h.Faults}
	switch res.Verdict {
	case linearizability.Ok:
		res.Reason = "linearizable, and every acknowledged append survived with its producer state"
	case linearizability.Illegal:
		res.Reason = "no linearization: a read, an append's answer or a retried append contradicts the acknowledged operations"
	default:
		res.Reason = fmt.Sprintf("checker gave up after %v: inconclusive", timeout)
	}
	if len(h.Failures) > 0 {
		res.Verdict = linearizability.Illegal
		res.Reason = "engine failure: " + h.Failures[0]
	}
	return res
}

// WriteTimeline writes porcupine's HTML timeline with the fault windows;
// it needs a verbose check.
func (r *Result) WriteTimeline(w io.Writer) error {
	return linearizability.Visualize(w, r.model, r.info, r.faults)
}
