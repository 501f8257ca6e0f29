package streamswl_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	_ "github.com/ordeal-dev/ordeal/engines/streams/acid"
	_ "github.com/ordeal-dev/ordeal/engines/streams/memory"
	"github.com/ordeal-dev/ordeal/workloads"
	// The built-in suites name the other families too.
	_ "github.com/ordeal-dev/ordeal/workloads/adapterwl"
	_ "github.com/ordeal-dev/ordeal/workloads/raftlogwl"
	"github.com/ordeal-dev/ordeal/workloads/streamswl"
)

func spec(tb testing.TB, workers int, mix map[string]float64) *workloads.Spec {
	tb.Helper()
	s := workloads.BuiltinDefaults()
	s.Name, s.Family, s.Workers, s.Mix = "t", streamswl.Name, workers, mix
	s.Duration, s.Warmup = workloads.Duration(250*time.Millisecond), workloads.Duration(10*time.Millisecond)
	s.Params = map[string]string{"fork_depth": "3"}
	if errs := s.Validate(); len(errs) > 0 {
		tb.Fatalf("spec: %v", errs)
	}
	return &s
}

func TestEnginesRunEveryOperation(t *testing.T) {
	cases := []struct {
		engine  string
		workers int
		mix     map[string]float64
	}{
		{"memory", 1, map[string]float64{"append": 1, "tail": 1, "fork": 1, "read": 1}},
		{"memory", 4, map[string]float64{"append": 1, "tail": 1, "fork": 1}},
		{"acid", 1, map[string]float64{"append": 1, "tail": 1, "fork": 1, "read": 1}},
		{"acid", 4, map[string]float64{"append": 1, "tail": 1}},
		{streamswl.Physical, 2, map[string]float64{"append": 1}},
	}
	for _, c := range cases {
		s := spec(t, c.workers, c.mix)
		o, err := workloads.Run(context.Background(), s, c.engine, workloads.Config{Seed: 1, Dir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s x%d: %v", c.engine, c.workers, err)
		}
		if len(o.Errors) > 0 {
			t.Errorf("%s x%d: errors %v", c.engine, c.workers, o.Errors)
		}
		for _, op := range o.PerOp {
			if op.Ops == 0 {
				t.Errorf("%s x%d: %s never ran", c.engine, c.workers, op.Op)
			}
		}
	}
}

func TestPhysicalOnlyAppends(t *testing.T) {
	fam, err := workloads.LookupFamily(streamswl.Name)
	if err != nil {
		t.Fatal(err)
	}
	if fam.Supports(streamswl.Physical, spec(t, 1, map[string]float64{"append": 1, "tail": 1})) {
		t.Error("physical claims to support tail")
	}
	if !fam.Supports(streamswl.Physical, spec(t, 1, map[string]float64{"append": 1})) {
		t.Error("physical refuses append")
	}
}

func TestErrorKind(t *testing.T) {
	fam := streamswl.Family{}
	for _, c := range []struct {
		err  error
		want string
	}{
		{streams.Errorf(streams.ClassConflict, streams.ErrSeqGap, "s", "x"), "conflict"},
		{streams.Errorf(streams.ClassNotFound, nil, "s", "x"), "not_found"},
		{streams.ErrClosed, "closed"},
		{errors.New("x"), "other"},
	} {
		if got := fam.ErrorKind(c.err); got != c.want {
			t.Errorf("%v: %s, want %s", c.err, got, c.want)
		}
	}
}

func TestBuiltinSuitesRunStreamsWorkloads(t *testing.T) {
	suite, err := workloads.LoadSuite("quick")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range suite.Workloads {
		if w.Family != streamswl.Name {
			continue
		}
		s := w.Clone()
		s.Duration, s.Warmup = workloads.Duration(300*time.Millisecond), workloads.Duration(20*time.Millisecond)
		for _, engine := range []string{"memory", streamswl.Physical} {
			if !(streamswl.Family{}).Supports(engine, &s) {
				continue
			}
			n++
			o, err := workloads.Run(context.Background(), &s, engine, workloads.Config{Seed: 2, Dir: t.TempDir()})
			if err != nil {
				t.Fatalf("%s on %s: %v", s.Name, engine, err)
			}
			if o.Ops == 0 || len(o.Errors) > 0 {
				t.Errorf("%s on %s: %d ops, errors %v", s.Name, engine, o.Ops, o.Errors)
			}
		}
	}
	if n == 0 {
		t.Error("the quick suite has no streams workload")
	}
}
