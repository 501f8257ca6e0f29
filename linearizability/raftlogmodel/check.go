package raftlogmodel

import (
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// Result is the outcome of checking a history; WriteTimeline draws it with
// the fault windows and needs a verbose check.
type Result = linearizability.Result

// Check checks h within timeout (0: no limit). With verbose it keeps what
// WriteTimeline needs, at some cost in time.
func Check(h *History, timeout time.Duration, verbose bool) *Result {
	return linearizability.Check(Model(h.Traits, true), h.Operations(), h.Faults, linearizability.CheckOptions{
		Timeout: timeout, Verbose: verbose, Failures: h.Failures,
		OkReason:      "linearizable, and every acknowledged durable write survived the crashes",
		IllegalReason: "no linearization: a read or a recovery contradicts the acknowledged operations",
	})
}
