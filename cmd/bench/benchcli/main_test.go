package benchcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	"github.com/ordeal-dev/ordeal/reports"
	"github.com/ordeal-dev/ordeal/results"
)

func TestRunWritesResultsAndReport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "runs", "one")
	code, stdout, stderr := runMain(t, "run", "--engines", "memory,physical", "--workloads", "append,hardstate",
		"--duration", "300ms", "--warmup", "20ms", "--count", "2", "--seed", "7", "--out", out, "--scratch", dir)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{results.JSONFile, results.BenchFile, reports.HTMLFile, "charts/throughput.png", "charts/throughput.svg", "charts/latency-append.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout, filepath.Join(out, reports.HTMLFile)) {
		t.Errorf("report path not printed:\n%s", stdout)
	}
	run, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if run.Seed != 7 || run.Count != 2 || run.Suite != "quick" || run.Machine.Cores == 0 || run.GoVersion == "" {
		t.Errorf("run header %+v", run)
	}
	if !strings.Contains(run.Command, "--seed 7") || !strings.Contains(run.Command, "go run ./cmd/bench run") {
		t.Errorf("command %q does not reproduce the run", run.Command)
	}
	// memory and physical on append, 2 iterations, and memory on
	// hardstate and physical on hardstate: 8 results.
	if len(run.Results) != 8 {
		t.Fatalf("%d results, want 8", len(run.Results))
	}
	var fraction float64
	for _, r := range run.Results {
		if r.Engine == "raftlog/memory" && r.Workload == "append" {
			fraction = r.OfBaseline
		}
		if r.Ops == 0 || r.Latency.Count == 0 || len(r.Latency.Spectrum) == 0 {
			t.Errorf("%s %s: empty result", r.Engine, r.Workload)
		}
	}
	if fraction <= 0 {
		t.Error("memory's append throughput not reported against the physical baseline")
	}
	bench, _ := os.ReadFile(filepath.Join(out, results.BenchFile))
	if n := strings.Count(string(bench), "BenchmarkRaftlog/workload=append/engine=memory \t"); n != 2 {
		t.Errorf("bench.txt has %d append lines for memory, want 2:\n%s", n, bench)
	}
	html, _ := os.ReadFile(filepath.Join(out, reports.HTMLFile))
	for _, want := range []string{"data:image/png;base64,", "--seed 7", "raftlog/memory", "Targets"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	// A second run in the same store: report draws the trend from both.
	out2 := filepath.Join(dir, "runs", "two")
	time.Sleep(1100 * time.Millisecond) // distinct start times
	if code, o, e := runMain(t, "run", "--engines", "memory", "--workloads", "hardstate", "--duration", "50ms", "--warmup", "0s", "--out", out2, "--no-report"); code != ExitOK {
		t.Fatalf("second run: exit %d\n%s%s", code, o, e)
	}
	code, stdout, stderr = runMain(t, "report", filepath.Join(dir, "runs"))
	if code != ExitOK || !strings.Contains(stdout, "(2 runs)") {
		t.Fatalf("report: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out2, "charts", "trend.png")); err != nil {
		t.Errorf("trend chart: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nworkloads:\n  - name: a\n    family: raftlog\n    mix: {append: 1}\n    batch: {dist: fixed, size: 0}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"run", "--count", "0"}, "--count"},
		{[]string{"run", "--suite", "nope"}, "unknown suite"},
		{[]string{"run", "--suite", bad}, "bad.yaml:6"},
		{[]string{"run", "--engines", "nothing-like-this"}, "no engine matches"},
		{[]string{"run", "--workloads", "nothing-like-this"}, "no workload"},
		{[]string{"run", "--param", "file:x"}, "ENGINE:KEY=VALUE"},
		{[]string{"run", "extra"}, "unexpected arguments"},
		{[]string{"list", "x"}, "no arguments"},
		{[]string{"targets"}, "usage"},
		{[]string{"report"}, "usage"},
		{[]string{"report", dir}, "no results.json"},
	} {
		code, out, errs := runMain(t, tc.args...)
		if code != ExitUsage || !strings.Contains(errs+out, tc.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tc.args, code, errs+out, ExitUsage, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	code, out, _ := runMain(t, "list")
	for _, want := range []string{"raftlog/memory", "raftlog/physical  (baseline)", "suite quick", "suite nightly", "value-sweep/value=1KiB", "purge_keep"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	if code != ExitOK {
		t.Errorf("exit %d", code)
	}
}

func TestTargets(t *testing.T) {
	dir := t.TempDir()
	lat := func(ns int64) results.Latency { return results.Latency{Count: 10, P50: ns, P99: 2 * ns} }
	run := &results.Run{Engines: []string{"raftlog/fast", "raftlog/slow", "raftlog/physical"}}
	add := func(engine, workload, op string, items float64, p50 int64) {
		run.Results = append(run.Results, results.Result{Engine: engine, Family: "raftlog", Workload: workload,
			PerOp: []results.OpResult{{Op: op, Ops: 10, ItemsPerSec: items, Latency: lat(p50)}}})
	}
	add("raftlog/fast", "purge-10k", "append", 500_000, 1000)
	add("raftlog/slow", "purge-10k", "append", 50_000, 1000)
	add("raftlog/fast", "reset", "reset", 0, int64(time.Millisecond))
	add("raftlog/slow", "reset", "reset", 0, int64(2*time.Second))
	add("raftlog/physical", "purge-10k", "append", 10, 1)
	for _, tc := range []struct {
		engines string
		code    int
		want    string
	}{
		{"fast", ExitOK, "2 checked, 0 missed"},
		{"slow", ExitRegression, "2 checked, 2 missed"},
		{"", ExitRegression, "4 checked, 2 missed"},
	} {
		d := filepath.Join(dir, tc.engines+"x")
		if err := results.Write(d, run); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runMain(t, "targets", "--engines", tc.engines, d)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("--engines %q: exit %d\n%s%s\nwant %d and %q", tc.engines, code, out, errs, tc.code, tc.want)
		}
		if strings.Contains(out, "physical") {
			t.Errorf("the baseline was checked against the targets:\n%s", out)
		}
	}
}
