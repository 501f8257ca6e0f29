package workloads

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// testFamily has two ops: "a" does nothing, "b" sleeps for the spec's
// params.sleep and fails every params.fail-th call.
type testFamily struct{}

func (testFamily) Name() string { return "test" }
func (testFamily) Doc() string  { return "test" }
func (testFamily) Ops() []OpInfo {
	return []OpInfo{{Name: "a", Primary: true}, {Name: "b"}}
}
func (testFamily) Params() []Param {
	return []Param{{Name: "sleep"}, {Name: "fail"}}
}
func (testFamily) ItemUnit() string            { return "things" }
func (testFamily) Engines() []string           { return []string{"e"} }
func (testFamily) Baseline() string            { return "" }
func (testFamily) Supports(string, *Spec) bool { return true }
func (testFamily) Validate(*Spec) []FieldError { return nil }
func (testFamily) ErrorKind(err error) string {
	if errors.Is(err, errTest) {
		return "test"
	}
	return "other"
}
func (testFamily) Open(_ context.Context, _ string, s *Spec, _ Env) (Target, error) {
	d, _ := time.ParseDuration(s.Param("sleep", "0s"))
	fail := 0
	if s.Param("fail", "") != "" {
		fail = 3
	}
	return &testTarget{sleep: d, fail: fail}, nil
}

var errTest = errors.New("test failure")

type testTarget struct {
	sleep time.Duration
	fail  int
	mu    sync.Mutex
	n     int
}

func (*testTarget) Preload(context.Context, *Gen) error { return nil }
func (t *testTarget) NewWorker(int) Worker              { return t }
func (*testTarget) Close() error                        { return nil }
func (t *testTarget) Do(op int, _ *Gen) (Work, error) {
	if op == 0 {
		return Work{Items: 2, BytesWritten: 10}, nil
	}
	time.Sleep(t.sleep)
	t.mu.Lock()
	t.n++
	n := t.n
	t.mu.Unlock()
	if t.fail > 0 && n%t.fail == 0 {
		return Work{}, errTest
	}
	return Work{Items: 1, BytesRead: 5}, nil
}

var registerOnce sync.Once

// RegisterFamilyOnce registers the test family for the package's tests.
func RegisterFamilyOnce(t testing.TB, f Family) {
	t.Helper()
	registerOnce.Do(func() { RegisterFamily(f) })
}

func TestClosedLoop(t *testing.T) {
	RegisterFamilyOnce(t, testFamily{})
	s := Spec{Name: "c", Family: "test", Mode: Closed, Workers: 3, Duration: Duration(200 * time.Millisecond), Warmup: Duration(50 * time.Millisecond),
		Value: SizeDist{Dist: DistFixed, Size: 1}, Batch: SizeDist{Dist: DistFixed, Size: 1}, Keys: KeyDist{Dist: KeysUniform, Count: 1},
		Mix: map[string]float64{"a": 1, "b": 1}, Pick: PickRandom, Params: map[string]string{"sleep": "1ms", "fail": "yes"}}
	o, err := Run(context.Background(), &s, "e", Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.PerOp) != 2 || o.PerOp[0].Op != "a" || o.PerOp[1].Op != "b" {
		t.Fatalf("per-op outcomes %+v", o.PerOp)
	}
	a, b := o.PerOp[0], o.PerOp[1]
	if a.Ops == 0 || b.Ops == 0 || o.Ops != a.Ops+b.Ops {
		t.Fatalf("ops: total %d, a %d, b %d", o.Ops, a.Ops, b.Ops)
	}
	if o.Items != a.Items || a.Items != 2*a.Ops {
		t.Errorf("items %d, want the primary op's %d", o.Items, 2*a.Ops)
	}
	if b.Errors["test"] == 0 || o.Errors["test"] != b.Errors["test"] {
		t.Errorf("errors: %v / %v", o.Errors, b.Errors)
	}
	if o.BytesWritten != 10*a.Ops || o.BytesRead != 5*(b.Ops-b.Errors["test"]) {
		t.Errorf("bytes: %d written, %d read", o.BytesWritten, o.BytesRead)
	}
	if got := b.Uncorrected.ValueAtQuantile(50); got < int64(time.Millisecond) {
		t.Errorf("b's median %v, want >= 1ms", time.Duration(got))
	}
	if o.Corrected.TotalCount() != o.Uncorrected.TotalCount() || o.Corrected.Max() != o.Uncorrected.Max() {
		t.Error("closed loop: corrected and uncorrected differ")
	}
	if o.Elapsed < 150*time.Millisecond || o.Elapsed > 250*time.Millisecond {
		t.Errorf("elapsed %v, want about 200ms", o.Elapsed)
	}
	var series int64
	for _, sec := range o.Series {
		series += sec.Ops
	}
	if series != o.Ops-o.Errors["test"] {
		t.Errorf("series sums to %d, want %d", series, o.Ops-o.Errors["test"])
	}
}

