package benchcli

import (
	"bytes"
	"context"
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
	for _, f := range []string{results.JSONFile, results.BenchFile, reports.HTMLFile, "charts/throughput-raftlog.png", "charts/throughput-raftlog.svg", "charts/latency-append.png"} {
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
	if _, err := os.Stat(filepath.Join(out2, "charts", "trend-raftlog.png")); err != nil {
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
		{[]string{"run", "--engines", "nothing-like-this"}, `no engine is named "nothing-like-this"`},
		{[]string{"run", "--engines", "raftlog/nosuch,file"}, `no engine is named "raftlog/nosuch"`},
		{[]string{"run", "--workloads", "append,nosuch"}, `no workload of suite quick is named "nosuch"`},
		{[]string{"run", "--duration=-1s"}, "--duration -1s: want > 0"},
		{[]string{"run", "--duration=0s"}, "--duration 0s: want > 0"},
		{[]string{"run", "--warmup=-1ms"}, "--warmup -1ms: want >= 0"},
		{[]string{"run", "--history", filepath.Join(dir, "nope")}, "--history"},
		{[]string{"run", "--param", "raftlog/nosuch:x=1"}, "no engine is named raftlog/nosuch"},
		{[]string{"run", "--out", bad}, "not writable"},
		{[]string{"run", "--workloads", "nothing-like-this"}, "no workload"},
		{[]string{"compare", "--min-effect", "0.05", "a", "b"}, "give the unit"},
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

// TestRunDirectory: an existing non-empty --out is refused unless --force,
// which replaces only an earlier run's files; a directory another run
// holds is refused; nothing is measured before these checks.
func TestRunDirectory(t *testing.T) {
	dir := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"run", "--engines", "memory", "--workloads", "hardstate", "--duration", "50ms", "--warmup", "0s",
			"--no-report", "--out", out, "--scratch", dir}, extra...)
	}
	out := filepath.Join(dir, "run")
	if code, o, e := runMain(t, args(out)...); code != ExitOK {
		t.Fatalf("first run: exit %d\n%s%s", code, o, e)
	}
	stale := filepath.Join(out, reports.HTMLFile)
	if err := os.WriteFile(stale, []byte("old report"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, o, e := runMain(t, args(out)...)
	if code != ExitUsage || !strings.Contains(e, "is not empty") || !strings.Contains(e, "--force") {
		t.Errorf("second run into the same --out: exit %d, want %d naming --force\n%s%s", code, ExitUsage, o, e)
	}
	if code, o, e := runMain(t, args(out, "--force")...); code != ExitOK {
		t.Fatalf("--force: exit %d\n%s%s", code, o, e)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("--force left the earlier run's report.html beside the new results")
	}
	if _, err := os.Stat(filepath.Join(out, lockFile)); err == nil {
		t.Error("the lock file outlived the run")
	}
	foreign := filepath.Join(dir, "foreign")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	if code, o, e := runMain(t, args(foreign, "--force")...); code != ExitUsage || !strings.Contains(e, "notes.txt") {
		t.Errorf("--force over a file bench did not write: exit %d\n%s%s", code, o, e)
	}
	if _, err := os.Stat(filepath.Join(foreign, "notes.txt")); err != nil {
		t.Errorf("--force removed a file bench did not write: %v", err)
	}

	held := filepath.Join(dir, "held")
	rd, err := openRunDir(held, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.release()
	if code, o, e := runMain(t, args(held)...); code != ExitUsage || !strings.Contains(e, "another bench run") {
		t.Errorf("run into a held directory: exit %d, want %d\n%s%s", code, ExitUsage, o, e)
	}
}

// TestRunInterruptedKeepsResults cancels a run (as SIGINT does) after its
// first steps: the finished results are written, the run is marked
// partial and the exit code is 3.
func TestRunInterruptedKeepsResults(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	// Interrupt when the second step's line is logged.
	stderr := &cancelOn{cancel: cancel, marker: "[2/12]"}
	no := false
	code := cmdRun(ctx, []string{"--engines", "memory", "--workloads", "hardstate,append,conflict,reset", "--duration", "300ms", "--warmup", "0s",
		"--count", "3", "--out", out, "--scratch", dir}, IO{Stdout: &stdout, Stderr: stderr, TTY: &no})
	if code != ExitInconclusive {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitInconclusive, stdout.String(), stderr.String())
	}
	run, err := results.Read(out)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	if run.Partial == "" || len(run.Results) == 0 || len(run.Results) >= 12 {
		t.Errorf("partial %q with %d results; want marked partial with some of the 12", run.Partial, len(run.Results))
	}
	if !strings.Contains(stdout.String(), "PARTIAL") {
		t.Errorf("no PARTIAL in the output:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, reports.HTMLFile)); err != nil {
		t.Errorf("no report for the partial run: %v", err)
	}
}

// cancelOn is a log writer that cancels a context when a marker is written.
type cancelOn struct {
	bytes.Buffer
	cancel func()
	marker string
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.marker) {
		c.cancel()
	}
	return c.Buffer.Write(p)
}
