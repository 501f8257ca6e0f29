package raftlogwl_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	"github.com/ordeal-dev/ordeal/workloads"

	// The built-in suites name the adapter family too.
	_ "github.com/ordeal-dev/ordeal/workloads/adapterwl"
	"github.com/ordeal-dev/ordeal/workloads/raftlogwl"
	"github.com/ordeal-dev/ordeal/workloads/workloadstest"
)

func shorten(s *workloads.Spec) {
	s.Duration, s.Warmup = workloads.Duration(60*time.Millisecond), workloads.Duration(10*time.Millisecond)
	if s.Preload > 2000 {
		s.Preload = 2000
	}
}

func TestBuiltinSuitesRunOnMemoryAndPhysical(t *testing.T) {
	for _, name := range workloads.SuiteNames() {
		suite, err := workloads.LoadSuite(name)
		if err != nil {
			t.Fatalf("suite %s: %v", name, err)
		}
		if name != "quick" {
			continue
		}
		fam, err := workloads.LookupFamily(raftlogwl.Name)
		if err != nil {
			t.Fatal(err)
		}
		physical := 0
		for _, w := range suite.Workloads {
			s := w.Clone()
			shorten(&s)
			for _, engine := range []string{"memory", raftlogwl.Physical} {
				if !fam.Supports(engine, &s) {
					continue
				}
				if engine == raftlogwl.Physical {
					physical++
				}
				o, err := workloadstest.RunShort(context.Background(), &s, engine, workloads.Config{Seed: 3, Dir: t.TempDir(), ProbeDuration: 30 * time.Millisecond})
				if err != nil {
					t.Fatalf("%s on %s: %v", s.Name, engine, err)
				}
				// An open loop on a machine that stalls for the whole
				// window misses its operations instead of running them.
				if o.Ops+o.Missed == 0 {
					t.Errorf("%s on %s: no operations", s.Name, engine)
				}
				if len(o.Errors) > 0 && s.Name != "catch-up" {
					t.Errorf("%s on %s: errors %v", s.Name, engine, o.Errors)
				}
				if strings.Contains(s.Name, "append") && o.Items == 0 && o.Missed == 0 {
					t.Errorf("%s on %s: no entries appended", s.Name, engine)
				}
			}
		}
		if physical < 2 {
			t.Errorf("the physical baseline runs %d quick workloads, want the append ones", physical)
		}
	}
}

