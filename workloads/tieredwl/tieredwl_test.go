package tieredwl_test

import (
	"context"
	"slices"
	"testing"
	"time"

	_ "github.com/ordeal-dev/ordeal/engines/tiered/durable"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/workloads"
	"github.com/ordeal-dev/ordeal/workloads/tieredwl"
)

func spec(name string, mix map[string]float64, params map[string]string) workloads.Spec {
	s := workloads.BuiltinDefaults()
	s.Name, s.Family = name, tieredwl.Name
	s.Duration, s.Warmup = workloads.Duration(100*time.Millisecond), 0
	s.Mix, s.Params = mix, params
	return s
}

func run(t *testing.T, s workloads.Spec, engine string) *workloads.Outcome {
	t.Helper()
	o, err := workloads.Run(context.Background(), &s, engine, workloads.Config{Seed: 1, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("%s on %s: %v", s.Name, engine, err)
	}
	if o.Ops == 0 {
		t.Fatalf("%s on %s: no operations", s.Name, engine)
	}
	if len(o.Errors) > 0 {
		t.Fatalf("%s on %s: errors %v", s.Name, engine, o.Errors)
	}
	return o
}

func TestEngines(t *testing.T) {
	fam, err := workloads.LookupFamily(tieredwl.Name)
	if err != nil {
		t.Fatal(err)
	}
	got := fam.Engines()
	for _, want := range []string{"durable", "memory", tieredwl.RawCopy} {
		if !slices.Contains(got, want) {
			t.Errorf("engines %v lack %s", got, want)
		}
	}
	if fam.Baseline() != tieredwl.RawCopy {
		t.Errorf("baseline %q", fam.Baseline())
	}
}

func TestCopyCountsSegmentBytes(t *testing.T) {
	p := map[string]string{"segment_size": "64KiB", "retain": "2"}
	for _, e := range []string{"durable", "memory", tieredwl.RawCopy} {
		o := run(t, spec("copy", map[string]float64{"copy": 1}, p), e)
		if o.Items != o.Ops*64<<10 || o.BytesWritten != o.Items {
			t.Errorf("%s: %d copies made %d items, %d bytes written", e, o.Ops, o.Items, o.BytesWritten)
		}
	}
}

func TestLookupsOnPreload(t *testing.T) {
	for _, e := range []string{"durable", "memory"} {
		s := spec("lookup", map[string]float64{"lookup": 10, "highest": 1}, map[string]string{"metadata_fs": "mem"})
		s.Preload = 3000
		o := run(t, s, e)
		if o.Ops < 10 {
			t.Errorf("%s: %d lookups", e, o.Ops)
		}
	}
}

func TestFetchAndCopyTogether(t *testing.T) {
	s := spec("fetch", map[string]float64{"fetch": 4, "copy": 1, "lookup": 2},
		map[string]string{"segment_size": "32KiB", "fetch_len": "4KiB", "fetch_segments": "2", "retain": "1"})
	s.Workers = 2
	o := run(t, s, "durable")
	if o.BytesRead == 0 {
		t.Error("no bytes fetched")
	}
}

func TestBaselineOnlyCopies(t *testing.T) {
	fam, _ := workloads.LookupFamily(tieredwl.Name)
	s := spec("fetch", map[string]float64{"fetch": 1}, nil)
	if fam.Supports(tieredwl.RawCopy, &s) {
		t.Error("the baseline claims to fetch")
	}
	s = spec("lookup", map[string]float64{"lookup": 1}, nil)
	if errs := fam.Validate(&s); len(errs) == 0 {
		t.Error("lookups with no segment validated")
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []map[string]string{{"segment_size": "0"}, {"metadata_fs": "tape"}, {"retain": "-1"}} {
		s := spec("bad", map[string]float64{"copy": 1}, p)
		if errs := s.Validate(); len(errs) == 0 {
			t.Errorf("params %v validated", p)
		}
	}
}
