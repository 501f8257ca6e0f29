package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/results"
	"github.com/ordeal-dev/ordeal/workloads"
)

// Target is one performance target: an operation's throughput above, or its
// median latency below, a limit, measured by one workload.
type Target struct {
	Name     string
	Family   string
	Workload string
	Op       string
	// Throughput targets compare the op's items/s; latency targets its
	// median (p50) corrected latency in ns.
	Throughput bool
	Limit      float64
	Text       string // "> 100k entries/s", "< 1 ms"
}

// DEngineTargets are d-engine's LogStore targets (its storage engine guide),
// each measured by a workload of the quick and nightly suites.
var DEngineTargets = []Target{
	{Name: "persist", Family: "raftlog", Workload: "purge-10k", Op: "append", Throughput: true, Limit: 100_000, Text: "> 100k entries/s (batches of 1000)"},
	{Name: "entry", Family: "raftlog", Workload: "read-targets", Op: "entry", Limit: float64(time.Millisecond), Text: "< 1 ms"},
	{Name: "range 10k", Family: "raftlog", Workload: "read-targets", Op: "range", Limit: float64(time.Millisecond), Text: "< 1 ms for 10k entries"},
	{Name: "purge 10k", Family: "raftlog", Workload: "purge-10k", Op: "purge", Limit: float64(100 * time.Millisecond), Text: "< 100 ms"},
	{Name: "truncate", Family: "raftlog", Workload: "conflict", Op: "truncate", Limit: float64(100 * time.Millisecond), Text: "< 100 ms"},
	{Name: "reset", Family: "raftlog", Workload: "reset", Op: "reset", Limit: float64(time.Second), Text: "< 1 s"},
	{Name: "last index", Family: "raftlog", Workload: "read-targets", Op: "last_index", Limit: float64(100 * time.Microsecond), Text: "< 100 µs"},
}

// TargetCheck is a target checked against one engine.
type TargetCheck struct {
	Target Target
	Engine string
	// Measured is false when the run has no such engine x workload x op.
	Measured bool
	// Value is the median over iterations of the op's items/s or p50 ns;
	// P99 the median p99 for latency targets.
	Value, P99 float64
	Met        bool
	// Headroom is how far inside the limit the value is: > 1 met, < 1
	// missed (Value/Limit for throughput, Limit/Value for latency).
	Headroom float64
}

// ValueText formats the measured value.
func (c TargetCheck) ValueText() string {
	if !c.Measured {
		return "not measured"
	}
	if c.Target.Throughput {
		return fmt.Sprintf("%s entries/s", SI(c.Value))
	}
	return fmt.Sprintf("%s (p99 %s)", Nanos(c.Value), Nanos(c.P99))
}

// ShortValue formats the measured value compactly.
func (c TargetCheck) ShortValue() string {
	if c.Target.Throughput {
		return SI(c.Value) + "/s"
	}
	return Nanos(c.Value)
}

// CheckTargets checks every target against every engine of its family in
// the run (the baseline excluded).
func CheckTargets(run *results.Run, targets []Target) []TargetCheck {
	var out []TargetCheck
	for _, t := range targets {
		fam, err := workloads.LookupFamily(t.Family)
		baseline := ""
		if err == nil {
			baseline = t.Family + "/" + fam.Baseline()
		}
		for _, e := range run.Engines {
			if !strings.HasPrefix(e, t.Family+"/") || e == baseline {
				continue
			}
			c := TargetCheck{Target: t, Engine: e}
			var vals, p99s []float64
			for i := range run.Results {
				r := &run.Results[i]
				if r.Engine != e || r.Workload != t.Workload {
					continue
				}
				op, ok := r.Op(t.Op)
				if !ok || op.Ops == 0 {
					continue
				}
				if t.Throughput {
					vals = append(vals, op.ItemsPerSec)
				} else if op.Latency.Count > 0 {
					vals = append(vals, float64(op.Latency.P50))
					p99s = append(p99s, float64(op.Latency.P99))
				}
			}
			if len(vals) > 0 {
				c.Measured = true
				c.Value = results.Median(vals)
				if len(p99s) > 0 {
					c.P99 = results.Median(p99s)
				}
				if t.Throughput {
					c.Headroom = c.Value / t.Limit
				} else {
					c.Headroom = t.Limit / max(c.Value, 1)
				}
				c.Met = c.Headroom > 1
			}
			out = append(out, c)
		}
	}
	return out
}

// SI formats a count with k/M/G.
func SI(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// Nanos formats nanoseconds as a duration with three significant digits.
func Nanos(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.3gs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3gms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3gµs", ns/1e3)
	}
	return fmt.Sprintf("%.0fns", ns)
}

// Bytes formats a byte count in binary units.
func Bytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
