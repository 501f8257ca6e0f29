package workloads

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: 1 ns to 100 s at 3 significant digits.
const (
	histMin    = 1
	histMax    = int64(100 * time.Second)
	histDigits = 3
)

// NewHistogram returns an empty latency histogram in nanoseconds.
func NewHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// Config tunes one run of the driver.
type Config struct {
	// Seed seeds every generator of the run.
	Seed uint64
	// Dir is an empty scratch directory for the engine's files.
	Dir string
	// EngineParams are passed to the engine.
	EngineParams map[string]string
	// ProbeDuration is how long the max-rate probe runs before an open-loop
	// workload whose rate is a percentage (default 1s).
	ProbeDuration time.Duration
	// SeriesInterval is the width of one bucket of the throughput series
	// (default one second).
	SeriesInterval time.Duration
}

// OpOutcome is what one operation of the mix did in the measured window.
type OpOutcome struct {
	Op           string
	Ops          int64
	Items        int64
	BytesRead    int64
	BytesWritten int64
	Errors       map[string]int64
	// Corrected latency runs from the operation's intended start (open
	// loop) and equals Uncorrected in a closed loop.
	Corrected   *hdrhistogram.Histogram
	Uncorrected *hdrhistogram.Histogram
}

// Second is one bucket of the measured window's series: one second unless
// Config.SeriesInterval says otherwise.
type Second struct {
	Ops   int64 `json:"ops"`
	Items int64 `json:"items"`
}

// Outcome is the result of one run of one workload against one engine.
type Outcome struct {
	Family   string
	Engine   string
	Workload string
	Spec     Spec
	ItemUnit string
	// Rate is the open-loop target rate in ops/s (0 in a closed loop).
	Rate float64
	// ProbedMax is the probe's maximum rate, when one ran.
	ProbedMax float64
	// Elapsed is the measured window (warm-up excluded).
	Elapsed time.Duration
	// Preload is how long the preload took.
	Preload time.Duration
	Ops     int64
	// Items counts the items of primary operations (raftlog: entries
	// appended).
	Items        int64
	BytesRead    int64
	BytesWritten int64
	Errors       map[string]int64
	// Missed counts open-loop operations whose intended start fell in the
	// window but which never started before it closed (recorded in
	// Corrected with the time they had waited).
	Missed      int64
	Corrected   *hdrhistogram.Histogram
	Uncorrected *hdrhistogram.Histogram
	// Slip is how late open-loop operations started against the schedule.
	Slip   *hdrhistogram.Histogram
	PerOp  []*OpOutcome
	Series []Second
	// SeriesInterval is the width of one Series bucket.
	SeriesInterval time.Duration
}

// OpsPerSec is the measured operation throughput.
func (o *Outcome) OpsPerSec() float64 { return perSec(o.Ops, o.Elapsed) }

// ItemsPerSec is the measured item throughput of the primary operations.
func (o *Outcome) ItemsPerSec() float64 { return perSec(o.Items, o.Elapsed) }

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Run opens engine (a name within spec's family), preloads it, runs the
// workload and closes it.
func Run(ctx context.Context, spec *Spec, engine string, cfg Config) (*Outcome, error) {
	fam, err := LookupFamily(spec.Family)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(fam.Engines(), engine) {
		return nil, fmt.Errorf("%w %s/%s (known: %v)", ErrUnknownTarget, spec.Family, engine, fam.Engines())
	}
	if !fam.Supports(engine, spec) {
		return nil, fmt.Errorf("%w: %s/%s cannot run %s", ErrUnsupported, spec.Family, engine, spec.Name)
	}
	if errs := spec.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("%w: workload %s: %v", ErrSpec, spec.Name, errs[0])
	}
	target, err := fam.Open(ctx, engine, spec, Env{Dir: cfg.Dir, Seed: cfg.Seed, EngineParams: cfg.EngineParams})
	if err != nil {
		return nil, fmt.Errorf("open %s/%s: %w", spec.Family, engine, err)
	}
	out, runErr := runTarget(ctx, fam, target, spec, engine, cfg)
	if cerr := target.Close(); cerr != nil && runErr == nil {
		runErr = fmt.Errorf("close %s/%s: %w", spec.Family, engine, cerr)
	}
	return out, runErr
}

