package tieredmodel

import (
	"fmt"
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// Op is one operation of a history.
type Op = linearizability.Op[Input, Output]

// History is a recorded run: what the checker needs, and what a reader
// needs to replay it.
type History = linearizability.History[Input, Output, Traits]

// ReadFile reads a history written by History.WriteFile.
func ReadFile(path string) (*History, error) {
	h, err := linearizability.ReadHistory[Input, Output, Traits](path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadHistory, err)
	}
	return h, nil
}

// Result is the outcome of checking a history; WriteTimeline draws it with
// the fault windows and needs a verbose check.
type Result = linearizability.Result

// Check checks h within timeout (0: no limit). With verbose it keeps what
// WriteTimeline needs, at some cost in time. Partitions are
// topic-partitions.
func Check(h *History, timeout time.Duration, verbose bool) *Result {
	return linearizability.Check(Model(h.Traits), h.Operations(), h.Faults, linearizability.CheckOptions{
		Timeout: timeout, Verbose: verbose, Failures: h.Failures,
		OkReason:      "linearizable per partition: every fetch returned the bytes copied, and every acknowledged copy, delete and metadata change survived the crashes",
		IllegalReason: "no linearization: a fetch, a query or a recovery contradicts the acknowledged operations",
	})
}
