// Package results holds what one benchmark run measured, in a versioned
// JSON schema (results.json) and in the Go benchmark format that benchstat
// and golang.org/x/perf read (bench.txt), one directory per run, written
// atomically.
package results

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ordeal-dev/ordeal/workloads"
)

// SchemaVersion is the version of results.json this package writes. Read
// accepts it and every older version it knows.
const SchemaVersion = 1

// File names inside a run directory.
const (
	JSONFile  = "results.json"
	BenchFile = "bench.txt"
)

// Run is one invocation of a suite.
type Run struct {
	Schema   int       `json:"schema"`
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Command reproduces the run.
	Command   string             `json:"command"`
	Machine   Machine            `json:"machine"`
	GoVersion string             `json:"go_version"`
	Commit    string             `json:"git_commit"`
	Dirty     bool               `json:"git_dirty,omitempty"`
	Seed      uint64             `json:"seed"`
	Suite     string             `json:"suite"`
	Count     int                `json:"count"`
	Engines   []string           `json:"engines"`
	Specs     []workloads.Spec   `json:"specs"`
	Driver    workloads.Overhead `json:"driver"`
	Results   []Result           `json:"results"`
	// Skipped lists engine x workload pairs that were not run and why.
	Skipped []Skip `json:"skipped,omitempty"`
	// Partial says why the run stopped before its plan was done
	// (interrupted); its results are the steps that finished.
	Partial string `json:"partial,omitempty"`
	// Dir is the directory Read found the run in.
	Dir string `json:"-"`
}

// Skip is a pair the run left out.
type Skip struct {
	Engine   string `json:"engine"`
	Workload string `json:"workload"`
	Reason   string `json:"reason"`
}

// Machine describes where the run ran.
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	// FileSystem is the type of the file system the engines wrote to.
	FileSystem string `json:"file_system"`
}

// Latency is a latency distribution in nanoseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ns"`
	P50   int64   `json:"p50_ns"`
	P90   int64   `json:"p90_ns"`
	P99   int64   `json:"p99_ns"`
	P999  int64   `json:"p99_9_ns"`
	P9999 int64   `json:"p99_99_ns"`
	Max   int64   `json:"max_ns"`
	// Spectrum is the distribution at percentiles spaced on a "nines"
	// scale, for plots.
	Spectrum []Point `json:"spectrum,omitempty"`
}

// Point is a latency at a percentile.
type Point struct {
	Percentile float64 `json:"p"`
	Ns         int64   `json:"ns"`
}

// SpectrumPercentiles are where Spectrum samples a distribution.
var SpectrumPercentiles = []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100}

// Percentile returns the latency at p (50, 99.9, ...), from the named
// fields or the spectrum.
func (l Latency) Percentile(p float64) (int64, bool) {
	switch p {
	case 50:
		return l.P50, true
	case 90:
		return l.P90, true
	case 99:
		return l.P99, true
	case 99.9:
		return l.P999, true
	case 99.99:
		return l.P9999, true
	case 100:
		return l.Max, true
	}
	for _, pt := range l.Spectrum {
		if pt.Percentile == p {
			return pt.Ns, true
		}
	}
	return 0, false
}

// LatencyOf summarizes a histogram.
func LatencyOf(h *hdrhistogram.Histogram, spectrum bool) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	l := Latency{
		Count: h.TotalCount(), Mean: h.Mean(),
		P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9), P9999: h.ValueAtQuantile(99.99), Max: h.Max(),
	}
	if spectrum {
		for _, p := range SpectrumPercentiles {
			v := h.ValueAtQuantile(p)
			if p == 0 {
				v = h.Min()
			}
			if p == 100 {
				v = h.Max()
			}
			l.Spectrum = append(l.Spectrum, Point{p, v})
		}
	}
	return l
}