func runTarget(ctx context.Context, fam Family, target Target, spec *Spec, engine string, cfg Config) (*Outcome, error) {
	t0 := time.Now()
	if err := target.Preload(ctx, NewGen(spec, cfg.Seed, -1)); err != nil {
		return nil, fmt.Errorf("preload %s/%s: %w", spec.Family, engine, err)
	}
	out := &Outcome{Family: spec.Family, Engine: engine, Workload: spec.Name, Spec: spec.Clone(), ItemUnit: fam.ItemUnit(), Preload: time.Since(t0)}
	if spec.Mode == Open {
		out.Rate = spec.Rate.PerSec
		if spec.Rate.Percent > 0 {
			pd := cfg.ProbeDuration
			if pd <= 0 {
				pd = time.Second
			}
			probe := phase{fam: fam, target: target, spec: spec, seed: cfg.Seed ^ 0x70726f6265, bucket: time.Second,
				mode: Closed, workers: max(spec.Workers, runtime.GOMAXPROCS(0)), duration: pd}
			p, err := probe.run(ctx)
			if err != nil {
				return nil, fmt.Errorf("probe %s/%s: %w", spec.Family, engine, err)
			}
			out.ProbedMax = p.OpsPerSec()
			out.Rate = max(1, out.ProbedMax*spec.Rate.Percent/100)
		}
	}
	interval := cfg.SeriesInterval
	if interval <= 0 {
		interval = time.Second
	}
	ph := phase{fam: fam, target: target, spec: spec, seed: cfg.Seed, mode: spec.Mode, bucket: interval,
		workers: spec.Workers, rate: out.Rate, warmup: time.Duration(spec.Warmup), duration: time.Duration(spec.Duration)}
	res, err := ph.run(ctx)
	if err != nil {
		return nil, err
	}
	res.Family, res.Engine, res.Workload, res.Spec, res.ItemUnit = out.Family, out.Engine, out.Workload, out.Spec, out.ItemUnit
	res.Rate, res.ProbedMax, res.Preload, res.SeriesInterval = out.Rate, out.ProbedMax, out.Preload, interval
	return res, nil
}

// Probe measures the maximum rate of a workload on an engine: a closed loop
// with at least GOMAXPROCS workers for d, after the preload.
func Probe(ctx context.Context, spec *Spec, engine string, cfg Config, d time.Duration) (float64, error) {
	s := spec.Clone()
	s.Mode, s.Rate, s.Warmup, s.Duration = Closed, Rate{}, 0, Duration(d)
	s.Workers = max(s.Workers, runtime.GOMAXPROCS(0))
	o, err := Run(ctx, &s, engine, cfg)
	if err != nil {
		return 0, err
	}
	return o.OpsPerSec(), nil
}

// phase is one timed loop over a target.
type phase struct {
	fam      Family
	target   Target
	spec     *Spec
	seed     uint64
	mode     Mode
	workers  int
	rate     float64
	warmup   time.Duration
	duration time.Duration
	bucket   time.Duration // width of one series bucket
}

// workerStats is what one goroutine records; merged at the end.
type workerStats struct {
	ops       []opStats // by family op index
	slip      *hdrhistogram.Histogram
	series    []Second
	missed    int64
	lateTimes []int64 // open loop: waits of missed ops, recorded at merge
}

type opStats struct {
	used                   bool
	ops, items, br, bw     int64
	errors                 map[string]int64
	corrected, uncorrected *hdrhistogram.Histogram
}

func (ws *workerStats) op(i int) *opStats {
	s := &ws.ops[i]
	if !s.used {
		s.used = true
		s.errors = map[string]int64{}
		s.corrected = NewHistogram()
		s.uncorrected = NewHistogram()
	}
	return s
}

func (ws *workerStats) second(i int) *Second {
	for len(ws.series) <= i {
		ws.series = append(ws.series, Second{})
	}
	return &ws.series[i]
}

