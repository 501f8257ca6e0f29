package rlmmmodel

import (
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// Result is the outcome of checking a history; WriteTimeline draws it with
// the fault windows and needs a verbose check.
type Result = linearizability.Result

// Check checks ops for a manager with traits tr within timeout (0: no
// limit). With verbose it keeps what WriteTimeline needs.
func Check(ops []porcupine.Operation, tr Traits, timeout time.Duration, verbose bool) *Result {
	return linearizability.Check(Model(tr), ops, nil, linearizability.CheckOptions{
		Timeout: timeout, Verbose: verbose,
		OkReason:      "linearizable, and every acknowledged change survived the crashes",
		IllegalReason: "no linearization: a query or a recovery contradicts the acknowledged changes",
	})
}
