package benchcli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mainEnv makes the test binary run as the bench command, so that bench
// ab can run it as both sides.
const mainEnv = "ORDEAL_BENCHCLI_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// abArgs runs bench ab with the test binary as base and head, eight
// iterations of the sleeping no-op suite.
func abArgs(t *testing.T, extra ...string) (code int, out, errs, dir string) {
	t.Helper()
	t.Setenv(mainEnv, "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	args := append([]string{"ab", "--base-bin", self, "--head-bin", self, "--suite", "testdata/ab-suite.yaml",
		"--count", "8", "--out", filepath.Join(dir, "ab"), "--scratch", dir, "--param", "noop/noop:sleep=20ms"}, extra...)
	code, out, errs = runMain(t, args...)
	return code, out, errs, filepath.Join(dir, "ab")
}

// TestABSameBinaryFlagsNothing is the A/A test: the same binary and
// settings on both sides, interleaved; nothing may be flagged and the
// verdict is ok.
func TestABSameBinaryFlagsNothing(t *testing.T) {
	code, out, errs, dir := abArgs(t)
	if code != ExitOK || strings.Contains(out, "REGRESSION") || strings.Contains(out, "improved") || !strings.Contains(out, "verdict: ok") {
		t.Fatalf("A/A: exit %d, want 0 and nothing flagged\n%s%s", code, out, errs)
	}
	for _, f := range []string{"base/results.json", "head/bench.txt", "compare.txt", "iterations/base-01/results.json", "iterations/head-08/bench.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(out, "same machine") || !strings.Contains(out, "8+8") {
		t.Errorf("want the same machine and eight samples a side:\n%s", out)
	}
	t.Logf("A/A:\n%s", out)
}

// TestABFlagsPlantedSlowdown: the head side's no-op operations sleep 22ms
// instead of 20ms, 10% longer; the comparison must flag the throughput
// drop and the median latency rise with their p-values (exit 1).
//
// This checks the test's power, not its false alarms (the A/A test does):
// a machine that other processes load heavily can hide the change in one
// attempt, so up to three are made and the first that flags it counts.
func TestABFlagsPlantedSlowdown(t *testing.T) {
	var code int
	var out, errs string
	for attempt := 1; attempt <= 3; attempt++ {
		code, out, errs, _ = abArgs(t, "--head-param", "noop/noop:sleep=22ms")
		if code == ExitRegression {
			break
		}
		t.Logf("attempt %d: exit %d\n%s", attempt, code, out)
	}
	if code != ExitRegression || !strings.Contains(out, "verdict: FAIL") {
		t.Fatalf("planted 10%% slowdown: exit %d, want %d\n%s%s", code, ExitRegression, out, errs)
	}
	flagged := map[string]bool{}
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 && strings.Contains(line, "REGRESSION") {
			flagged[f[1]] = true
		}
	}
	// The sleep is the median latency itself; the throughput of sixteen
	// sleeping workers falls by less than the sleep grows (the driver's
	// own time per operation does not), so only its direction is checked.
	if !flagged["p50-ns"] {
		t.Errorf("want p50-ns flagged, got %v\n%s", flagged, out)
	}
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) > 7 && f[1] == "ops/s" && !strings.HasPrefix(f[6], "-") {
			t.Errorf("throughput did not drop: %s", line)
		}
	}
	t.Logf("planted slowdown:\n%s", out)
}

func TestABUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ab"}, "usage: bench ab"},
		{[]string{"ab", "--base-bin", "x", "--out", dir}, "give both"},
		{[]string{"ab", "HEAD~1", "HEAD"}, "--out is required"},
		{[]string{"ab", "--out", dir, "--count", "0", "a", "b"}, "--count 0"},
		{[]string{"ab", "--out", dir, "--engines", "raftlog/nosuch", "a", "b"}, `no engine is named "raftlog/nosuch"`},
		{[]string{"ab", "--out", filepath.Join(dir, "o"), "--repo", dir, "nosuchrev", "HEAD"}, "nosuchrev"},
		{[]string{"ab", "--out", filepath.Join(dir, "p"), "--base-bin", "/bin/true", "--head-bin", "/bin/true"}, "does not look like a bench binary"},
	} {
		code, out, errs := runMain(t, tc.args...)
		if code != ExitUsage || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", tc.args, code, ExitUsage, tc.want, out, errs)
		}
	}
}

// TestABBuildsRevisions builds two revisions of this repository with git
// worktrees and runs them (ORDEAL_LONG=1: two builds of the bench command).
func TestABBuildsRevisions(t *testing.T) {
	if os.Getenv("ORDEAL_LONG") == "" {
		t.Skip("set ORDEAL_LONG=1 to build two revisions")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	code, out, errs := runMain(t, "ab", "--repo", "../../..", "--out", filepath.Join(dir, "ab"), "--scratch", dir,
		"--suite", "testdata/ab-suite.yaml", "--count", "5", "--param", "noop/noop:sleep=20ms", "HEAD", "HEAD")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}