func (p *phase) run(ctx context.Context) (*Outcome, error) {
	ops := p.fam.Ops()
	stats := make([]*workerStats, p.workers)
	var stop atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			stop.Store(true)
		case <-done:
		}
	}()
	var next atomic.Int64 // open loop: the next schedule slot
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	// Workers and generators are made before the clock starts: the first
	// generator fills the shared payload, which takes a while.
	workers := make([]Worker, p.workers)
	gens := make([]*Gen, p.workers)
	for w := range p.workers {
		stats[w] = &workerStats{ops: make([]opStats, len(ops)), slip: NewHistogram()}
		workers[w] = p.target.NewWorker(w)
		gens[w] = NewGen(p.spec, p.seed, w)
	}
	// time.Since on a monotonic base reads only the monotonic clock.
	base := time.Now()
	warmEnd := p.warmup
	end := p.warmup + p.duration
	since := func() time.Duration { return time.Since(base) }
	var interval time.Duration
	if p.mode == Open {
		interval = time.Duration(float64(time.Second) / p.rate)
		if interval <= 0 {
			interval = 1
		}
	}
	for w := range p.workers {
		ws, worker, g := stats[w], workers[w], gens[w]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("worker %d: panic: %v", w, r) })
					stop.Store(true)
				}
			}()
			for !stop.Load() {
				var intended time.Duration
				if p.mode == Open {
					slot := next.Add(1) - 1
					intended = time.Duration(slot) * interval
					if intended >= end {
						return
					}
					if wait := intended - since(); wait > 0 {
						time.Sleep(wait)
					}
				}
				start := since()
				if start >= end {
					if p.mode == Open && intended >= warmEnd {
						ws.missed++
						ws.lateTimes = append(ws.lateTimes, int64(start-intended))
					}
					return
				}
				if p.mode == Closed {
					intended = start
				}
				op := g.NextOp()
				work, err := worker.Do(op, g)
				fin := since()
				if intended < warmEnd {
					continue
				}
				s := ws.op(op)
				s.ops++
				if err != nil {
					s.errors[p.fam.ErrorKind(err)]++
					continue
				}
				s.items += work.Items
				s.br += work.BytesRead
				s.bw += work.BytesWritten
				_ = s.corrected.RecordValue(max(1, int64(fin-intended)))
				_ = s.uncorrected.RecordValue(max(1, int64(fin-start)))
				if p.mode == Open {
					_ = ws.slip.RecordValue(max(1, int64(start-intended)))
				}
				sec := ws.second(int((fin - warmEnd) / p.bucket))
				sec.Ops++
				if ops[op].Primary {
					sec.Items += work.Items
				}
			}
		}()
	}
	wg.Wait()
	closed := since()
	elapsed := min(closed, end) - warmEnd
	if p.mode == Open && !stop.Load() {
		// Slots nobody claimed before the window closed were missed too.
		late := &workerStats{}
		for slot := next.Load(); ; slot++ {
			intended := time.Duration(slot) * interval
			if intended >= end {
				break
			}
			if intended >= warmEnd {
				late.missed++
				late.lateTimes = append(late.lateTimes, int64(closed-intended))
			}
		}
		stats = append(stats, late)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := p.merge(ops, stats, elapsed)
	out.SeriesInterval = p.bucket
	return out, nil
}

func (p *phase) merge(ops []OpInfo, stats []*workerStats, elapsed time.Duration) *Outcome {
	out := &Outcome{Elapsed: elapsed, Errors: map[string]int64{}, Corrected: NewHistogram(), Uncorrected: NewHistogram(), Slip: NewHistogram()}
	per := make([]*OpOutcome, len(ops))
	for _, ws := range stats {
		if ws.slip != nil {
			out.Slip.Merge(ws.slip)
		}
		out.Missed += ws.missed
		for _, late := range ws.lateTimes {
			_ = out.Corrected.RecordValue(max(1, late))
		}
		for i := range ws.series {
			out.second(i).Ops += ws.series[i].Ops
			out.second(i).Items += ws.series[i].Items
		}
		for i, s := range ws.ops {
			if !s.used {
				continue
			}
			if per[i] == nil {
				per[i] = &OpOutcome{Op: ops[i].Name, Errors: map[string]int64{}, Corrected: NewHistogram(), Uncorrected: NewHistogram()}
			}
			o := per[i]
			o.Ops += s.ops
			o.Items += s.items
			o.BytesRead += s.br
			o.BytesWritten += s.bw
			for k, v := range s.errors {
				o.Errors[k] += v
				out.Errors[k] += v
			}
			o.Corrected.Merge(s.corrected)
			o.Uncorrected.Merge(s.uncorrected)
		}
	}
	for i, o := range per {
		if o == nil {
			continue
		}
		out.PerOp = append(out.PerOp, o)
		out.Ops += o.Ops
		if ops[i].Primary {
			out.Items += o.Items
		}
		out.BytesRead += o.BytesRead
		out.BytesWritten += o.BytesWritten
		out.Corrected.Merge(o.Corrected)
		out.Uncorrected.Merge(o.Uncorrected)
	}
	slices.SortFunc(out.PerOp, func(a, b *OpOutcome) int {
		switch {
		case a.Op < b.Op:
			return -1
		case a.Op > b.Op:
			return 1
		}
		return 0
	})
	// Drop a trailing partial bucket shorter than half a bucket after full
	// ones: it would read as a throughput dip that did not happen.
	full := int(elapsed / p.bucket)
	if rem := elapsed - time.Duration(full)*p.bucket; full > 0 && rem < p.bucket/2 && len(out.Series) > full {
		out.Series = out.Series[:full]
	}
	return out
}

func (o *Outcome) second(i int) *Second {
	for len(o.Series) <= i {
		o.Series = append(o.Series, Second{})
	}
	return &o.Series[i]
}

// ErrorKinds returns the error kinds counted, sorted.
func (o *Outcome) ErrorKinds() []string { return slices.Sorted(maps.Keys(o.Errors)) }