// TestOpenLoopCorrectsCoordinatedOmission drives a 5 ms operation at 1000
// ops/s with one worker: it falls further behind with every operation. The
// uncorrected latency stays at the service time; the corrected one grows
// with the backlog, and so does the schedule slip.
func TestOpenLoopCorrectsCoordinatedOmission(t *testing.T) {
	RegisterFamilyOnce(t, testFamily{})
	s := Spec{Name: "o", Family: "test", Mode: Open, Rate: Rate{PerSec: 1000}, Workers: 1, Duration: Duration(200 * time.Millisecond),
		Value: SizeDist{Dist: DistFixed, Size: 1}, Batch: SizeDist{Dist: DistFixed, Size: 1}, Keys: KeyDist{Dist: KeysUniform, Count: 1},
		Mix: map[string]float64{"b": 1}, Pick: PickRandom, Params: map[string]string{"sleep": "5ms"}}
	o, err := Run(context.Background(), &s, "e", Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	unc := time.Duration(o.Uncorrected.ValueAtQuantile(50))
	cor := time.Duration(o.Corrected.ValueAtQuantile(99))
	if unc > 50*time.Millisecond {
		t.Errorf("uncorrected median %v, want near the 5ms service time", unc)
	}
	if cor < 100*time.Millisecond {
		t.Errorf("corrected p99 %v, want the backlog (>100ms)", cor)
	}
	if o.Missed < 100 {
		t.Errorf("missed %d, want most of the 200 scheduled operations", o.Missed)
	}
	if time.Duration(o.Slip.Max()) < 50*time.Millisecond {
		t.Errorf("slip max %v, want the backlog", time.Duration(o.Slip.Max()))
	}
	if o.Rate != 1000 {
		t.Errorf("rate %v", o.Rate)
	}
}

// TestOpenLoopPerOpLatencyFromIntendedStart checks the histograms of the
// operation itself, which hold only the operations that ran (the missed
// slots go to the overall histogram alone): a 5 ms operation scheduled
// every millisecond on one worker falls 4 ms further behind with each
// call, so the k-th runs about 4k ms late. Latency from the intended start
// must hold that backlog; latency from the actual start (the service time)
// must not. A driver that recorded the service time as the corrected
// latency fails here even though the missed slots alone would push the
// overall p99 past any backlog bound.
func TestOpenLoopPerOpLatencyFromIntendedStart(t *testing.T) {
	RegisterFamilyOnce(t, testFamily{})
	s := Spec{Name: "o", Family: "test", Mode: Open, Rate: Rate{PerSec: 1000}, Workers: 1, Duration: Duration(200 * time.Millisecond),
		Value: SizeDist{Dist: DistFixed, Size: 1}, Batch: SizeDist{Dist: DistFixed, Size: 1}, Keys: KeyDist{Dist: KeysUniform, Count: 1},
		Mix: map[string]float64{"b": 1}, Pick: PickRandom, Params: map[string]string{"sleep": "5ms"}}
	o, err := Run(context.Background(), &s, "e", Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.PerOp) != 1 || o.PerOp[0].Op != "b" {
		t.Fatalf("per-op outcomes %+v", o.PerOp)
	}
	b := o.PerOp[0]
	if b.Corrected.TotalCount() != b.Uncorrected.TotalCount() || b.Corrected.TotalCount() < 5 {
		t.Fatalf("op b: %d corrected, %d uncorrected samples; want the same, at least 5", b.Corrected.TotalCount(), b.Uncorrected.TotalCount())
	}
	service := time.Duration(b.Uncorrected.ValueAtQuantile(50))
	for _, q := range []float64{50, 90, 100} {
		cor, unc := time.Duration(b.Corrected.ValueAtQuantile(q)), time.Duration(b.Uncorrected.ValueAtQuantile(q))
		if cor < unc {
			t.Errorf("op b p%g: corrected %v below uncorrected %v: latency from the intended start cannot be shorter than from the actual one", q, cor, unc)
		}
	}
	// The median completed operation ran about 4 ms x (half of ~40) late.
	if cor := time.Duration(b.Corrected.ValueAtQuantile(50)); cor < 4*service || cor < 20*time.Millisecond {
		t.Errorf("op b: corrected median %v, service time %v: want the backlog (>= 4x the service time, >= 20ms); the per-op histogram holds the service time", cor, service)
	}
	if max := time.Duration(b.Corrected.Max()); max < 100*time.Millisecond {
		t.Errorf("op b: corrected max %v, want the backlog of the last operation (> 100ms)", max)
	}
}

func TestOpenLoopKeepsRate(t *testing.T) {
	s := NoopSpec(2, Duration(300*time.Millisecond))
	s.Mode, s.Rate = Open, Rate{PerSec: 2000}
	o, err := Run(context.Background(), &s, "noop", Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.OpsPerSec(); got < 1500 || got > 2500 {
		t.Errorf("open loop at 2000/s ran %.0f/s", got)
	}
}

func TestOpenLoopPercentUsesProbe(t *testing.T) {
	s := NoopSpec(2, Duration(200*time.Millisecond))
	s.Mode, s.Rate = Open, Rate{Percent: 10}
	o, err := Run(context.Background(), &s, "noop", Config{Seed: 1, ProbeDuration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if o.ProbedMax <= 0 || o.Rate < o.ProbedMax*0.099 || o.Rate > o.ProbedMax*0.101 {
		t.Errorf("rate %.0f for probed max %.0f, want 10%%", o.Rate, o.ProbedMax)
	}
}

func TestProbe(t *testing.T) {
	s := NoopSpec(1, Duration(time.Second))
	rate, err := Probe(context.Background(), &s, "noop", Config{Seed: 1}, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rate < 1000 {
		t.Errorf("probed %.0f ops/s on the no-op engine", rate)
	}
}

func TestRunRejects(t *testing.T) {
	s := NoopSpec(1, Duration(time.Millisecond))
	if _, err := Run(context.Background(), &s, "nope", Config{}); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("unknown engine: %v", err)
	}
	s.Family = "nope"
	if _, err := Run(context.Background(), &s, "noop", Config{}); !errors.Is(err, ErrUnknownFamily) {
		t.Errorf("unknown family: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s = NoopSpec(1, Duration(time.Second))
	if _, err := Run(ctx, &s, "noop", Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestMeasureOverhead(t *testing.T) {
	o, err := MeasureOverhead(context.Background(), Duration(100*time.Millisecond), 2)
	if err != nil {
		t.Fatal(err)
	}
	if o.NsPerOp <= 0 || o.MaxRate <= 0 || o.Workers != 2 {
		t.Errorf("overhead %+v", o)
	}
}

// BenchmarkDriverNoop is the driver's cost per operation: one closed-loop
// worker against the no-op engine, b.N operations' worth of time.
func BenchmarkDriverNoop(b *testing.B) {
	d := Duration(200 * time.Millisecond)
	var ops int64
	var elapsed time.Duration
	for b.Loop() {
		s := NoopSpec(1, d)
		o, err := Run(context.Background(), &s, "noop", Config{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		ops += o.Ops
		elapsed += o.Elapsed
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(ops), "driver-ns/op")
	b.ReportMetric(float64(ops)/elapsed.Seconds(), "ops/s")
}
