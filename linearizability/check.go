package linearizability

import (
	"fmt"
	"io"
	"time"

	"github.com/anishathalye/porcupine"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Timeout bounds the check; 0 means no limit.
	Timeout time.Duration
	// Verbose keeps what WriteTimeline needs, at some cost in time.
	Verbose bool
	// Failures are engine failures recorded with the history (panics,
	// hangs, failed recoveries): any one makes the verdict Illegal.
	Failures []string
	// OkReason and IllegalReason are the one-line reasons given for an
	// Ok and an Illegal verdict.
	OkReason, IllegalReason string
}

// Result is the outcome of checking a history.
type Result struct {
	// Verdict is Illegal if the history has no linearization or records an
	// engine failure, Unknown if the checker timed out.
	Verdict Verdict `json:"verdict"`
	// Reason says why, in one line.
	Reason string `json:"reason"`
	// Ops is the number of operations checked.
	Ops int `json:"ops"`
	// Partitions is the number of partitions checked.
	Partitions int `json:"partitions"`
	// Elapsed is how long the check took.
	Elapsed time.Duration `json:"elapsed_ns"`

	info    porcupine.LinearizationInfo
	verbose bool
	model   porcupine.Model
	faults  []FaultWindow
}

// Check checks ops against model, and keeps faults for the timeline.
func Check(model porcupine.Model, ops []porcupine.Operation, faults []FaultWindow, opt CheckOptions) *Result {
	start := time.Now()
	var pr porcupine.CheckResult
	var info porcupine.LinearizationInfo
	if opt.Verbose {
		pr, info = porcupine.CheckOperationsVerbose(model, ops, opt.Timeout)
	} else {
		pr = porcupine.CheckOperationsTimeout(model, ops, opt.Timeout)
	}
	res := &Result{
		Verdict:    FromPorcupine(pr),
		Ops:        len(ops),
		Partitions: 1,
		Elapsed:    time.Since(start),
		info:       info,
		verbose:    opt.Verbose,
		model:      model,
		faults:     faults,
	}
	if model.Partition != nil {
		res.Partitions = len(model.Partition(ops))
	}
	switch res.Verdict {
	case Ok:
		res.Reason = opt.OkReason
	case Illegal:
		res.Reason = opt.IllegalReason
	default:
		res.Reason = fmt.Sprintf("checker gave up after %v: inconclusive", opt.Timeout)
	}
	if len(opt.Failures) > 0 {
		res.Verdict = Illegal
		res.Reason = "engine failure: " + opt.Failures[0]
	}
	return res
}

// WriteTimeline writes porcupine's HTML timeline with the fault windows.
// It needs a verbose check.
func (r *Result) WriteTimeline(w io.Writer) error {
	if !r.verbose {
		return ErrNotVerbose
	}
	return Visualize(w, r.model, r.info, r.faults)
}