// TestMixedOperations runs every operation, first from one worker (where
// none may fail), then from two concurrent workers (where a read may race a
// purge and find its entries compacted, and nothing else may fail).
func TestMixedOperations(t *testing.T) {
	s := workloads.BuiltinDefaults()
	s.Name, s.Family = "all", raftlogwl.Name
	s.Workers, s.Duration, s.Warmup = 2, workloads.Duration(150*time.Millisecond), 0
	s.Batch = workloads.SizeDist{Dist: workloads.DistFixed, Size: 8}
	s.Mix = map[string]float64{"append": 20, "purge": 1, "truncate": 2, "hardstate": 1, "entry": 3, "range": 3, "flush": 1, "last_index": 1}
	s.Params = map[string]string{"purge_keep": "50", "range_len": "10"}
	fam, _ := workloads.LookupFamily(raftlogwl.Name)
	target, err := fam.Open(context.Background(), "memory", &s, workloads.Env{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	g := workloads.NewGen(&s, 1, 0)
	w := target.NewWorker(0)
	ops := fam.Ops()
	for i := range 2000 {
		op := g.NextOp()
		if _, err := w.Do(op, g); err != nil {
			t.Fatalf("op %d (%s): %v", i, ops[op].Name, err)
		}
	}
	o, err := workloads.Run(context.Background(), &s, "memory", workloads.Config{Seed: 9, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// With two workers a read can lose its entry to the other worker's
	// purge (compacted) or truncate (not_found) between choosing an index
	// and reading it; the loop above shows one worker alone meets no error.
	for kind := range o.Errors {
		if kind != "compacted" && kind != "not_found" {
			t.Errorf("concurrent mix: errors %v", o.Errors)
		}
	}
	if len(o.PerOp) != len(s.Mix) {
		t.Errorf("%d operations recorded, want %d", len(o.PerOp), len(s.Mix))
	}
}

func TestLogStateAfterMutations(t *testing.T) {
	s := workloads.BuiltinDefaults()
	s.Name, s.Family = "m", raftlogwl.Name
	s.Batch = workloads.SizeDist{Dist: workloads.DistFixed, Size: 100}
	s.Mix = map[string]float64{"append": 1}
	s.Params = map[string]string{"purge_keep": "150", "purge_step": "60", "truncate_len": "30"}
	fam, _ := workloads.LookupFamily(raftlogwl.Name)
	target, err := fam.Open(context.Background(), "memory", &s, workloads.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	g := workloads.NewGen(&s, 1, 0)
	w := target.NewWorker(0)
	do := func(op int) workloads.Work {
		t.Helper()
		work, err := w.Do(op, g)
		if err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
		return work
	}
	for range 4 {
		do(raftlogwl.OpAppend)
	}
	if got := do(raftlogwl.OpPurge).Items; got != 60 {
		t.Errorf("purge removed %d, want purge_step 60", got)
	}
	if got := do(raftlogwl.OpTruncate).Items; got != 30 {
		t.Errorf("truncate removed %d, want 30", got)
	}
	do(raftlogwl.OpAppend) // term 2 from 371
	if got := do(raftlogwl.OpRange).Items; got != 100 {
		t.Errorf("range read %d entries, want range_len 100", got)
	}
	if got := do(raftlogwl.OpPurge).Items; got != 60 {
		t.Errorf("second purge removed %d, want 60", got)
	}
	if got := do(raftlogwl.OpReset).Items; got != 470-120 {
		t.Errorf("reset removed %d, want 350", got)
	}
	if got := do(raftlogwl.OpEntry).Items; got != 0 {
		t.Errorf("entry on an empty log read %d", got)
	}
}

func TestFamilyRejectsImpossibleMixes(t *testing.T) {
	head := "name: t\ndefaults: {family: raftlog}\nworkloads:\n"
	for _, tc := range []struct {
		name, body, field, msg string
	}{
		{"reads of an empty log", "  - name: r\n    mix: {range: 1}\n", "mix.range", "stays empty"},
		{"reset without append", "  - name: r\n    preload: 10\n    mix: {reset: 1, entry: 1}\n", "mix.reset", "without append"},
		{"purge that keeps all", "  - name: r\n    preload: 100\n    mix: {purge: 1}\n    params: {purge_keep: 1000}\n", "params.purge_keep", "never removes"},
		{"bad param", "  - name: r\n    mix: {append: 1}\n    params: {range_len: 0}\n", "params.range_len", "1..10000000"},
		{"bad bool", "  - name: r\n    mix: {append: 1}\n    params: {sync: maybe}\n", "params.sync", "true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := workloads.ParseSuite("f.yaml", []byte(head+tc.body))
			var se *workloads.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a SpecError", err)
			}
			if !strings.HasSuffix(se.Field, tc.field) || !strings.Contains(se.Msg, tc.msg) || se.Line < 4 {
				t.Errorf("got %v, want field %s and %q", err, tc.field, tc.msg)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	fam := raftlogwl.Family{}
	for err, want := range map[error]string{
		raftlog.ErrCompacted:                            "compacted",
		errors.Join(errors.New("x"), raftlog.ErrFailed): "failed",
		errors.New("disk on fire"):                      "other",
	} {
		if got := fam.ErrorKind(err); got != want {
			t.Errorf("ErrorKind(%v) = %s, want %s", err, got, want)
		}
	}
}
