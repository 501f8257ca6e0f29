package benchcli

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	"github.com/ordeal-dev/ordeal/results"
)

// delayEngine is the memory engine with a sleep of params.delay in every
// PersistEntries: a stand-in for an engine option that costs a fixed time
// per write (an extra fsync). A sleep, unlike a busy wait, keeps the
// measurement steady on a machine whose CPUs other processes keep busy: a
// thread that sleeps is scheduled promptly when it wakes, one that spins
// loses whole time slices.
type delayEngine struct {
	*memory.Engine
	delay time.Duration
}

func (e *delayEngine) Log() raftlog.LogStore { return e }

func (e *delayEngine) PersistEntries(b []raftlog.Entry) error {
	time.Sleep(e.delay)
	return e.Engine.PersistEntries(b)
}

const delayEngineName = "benchtest-delay"

func init() {
	raftlog.Register(delayEngineName, func(o raftlog.Options) (raftlog.Engine, error) {
		d, err := time.ParseDuration(o.Params["delay"])
		if err != nil {
			return nil, err
		}
		m, err := memory.Open(raftlog.Options{})
		if err != nil {
			return nil, err
		}
		return &delayEngine{Engine: m, delay: d}, nil
	})
}

const compareSuite = `name: compare-test
defaults:
  family: raftlog
  duration: 200ms
  warmup: 20ms
workloads:
  - name: append
    batch: {dist: fixed, size: 8}
    mix: {append: 50, purge: 1}
    pick: cycle
    params: {purge_keep: "1000"}
`

// interleavedRuns runs the suite count times for each of two delay
// settings, alternating, so that a change in the machine's load between
// iterations falls on both sides alike, and stores the two runs.
func interleavedRuns(t *testing.T, oldDelay, newDelay string, count int) (oldDir, newDir string) {
	t.Helper()
	dir := t.TempDir()
	suite := filepath.Join(dir, "suite.yaml")
	if err := os.WriteFile(suite, []byte(compareSuite), 0o644); err != nil {
		t.Fatal(err)
	}
	var runs [2]*results.Run
	for i := range count {
		for side, delay := range []string{oldDelay, newDelay} {
			r, err := RunSuite(context.Background(), RunOptions{
				Suite: suite, Engines: delayEngineName, Count: 1, Seed: uint64(i + 1), Scratch: dir,
				EngineParams:     map[string]map[string]string{"raftlog/" + delayEngineName: {"delay": delay}},
				OverheadDuration: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if runs[side] == nil {
				runs[side] = r
				continue
			}
			for _, res := range r.Results {
				res.Iteration = i
				runs[side].Results = append(runs[side].Results, res)
			}
		}
	}
	oldDir, newDir = filepath.Join(dir, "old"), filepath.Join(dir, "new")
	if err := results.Write(oldDir, runs[0]); err != nil {
		t.Fatal(err)
	}
	if err := results.Write(newDir, runs[1]); err != nil {
		t.Fatal(err)
	}
	return oldDir, newDir
}

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	no := false
	code := MainIO(args, IO{Stdout: &out, Stderr: &errb, TTY: &no})
	return code, out.String(), errb.String()
}

// TestCompareFlagsSlowdown: every append waits 6ms instead of 5ms, 20%
// slower (whole milliseconds: the runtime's timers round sleeps up to the
// next millisecond here), over ten interleaved iterations each.
func TestCompareFlagsSlowdown(t *testing.T) {
	oldDir, newDir := interleavedRuns(t, "5ms", "6ms", 10)
	code, out, errs := runMain(t, "compare", oldDir, newDir)
	if code != ExitRegression {
		t.Fatalf("exit %d, want %d (regression)\n%s%s", code, ExitRegression, out, errs)
	}
	flagged := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "workload=append/engine="+delayEngineName) {
			continue
		}
		f := strings.Fields(line)
		if len(f) > 2 && strings.Contains(line, "REGRESSION") {
			flagged[f[1]] = true
		}
		// A significant rise of throughput would be wrong; a change within
		// the noise ("~") says nothing either way on a loaded machine.
		if len(f) > 7 && (f[1] == "entries/s" || f[1] == "ops/s") && !strings.HasPrefix(f[6], "-") && !strings.HasSuffix(strings.TrimSpace(line), "~") {
			t.Errorf("throughput rose significantly: %s", line)
		}
	}
	if !flagged["entries/s"] && !flagged["p50-ns"] {
		t.Errorf("neither the entries/s nor the median latency of the slowed engine flagged:\n%s", out)
	}
}