// OpResult is one operation of a workload's mix.
type OpResult struct {
	Op          string           `json:"op"`
	Ops         int64            `json:"ops"`
	Items       int64            `json:"items"`
	OpsPerSec   float64          `json:"ops_per_sec"`
	ItemsPerSec float64          `json:"items_per_sec"`
	Errors      map[string]int64 `json:"errors,omitempty"`
	Latency     Latency          `json:"latency"`
	Uncorrected Latency          `json:"latency_uncorrected"`
}

// Result is one engine x workload x iteration.
type Result struct {
	// Engine is family/name: raftlog/file.
	Engine   string `json:"engine"`
	Family   string `json:"family"`
	Workload string `json:"workload"`
	// Base is the workload's name before sweep expansion; Labels the sweep
	// point.
	Base      string            `json:"base"`
	Labels    map[string]string `json:"labels,omitempty"`
	Iteration int               `json:"iteration"`
	Mode      workloads.Mode    `json:"mode"`
	Workers   int               `json:"workers"`
	// Rate is the open-loop target in ops/s, ProbedMax the probe's figure.
	Rate      float64 `json:"rate,omitempty"`
	ProbedMax float64 `json:"probed_max,omitempty"`
	ElapsedNs int64   `json:"elapsed_ns"`
	PreloadNs int64   `json:"preload_ns,omitempty"`
	Ops       int64   `json:"ops"`
	// Items are the primary operations' items (raftlog: entries appended),
	// counted in ItemUnit.
	Items        int64            `json:"items"`
	ItemUnit     string           `json:"item_unit"`
	OpsPerSec    float64          `json:"ops_per_sec"`
	ItemsPerSec  float64          `json:"items_per_sec"`
	BytesRead    int64            `json:"bytes_read"`
	BytesWritten int64            `json:"bytes_written"`
	Errors       map[string]int64 `json:"errors,omitempty"`
	Missed       int64            `json:"missed,omitempty"`
	// Latency runs from each operation's intended start (corrected for
	// coordinated omission); Uncorrected from its actual start. They are
	// equal in a closed loop.
	Latency     Latency    `json:"latency"`
	Uncorrected Latency    `json:"latency_uncorrected"`
	Slip        *Latency   `json:"schedule_slip,omitempty"`
	PerOp       []OpResult `json:"per_op"`
	// Series counts operations and items per bucket of SeriesIntervalNs
	// (one second, or 100ms in short runs).
	Series           []workloads.Second `json:"series"`
	SeriesIntervalNs int64              `json:"series_interval_ns"`
	// OfBaseline is ItemsPerSec over the family baseline's median on the
	// same workload (0 when the baseline did not run it).
	OfBaseline float64 `json:"of_baseline,omitempty"`
}

// FromOutcome converts what the driver measured.
func FromOutcome(o *workloads.Outcome, iteration int) Result {
	r := Result{
		Engine: o.Family + "/" + o.Engine, Family: o.Family, Workload: o.Workload,
		Base: o.Spec.Base, Labels: maps.Clone(o.Spec.Labels), Iteration: iteration,
		Mode: o.Spec.Mode, Workers: o.Spec.Workers, Rate: o.Rate, ProbedMax: o.ProbedMax,
		ElapsedNs: o.Elapsed.Nanoseconds(), PreloadNs: o.Preload.Nanoseconds(),
		Ops: o.Ops, Items: o.Items, ItemUnit: o.ItemUnit,
		OpsPerSec: o.OpsPerSec(), ItemsPerSec: o.ItemsPerSec(),
		BytesRead: o.BytesRead, BytesWritten: o.BytesWritten, Missed: o.Missed,
		Latency:     LatencyOf(o.Corrected, true),
		Uncorrected: LatencyOf(o.Uncorrected, true),
		Series:      slices.Clone(o.Series), SeriesIntervalNs: o.SeriesInterval.Nanoseconds(),
	}
	if r.Base == "" {
		r.Base = r.Workload
	}
	if len(o.Errors) > 0 {
		r.Errors = maps.Clone(o.Errors)
	}
	if o.Spec.Mode == workloads.Open {
		s := LatencyOf(o.Slip, false)
		r.Slip = &s
	}
	for _, op := range o.PerOp {
		or := OpResult{Op: op.Op, Ops: op.Ops, Items: op.Items,
			OpsPerSec: perSec(op.Ops, o.Elapsed), ItemsPerSec: perSec(op.Items, o.Elapsed),
			Latency: LatencyOf(op.Corrected, false), Uncorrected: LatencyOf(op.Uncorrected, false)}
		if len(op.Errors) > 0 {
			or.Errors = maps.Clone(op.Errors)
		}
		r.PerOp = append(r.PerOp, or)
	}
	return r
}

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Op returns the result of one operation of the mix.
func (r *Result) Op(name string) (OpResult, bool) {
	for _, o := range r.PerOp {
		if o.Op == name {
			return o, true
		}
	}
	return OpResult{}, false
}

