package streamsmodel

import (
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// Result is the outcome of checking a history; WriteTimeline draws it with
// the fault windows and needs a verbose check.
type Result = linearizability.Result

// Check checks h within timeout (0: no limit). With verbose it keeps what
// WriteTimeline needs.
func Check(h *History, timeout time.Duration, verbose bool) *Result {
	return linearizability.Check(Model(true), h.Operations(), h.Faults, linearizability.CheckOptions{
		Timeout: timeout, Verbose: verbose, Failures: h.Failures,
		OkReason:      "linearizable, and every acknowledged append survived with its producer state",
		IllegalReason: "no linearization: a read, an append's answer or a retried append contradicts the acknowledged operations",
	})
}
