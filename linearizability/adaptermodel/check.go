package adaptermodel

import (
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// Result is the outcome of checking a history; WriteTimeline draws it with
// the fault windows and needs a verbose check.
type Result = linearizability.Result

// Check checks h within timeout (0: no limit). With verbose it keeps what
// WriteTimeline needs, at some cost in time. Partitions are shards.
func Check(h *History, timeout time.Duration, verbose bool) *Result {
	return linearizability.Check(Model(h.Traits, true), h.Operations(), h.Faults, linearizability.CheckOptions{
		Timeout: timeout, Verbose: verbose, Failures: h.Failures,
		OkReason:      "linearizable per shard, and every acknowledged durable mutation survived the crashes",
		IllegalReason: "no linearization: a read or a recovery contradicts the acknowledged operations",
	})
}
