package benchcli

import (
	"bytes"
	"context"
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
		if len(f) > 7 && (f[1] == "entries/s" || f[1] == "ops/s") && !strings.HasPrefix(f[6], "-") {
			t.Errorf("throughput did not drop: %s", line)
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
	p := filepath.Join(dir, name)
	head := "Unit ops/s better=higher\nUnit p99-ns better=lower\n"
	if err := os.WriteFile(p, []byte(head+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
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
		{"too few samples to tell", 1000, 100, 500, 100, 2, "5%", ExitOK, 0, 0},
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
	} {
		if code, _, _ := runMain(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