// ErrorCount is the total of every error kind.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// EngineName is the engine's name within its family: file for raftlog/file.
func (r *Result) EngineName() string {
	_, name, _ := strings.Cut(r.Engine, "/")
	return name
}

// BenchName is the result's name in the Go benchmark format:
// BenchmarkRaftlog/workload=append/value=1KiB/engine=file.
func (r *Result) BenchName() string {
	var b strings.Builder
	b.WriteString("Benchmark")
	if r.Family != "" {
		b.WriteString(strings.ToUpper(r.Family[:1]) + r.Family[1:])
	}
	b.WriteString("/workload=" + r.Base)
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		b.WriteString("/" + k + "=" + r.Labels[k])
	}
	b.WriteString("/engine=" + r.EngineName())
	return b.String()
}

// ComputeBaselines sets OfBaseline on every closed-loop result whose
// family has a baseline that ran the same workload: the result's item
// throughput over the median of the baseline's iterations. Open-loop
// results run at a rate of their own and are left out.
func (run *Run) ComputeBaselines() {
	base := map[string][]float64{} // family/workload -> baseline items/s
	for _, r := range run.Results {
		if r.Mode == workloads.Open {
			continue
		}
		fam, err := workloads.LookupFamily(r.Family)
		if err != nil || fam.Baseline() == "" || r.EngineName() != fam.Baseline() {
			continue
		}
		k := r.Family + "/" + r.Workload
		base[k] = append(base[k], r.ItemsPerSec)
	}
	for i := range run.Results {
		r := &run.Results[i]
		if r.Mode == workloads.Open {
			continue
		}
		vs := base[r.Family+"/"+r.Workload]
		if len(vs) == 0 {
			continue
		}
		if m := Median(vs); m > 0 {
			r.OfBaseline = r.ItemsPerSec / m
		}
	}
}

// Median returns the median of vs (NaN for none).
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// Group is the iterations of one engine x workload.
type Group struct {
	Engine, Workload string
	Results          []*Result
}

// Groups returns the results grouped by engine x workload, in the run's
// order of first appearance.
func (run *Run) Groups() []Group {
	var out []Group
	idx := map[string]int{}
	for i := range run.Results {
		r := &run.Results[i]
		k := r.Engine + "\x00" + r.Workload
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, Group{Engine: r.Engine, Workload: r.Workload})
		}
		out[j].Results = append(out[j].Results, r)
	}
	return out
}

// MedianOf returns the median of f over a group's iterations.
func (g Group) MedianOf(f func(*Result) float64) float64 {
	vs := make([]float64, len(g.Results))
	for i, r := range g.Results {
		vs[i] = f(r)
	}
	return Median(vs)
}

// MarshalIndent is the results.json encoding: compact (a nightly run holds
// thousands of series points), one run per file; pipe it through jq to
// read it.
func (run *Run) MarshalIndent() ([]byte, error) {
	b, err := json.Marshal(run)
	if err != nil {
		return nil, fmt.Errorf("results: encode: %w", err)
	}
	return append(b, '\n'), nil
}
