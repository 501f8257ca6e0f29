package workloads

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The no-op family runs operations that do nothing, to measure what the
// driver itself costs per operation and how fast it can issue them.
func init() { RegisterFamily(noopFamily{}) }

// NoopFamily is the name of the built-in family whose one engine does
// nothing.
const NoopFamily = "noop"

type noopFamily struct{}

func (noopFamily) Name() string { return NoopFamily }
func (noopFamily) Doc() string {
	return "operations that do nothing: the driver's own overhead and maximum rate"
}
func (noopFamily) Ops() []OpInfo {
	return []OpInfo{{Name: "noop", Doc: "return at once", Primary: true}}
}
func (noopFamily) Params() []Param             { return nil }
func (noopFamily) ItemUnit() string            { return "ops" }
func (noopFamily) Engines() []string           { return []string{"noop"} }
func (noopFamily) Baseline() string            { return "" }
func (noopFamily) Supports(string, *Spec) bool { return true }
func (noopFamily) Validate(*Spec) []FieldError { return nil }
func (noopFamily) ErrorKind(error) string      { return "other" }

// Open opens the no-op engine. Its one engine parameter, sleep (a
// duration, default 0), makes every operation sleep that long: a known
// cost to plant in an A/B run (sleep=20ms against sleep=22ms is a 10%
// slowdown of the sleep).
func (noopFamily) Open(_ context.Context, _ string, _ *Spec, env Env) (Target, error) {
	var t noopTarget
	for k, v := range env.EngineParams {
		if k != "sleep" {
			return nil, fmt.Errorf("%w: noop: unknown engine parameter %q (known: sleep)", ErrSpec, k)
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%w: noop: sleep=%q: want a duration >= 0", ErrSpec, v)
		}
		t.sleep = d
	}
	return t, nil
}

type noopTarget struct{ sleep time.Duration }

func (noopTarget) Preload(ctx context.Context, _ *Gen) error { return ctx.Err() }
func (t noopTarget) NewWorker(int) Worker                    { return noopWorker(t) }
func (noopTarget) Close() error                              { return nil }

type noopWorker struct{ sleep time.Duration }

func (w noopWorker) Do(int, *Gen) (Work, error) {
	if w.sleep > 0 {
		time.Sleep(w.sleep)
	}
	return Work{Items: 1}, nil
}

// NoopSpec is the workload the overhead measurement runs.
func NoopSpec(workers int, d Duration) Spec {
	s := BuiltinDefaults()
	s.Name, s.Family, s.Workers, s.Duration, s.Warmup = "noop", NoopFamily, workers, d, 0
	s.Keys = KeyDist{Dist: KeysUniform, Count: 1}
	s.Mix = map[string]float64{"noop": 1}
	return s
}

// Overhead is what the driver costs.
type Overhead struct {
	// NsPerOp is the driver's time per operation against the no-op engine
	// with one worker: picking the op, two clock reads, two histogram
	// records, the per-second series.
	NsPerOp float64 `json:"ns_per_op"`
	// MaxRate is the highest rate the driver issues operations at with
	// GOMAXPROCS workers against the no-op engine, in ops/s.
	MaxRate float64 `json:"max_rate"`
	// Workers is the number of workers the max-rate probe used.
	Workers int `json:"workers"`
}

// MeasureOverhead runs the no-op engine for d with one worker, then probes
// the maximum rate with workers workers for d.
func MeasureOverhead(ctx context.Context, d Duration, workers int) (Overhead, error) {
	one := NoopSpec(1, d)
	o, err := Run(ctx, &one, "noop", Config{Seed: 1})
	if err != nil {
		return Overhead{}, err
	}
	if o.Ops == 0 {
		return Overhead{}, errors.New("workloads: the no-op run did no operations")
	}
	many := NoopSpec(max(1, workers), d)
	m, err := Run(ctx, &many, "noop", Config{Seed: 1})
	if err != nil {
		return Overhead{}, err
	}
	return Overhead{NsPerOp: float64(o.Elapsed.Nanoseconds()) / float64(o.Ops), MaxRate: m.OpsPerSec(), Workers: many.Workers}, nil
}