// TestCompareQuietOnSameCode: the same engine and settings on both sides
// must never be flagged.
func TestCompareQuietOnSameCode(t *testing.T) {
	oldDir, newDir := interleavedRuns(t, "5ms", "5ms", 10)
	code, out, errs := runMain(t, "compare", oldDir, newDir)
	if code != ExitOK {
		t.Fatalf("exit %d on two runs of the same code, want 0\n%s%s", code, out, errs)
	}
	if strings.Contains(out, "REGRESSION") {
		t.Errorf("regression reported:\n%s", out)
	}
}

func writeBench(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	return writeBenchOn(t, dir, name, "testmachine", lines...)
}

// writeBenchOn writes a bench.txt whose machine line says machine ("" for
// none).
func writeBenchOn(t *testing.T, dir, name, machine string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	head := "Unit ops/s better=higher\nUnit p99-ns better=lower\n"
	if machine != "" {
		head = results.MachineKey + machine + "\n" + head
	}
	tail := results.EndMarker + strconv.Itoa(len(lines)) + "\n"
	if err := os.WriteFile(p, []byte(head+strings.Join(lines, "\n")+"\n"+tail), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func series(name string, opsBase, p99Base float64, n int) []string {
	var out []string
	for i := range n {
		jitter := float64(i%5) * 0.004
		out = append(out, name+" 100 1 ns/op "+ftoa(opsBase*(1+jitter))+" ops/s "+ftoa(p99Base*(1+jitter))+" p99-ns")
	}
	return out
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// TestCompareDecision checks the decision on fixed samples: the direction
// of each unit, the minimum effect, and alpha.
func TestCompareDecision(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name               string
		oldOps, oldP99     float64
		newOps, newP99     float64
		n                  int
		minEffect          string
		wantCode, wantRegs int
		wantImproved       int
	}{
		{"throughput down 20%", 1000, 100, 800, 100, 10, "5%", ExitRegression, 1, 0},
		{"latency up 20%", 1000, 100, 1000, 120, 10, "5%", ExitRegression, 1, 0},
		{"latency down 20% is an improvement", 1000, 100, 1000, 80, 10, "5%", ExitOK, 0, 1},
		{"significant but below the minimum effect", 1000, 100, 970, 100, 10, "5%", ExitOK, 0, 0},
		{"the same", 1000, 100, 1000, 100, 10, "5%", ExitOK, 0, 0},
		{"too few samples is inconclusive, never a pass", 1000, 100, 500, 100, 2, "5%", ExitInconclusive, 0, 0},
		{"four per side is below the default minimum", 1000, 100, 500, 100, 4, "5%", ExitInconclusive, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := writeBench(t, dir, "old.txt", series("BenchmarkX/engine=a", tc.oldOps, tc.oldP99, tc.n)...)
			n := writeBench(t, dir, "new.txt", series("BenchmarkX/engine=a", tc.newOps, tc.newP99, tc.n)...)
			cmp, err := Compare(o, n, CompareOptions{Alpha: 0.05, MinEffect: mustPercent(t, tc.minEffect)})
			if err != nil {
				t.Fatal(err)
			}
			if cmp.Regressions != tc.wantRegs || cmp.Improvement != tc.wantImproved {
				var b bytes.Buffer
				cmp.Print(&b, true)
				t.Errorf("%d regressions, %d improvements; want %d, %d\n%s", cmp.Regressions, cmp.Improvement, tc.wantRegs, tc.wantImproved, b.String())
			}
			code, out, _ := runMain(t, "compare", "--min-effect", tc.minEffect, o, n)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
		})
	}
}

func mustPercent(t *testing.T, s string) float64 {
	t.Helper()
	v, err := parsePercent(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCompareUsage(t *testing.T) {
	for _, args := range [][]string{
		{"compare"},
		{"compare", "only-one"},
		{"compare", "--min-effect", "lots", "a", "b"},
		{"compare", "/nonexistent/a", "/nonexistent/b"},
		{"compare", "--alpha", "2", "a", "b"},
		{"compare", "--min-effect", "5", "a", "b"},
		{"compare", "--min-samples", "0", "a", "b"},
	} {
		if code, _, _ := runMain(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// TestCompareFiveAgainstOne is the case: five baseline samples
// with tied values against one new sample below them all. The exact
// two-sided p is 1/3, nothing can be flagged, and the verdict is
// inconclusive (exit 3), not a pass.
func TestCompareFiveAgainstOne(t *testing.T) {
	dir := t.TempDir()
	o := writeBench(t, dir, "old.txt",
		"BenchmarkX/engine=a 1 1 ns/op 101 ops/s 101 p99-ns", "BenchmarkX/engine=a 1 1 ns/op 100 ops/s 100 p99-ns",
		"BenchmarkX/engine=a 1 1 ns/op 101 ops/s 101 p99-ns", "BenchmarkX/engine=a 1 1 ns/op 90 ops/s 90 p99-ns",
		"BenchmarkX/engine=a 1 1 ns/op 100 ops/s 100 p99-ns")
	n := writeBench(t, dir, "new.txt", "BenchmarkX/engine=a 1 1 ns/op 71 ops/s 71 p99-ns")
	cmp, err := Compare(o, n, CompareOptions{Alpha: 0.05, MinEffect: 0.05, MinSamples: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cmp.Deltas {
		if math.Abs(d.P-1.0/3) > 1e-12 || !d.Insufficient || d.Regression || d.Improvement {
			t.Errorf("%s %s: p %g insufficient %v regression %v improvement %v; want p 1/3, insufficient",
				d.Name, d.Unit, d.P, d.Insufficient, d.Regression, d.Improvement)
		}
	}
	code, out, _ := runMain(t, "compare", o, n)
	if code != ExitInconclusive || !strings.Contains(out, "insufficient samples") || strings.Contains(out, "verdict: ok") {
		t.Errorf("exit %d, want %d with \"insufficient samples\"\n%s", code, ExitInconclusive, out)
	}
}

// TestCompareMissingInNew: a benchmark of old that new lacks fails the
// comparison unless --allow-missing.
func TestCompareMissingInNew(t *testing.T) {
	dir := t.TempDir()
	o := writeBench(t, dir, "old.txt", append(series("BenchmarkX/engine=a", 1000, 100, 10), series("BenchmarkX/engine=b", 1000, 100, 10)...)...)
	n := writeBench(t, dir, "new.txt", series("BenchmarkX/engine=a", 1000, 100, 10)...)
	code, out, _ := runMain(t, "compare", o, n)
	if code != ExitRegression || !strings.Contains(out, "MISSING in new") || !strings.Contains(out, "verdict: FAIL") {
		t.Errorf("exit %d, want %d with MISSING\n%s", code, ExitRegression, out)
	}
	if code, out, _ := runMain(t, "compare", "--allow-missing", o, n); code != ExitOK {
		t.Errorf("--allow-missing: exit %d, want 0\n%s", code, out)
	}
}

// TestCompareDetectsTruncation: a bench.txt cut mid-line, cut at a line
// boundary (the end line gone), or with one line short of its units is an
// error naming the file, never a comparison of what is left.
func TestCompareDetectsTruncation(t *testing.T) {
	dir := t.TempDir()
	o := writeBench(t, dir, "old.txt", series("BenchmarkX/engine=a", 1000, 100, 10)...)
	full, err := os.ReadFile(o)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(full), "\n")
	damaged := map[string]string{
		"mid-line":       string(full[:len(full)/2]),
		"line boundary":  strings.Join(lines[:len(lines)-4], ""),
		"units short":    strings.Replace(string(full), " "+ftoa(100*(1+0.004))+" p99-ns", "", 1),
		"end line wrong": strings.Replace(string(full), results.EndMarker+"10", results.EndMarker+"12", 1),
	}
	for name, content := range damaged {
		t.Run(name, func(t *testing.T) {
			n := filepath.Join(t.TempDir(), "bench.txt")
			if err := os.WriteFile(n, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Compare(o, n, CompareOptions{Alpha: 0.05}); !errors.Is(err, errTruncated) {
				t.Errorf("Compare: %v, want errTruncated", err)
			}
			code, out, errs := runMain(t, "compare", o, n)
			if code != ExitUsage || !strings.Contains(errs, "truncated") || !strings.Contains(errs, n) {
				t.Errorf("exit %d, want %d naming %s as truncated\n%s%s", code, ExitUsage, n, out, errs)
			}
		})
	}
}

// TestCompareBenjaminiHochberg: a 4% throughput gain with p = 0.014
// (ten samples a side, shifted by 4) is flagged when it is the only
// benchmark, and not among 50 unchanged ones, where a p that small turns
// up by chance: its q-value, p times the 102 deciding tests over its rank,
// is 1.
func TestCompareBenjaminiHochberg(t *testing.T) {
	var oldW, newW []string
	for i := range 10 {
		oldW = append(oldW, "BenchmarkX/engine=weak 1 1 ns/op "+ftoa(100+float64(i))+" ops/s 1000 p99-ns")
		newW = append(newW, "BenchmarkX/engine=weak 1 1 ns/op "+ftoa(104+float64(i))+" ops/s 1000 p99-ns")
	}
	var oldMany, newMany []string
	for i := range 50 {
		name := "BenchmarkX/engine=e" + strconv.Itoa(i)
		oldMany = append(oldMany, series(name, 1000, 100, 10)...)
		newMany = append(newMany, series(name, 1000, 100, 10)...)
	}
	for _, tc := range []struct {
		name     string
		old, new []string
		flagged  bool
	}{
		{"alone", oldW, newW, true},
		{"among 50 unchanged", append(oldMany, oldW...), append(newMany, newW...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := writeBench(t, dir, "old.txt", tc.old...)
			n := writeBench(t, dir, "new.txt", tc.new...)
			cmp, err := Compare(o, n, CompareOptions{Alpha: 0.05, MinEffect: 0.03})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range cmp.Deltas {
				if d.Name != "X/engine=weak" || d.Unit != "ops/s" {
					continue
				}
				found = true
				if math.Abs(d.P-0.01381281257442248) > 1e-9 || d.Improvement != tc.flagged || d.Q < d.P {
					t.Errorf("p %g q %g improvement %v; want p 0.0138 and flagged %v", d.P, d.Q, d.Improvement, tc.flagged)
				}
			}
			if !found {
				t.Fatal("weak benchmark not compared")
			}
		})
	}
}

// TestCompareRefusesOtherMachines: runs whose machine fingerprints differ,
// or whose machine is unknown, are not compared (exit 2) unless
// --allow-machine-mismatch; the refusal names the fields that differ.
func TestCompareRefusesOtherMachines(t *testing.T) {
	dir := t.TempDir()
	o := writeBenchOn(t, dir, "old.txt", "m1", series("BenchmarkX/engine=a", 1000, 100, 10)...)
	n := writeBenchOn(t, dir, "new.txt", "m2", series("BenchmarkX/engine=a", 1000, 100, 10)...)
	unknown := writeBenchOn(t, dir, "unknown.txt", "", series("BenchmarkX/engine=a", 1000, 100, 10)...)
	for _, pair := range [][2]string{{o, n}, {o, unknown}} {
		code, out, errs := runMain(t, "compare", pair[0], pair[1])
		if code != ExitUsage || !strings.Contains(errs, "machine") || !strings.Contains(errs, "--allow-machine-mismatch") {
			t.Errorf("%v: exit %d, want %d refusing the machines\n%s%s", pair, code, ExitUsage, out, errs)
		}
		code, out, _ = runMain(t, "compare", "--allow-machine-mismatch", pair[0], pair[1])
		if code != ExitOK || !strings.Contains(out, "WARNING") {
			t.Errorf("%v --allow-machine-mismatch: exit %d, want 0 with a warning\n%s", pair, code, out)
		}
	}

	// Two stored runs: the baseline's machine edited to darwin/arm64 with
	// 16 cores.
	run := func(m results.Machine) string {
		r := &results.Run{Machine: m, Seed: 1}
		for i := range 5 {
			r.Results = append(r.Results, results.Result{Engine: "raftlog/a", Family: "raftlog", Workload: "w", Base: "w",
				Ops: 100, OpsPerSec: 100 + float64(i), ElapsedNs: 1e9, Iteration: i})
		}
		d := filepath.Join(t.TempDir(), "run")
		if err := results.Write(d, r); err != nil {
			t.Fatal(err)
		}
		return d
	}
	here := results.Machine{CPU: "AMD EPYC", Cores: 2, MemoryBytes: 24 << 30, OS: "linux", Arch: "amd64", Kernel: "6.18", FileSystem: "ext4"}
	there := here
	there.OS, there.Arch, there.Cores = "darwin", "arm64", 16
	code, out, errs := runMain(t, "compare", run(here), run(there))
	for _, want := range []string{"cores 2 vs 16", "os linux vs darwin", "arch amd64 vs arm64"} {
		if code != ExitUsage || !strings.Contains(errs, want) {
			t.Errorf("exit %d, want %d naming %q\n%s%s", code, ExitUsage, want, out, errs)
		}
	}
	if code, out, errs := runMain(t, "compare", run(here), run(here)); code != ExitOK || !strings.Contains(out, "same machine") {
		t.Errorf("same machine: exit %d\n%s%s", code, out, errs)
	}
}
