package rlmmmodel

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

	info    porcupine.LinearizationInfo
	verbose bool
	model   porcupine.Model
}

// Check checks ops for a manager with traits tr within timeout (0: no
// limit). With verbose it keeps what WriteTimeline needs.
func Check(ops []porcupine.Operation, tr Traits, timeout time.Duration, verbose bool) *Result {
	model := Model(tr)
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
		verbose:    verbose,
	}
	switch res.Verdict {
	case linearizability.Ok:
		res.Reason = "linearizable, and every acknowledged change survived the crashes"
	case linearizability.Illegal:
		res.Reason = "no linearization: a lookup, a list or a recovery contradicts the acknowledged changes"
	default:
		res.Reason = fmt.Sprintf("checker gave up after %v: inconclusive", timeout)
	}
	return res
}

// WriteTimeline writes porcupine's HTML timeline of a verbose check.
func (r *Result) WriteTimeline(w io.Writer) error {
	if !r.verbose {
		return fmt.Errorf("%w: the check was not verbose", ErrHistory)
	}
	return porcupine.Visualize(r.model, r.info, w)
}
