package results

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/ordeal-dev/ordeal/workloads"
	_ "github.com/ordeal-dev/ordeal/workloads/raftlogwl"
)

func sampleRun() *Run {
	lat := Latency{Count: 10, P50: 1000, P90: 2000, P99: 3000, P999: 4000, P9999: 5000, Max: 6000}
	return &Run{
		ID: "r", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seed: 42, Suite: "quick", Count: 2,
		Machine: Machine{OS: "linux", Arch: "amd64", CPU: "cpu", FileSystem: "ext4"}, Commit: "abc",
		Engines: []string{"raftlog/file", "raftlog/physical"},
		Results: []Result{
			{Engine: "raftlog/file", Family: "raftlog", Workload: "append", Base: "append", Ops: 100, Items: 6400, ItemUnit: "entries",
				OpsPerSec: 100, ItemsPerSec: 6400, ElapsedNs: 1e9, Latency: lat, Errors: map[string]int64{"compacted": 2},
				PerOp: []OpResult{{Op: "append", Ops: 98, Latency: lat}, {Op: "purge", Ops: 2, Latency: lat}}},
			{Engine: "raftlog/physical", Family: "raftlog", Workload: "append", Base: "append", Ops: 160, Items: 8000, ItemUnit: "entries",
				OpsPerSec: 160, ItemsPerSec: 8000, ElapsedNs: 1e9, Latency: lat},
			{Engine: "raftlog/file", Family: "raftlog", Workload: "value-sweep/value=1KiB", Base: "value-sweep", Labels: map[string]string{"value": "1KiB"},
				Ops: 10, OpsPerSec: 10, ElapsedNs: 1e9, Latency: lat, Mode: workloads.Closed},
		},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	run := sampleRun()
	if err := Write(dir, run); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != SchemaVersion || got.Seed != 42 || len(got.Results) != 3 || got.Results[0].Errors["compacted"] != 2 || got.Dir != dir {
		t.Errorf("round trip: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if _, err := Read(t.TempDir()); !errors.Is(err, ErrNoResults) {
		t.Errorf("empty dir: %v", err)
	}
	bad := filepath.Join(t.TempDir(), JSONFile)
	os.WriteFile(bad, []byte(`{"schema": 99}`), 0o644)
	if _, err := Read(bad); !errors.Is(err, ErrSchema) {
		t.Errorf("schema 99: %v", err)
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Errorf("read %q, want %q", b, content)
		}
	}
	if err := WriteFileAtomic(filepath.Join(t.TempDir(), "missing", "f"), nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// TestBenchFormatReadsBack parses bench.txt with golang.org/x/perf's reader,
// as benchstat does.
func TestBenchFormatReadsBack(t *testing.T) {
	run := sampleRun()
	run.ComputeBaselines()
	var buf bytes.Buffer
	if err := WriteBench(&buf, run); err != nil {
		t.Fatal(err)
	}
	r := benchfmt.NewReader(&buf, "bench.txt")
	values := map[string]map[string]float64{}
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Fatalf("syntax error: %v", rec)
		case *benchfmt.Result:
			m := map[string]float64{}
			for _, v := range rec.Values {
				u, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					u, val = v.OrigUnit, v.OrigValue
				}
				m[u] = val
			}
			values[rec.Name.String()] = m
		}
	}
	file := values["Raftlog/workload=append/engine=file"]
	if file["entries/s"] != 6400 || file["p99-ns"] != 3000 || file["errors"] != 2 || file["of-baseline"] != 0.8 {
		t.Errorf("file append: %v", file)
	}
	if _, ok := values["Raftlog/workload=append/engine=file/op=purge"]; !ok {
		t.Errorf("no per-op line: %v", values)
	}
	if _, ok := values["Raftlog/workload=value-sweep/value=1KiB/engine=file"]; !ok {
		t.Errorf("sweep point not named by its label: %v", values)
	}
	units := r.Units()
	if units.GetBetter("entries/s") != 1 || units.GetBetter("p99-ns") != -1 {
		t.Errorf("unit directions: entries/s %d, p99-ns %d", units.GetBetter("entries/s"), units.GetBetter("p99-ns"))
	}
}

func TestComputeBaselines(t *testing.T) {
	run := sampleRun()
	run.ComputeBaselines()
	if got := run.Results[0].OfBaseline; got != 0.8 {
		t.Errorf("file of physical = %v, want 0.8", got)
	}
	if got := run.Results[2].OfBaseline; got != 0 {
		t.Errorf("a workload the baseline did not run has fraction %v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCollectMachine(t *testing.T) {
	m := CollectMachine(t.TempDir())
	if m.Cores < 1 || m.OS == "" || m.FileSystem == "" {
		t.Errorf("machine %+v", m)
	}
}
