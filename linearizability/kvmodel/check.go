package kvmodel

import (
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// History is a recorded run of a key-value store.
type History = linearizability.History[Input, Output, struct{}]

// Result is the outcome of checking a history; a verbose check keeps what
// the timeline needs.
type Result = linearizability.Result

// Check checks h, one key at a time, within timeout (0: no limit).
func Check(h *History, timeout time.Duration, verbose bool) *Result {
	return linearizability.Check(Model(true), h.Operations(), h.Faults, linearizability.CheckOptions{
		Timeout: timeout, Verbose: verbose, Failures: h.Failures,
		OkReason:      "linearizable per key: every acknowledged write and compare-and-set survived the faults, and every read agrees",
		IllegalReason: "no linearization: a read or a compare-and-set contradicts the acknowledged writes (a lost, stale or resurrected value)",
	})
}
