package adapterwl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/workloads"
	"github.com/ordeal-dev/ordeal/workloads/adapterwl"
	"github.com/ordeal-dev/ordeal/workloads/workloadstest"

	// The built-in suites name the other families too.
	_ "github.com/ordeal-dev/ordeal/workloads/raftlogwl"
	_ "github.com/ordeal-dev/ordeal/workloads/streamswl"
	_ "github.com/ordeal-dev/ordeal/workloads/tieredwl"
)

func shorten(s *workloads.Spec) {
	s.Duration, s.Warmup = workloads.Duration(80*time.Millisecond), workloads.Duration(10*time.Millisecond)
	s.Preload = min(s.Preload, 3000)
}

// TestBuiltinSuites runs the adapter workloads of every built-in suite, cut
// short, on every engine that supports them.
func TestBuiltinSuites(t *testing.T) {
	fam, err := workloads.LookupFamily(adapterwl.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"memory", "segment", "manager", "pebble", "jetstream", "jetstream-sync-always", adapterwl.GoMap, adapterwl.Physical} {
		if !strings.Contains(strings.Join(fam.Engines(), ","), engine) {
			t.Errorf("engine %s missing from %v", engine, fam.Engines())
		}
	}
	for _, name := range workloads.SuiteNames() {
		suite, err := workloads.LoadSuite(name)
		if err != nil {
			t.Fatalf("suite %s: %v", name, err)
		}
		n := 0
		for _, w := range suite.Workloads {
			if w.Family != adapterwl.Name {
				continue
			}
			n++
			if name != "quick" {
				continue
			}
			s := w.Clone()
			shorten(&s)
			for _, engine := range []string{"memory", "segment", adapterwl.GoMap, adapterwl.Physical} {
				if !fam.Supports(engine, &s) {
					continue
				}
				o, err := workloadstest.RunShort(context.Background(), &s, engine, workloads.Config{Seed: 5, Dir: t.TempDir(), ProbeDuration: 30 * time.Millisecond})
				if err != nil {
					t.Fatalf("%s on %s: %v", s.Name, engine, err)
				}
				if len(o.Errors) > 0 {
					t.Errorf("%s on %s: errors %v", s.Name, engine, o.Errors)
				}
				if o.Items == 0 {
					t.Errorf("%s on %s: no records moved", s.Name, engine)
				}
			}
		}
		if n < 3 {
			t.Errorf("suite %s has %d adapter workloads, want at least 3", name, n)
		}
	}
}

// TestEveryOperation runs every operation from two workers on each kind of
// engine: none may fail.
func TestEveryOperation(t *testing.T) {
	s := workloads.BuiltinDefaults()
	s.Name, s.Family = "all", adapterwl.Name
	s.Workers, s.Duration, s.Warmup = 2, workloads.Duration(120*time.Millisecond), 0
	s.Batch = workloads.SizeDist{Dist: workloads.DistFixed, Size: 8}
	s.Preload = 500
	s.Mix = map[string]float64{"produce": 4, "consume": 2, "tag_scan": 1, "key_lookup": 1, "ts_seek": 1, "commit": 1, "drain": 2}
	s.Params = map[string]string{"shards": "2", "read_len": "10", "tags": "4"}
	s.Keys = workloads.KeyDist{Dist: workloads.KeysUniform, Count: 100}
	fam, _ := workloads.LookupFamily(adapterwl.Name)
	if errs := fam.Validate(&s); len(errs) > 0 {
		t.Fatal(errs)
	}
	if fam.Supports(adapterwl.Physical, &s) {
		t.Error("the physical baseline claims to run reads")
	}
	for _, engine := range []string{"memory", "segment", "pebble", "manager", "jetstream", adapterwl.GoMap} {
		o, err := workloads.Run(context.Background(), &s, engine, workloads.Config{Seed: 9, Dir: t.TempDir(), ProbeDuration: 30 * time.Millisecond})
		if err != nil {
			t.Fatalf("%s: %v", engine, err)
		}
		if len(o.Errors) > 0 {
			t.Errorf("%s: errors %v", engine, o.Errors)
		}
		for _, op := range o.PerOp {
			if op.Ops == 0 {
				t.Errorf("%s: %s never ran", engine, op.Op)
			}
		}
		if o.Items == 0 {
			t.Errorf("%s: no records moved", engine)
		}
	}
}

func TestValidate(t *testing.T) {
	fam, _ := workloads.LookupFamily(adapterwl.Name)
	for _, tc := range []struct {
		name  string
		mix   map[string]float64
		pre   workloads.Size
		param map[string]string
		field string
	}{
		{"consume of an empty shard", map[string]float64{"consume": 1}, 0, nil, "mix.consume"},
		{"unknown route", map[string]float64{"produce": 1}, 0, map[string]string{"route": "nope"}, "params.route"},
		{"manager routing to itself", map[string]float64{"produce": 1}, 0, map[string]string{"route": "manager"}, "params.route"},
		{"drain of a backlog", map[string]float64{"drain": 1}, 10, nil, ""},
	} {
		s := workloads.BuiltinDefaults()
		s.Family, s.Mix, s.Preload, s.Params = adapterwl.Name, tc.mix, tc.pre, tc.param
		errs := fam.Validate(&s)
		switch {
		case tc.field == "" && len(errs) > 0:
			t.Errorf("%s: unexpected %v", tc.name, errs)
		case tc.field != "" && (len(errs) == 0 || errs[0].Field != tc.field):
			t.Errorf("%s: got %v, want an error on %s", tc.name, errs, tc.field)
		}
	}
}
