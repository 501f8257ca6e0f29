package jepsenlite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/file"
	"github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/mutants"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/raftlogmodel"
)

// TestMain lets the test binary serve as a node for the process nemeses.
// With ORDEAL_TEST_JEPSEN_LITE=1 it is jepsen-lite itself, for the tests
// that signal a whole run.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "node" || os.Getenv("ORDEAL_TEST_JEPSEN_LITE") == "1") {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// panicky panics on its 50th append, to show that a panic becomes a
// recorded failure.
type panicky struct {
	*memory.Engine
	n int
}

func (p *panicky) Log() raftlog.LogStore { return p }

func (p *panicky) PersistEntries(b []raftlog.Entry) error {
	if p.n++; p.n == 50 {
		panic("planted panic")
	}
	return p.Engine.PersistEntries(b)
}

// hangy blocks its 20th append until release is closed, to show that a
// hang becomes a recorded failure.
type hangy struct {
	*memory.Engine
	n int
}

var release = make(chan struct{})

func (h *hangy) Log() raftlog.LogStore { return h }

func (h *hangy) PersistEntries(b []raftlog.Entry) error {
	if h.n++; h.n == 20 {
		<-release
	}
	return h.Engine.PersistEntries(b)
}

func init() {
	raftlog.Register("test/hangy", func(o raftlog.Options) (raftlog.Engine, error) {
		e, err := memory.Open(raftlog.Options{})
		return &hangy{Engine: e}, err
	})
	raftlog.Register("test/panicky", func(o raftlog.Options) (raftlog.Engine, error) {
		e, err := memory.Open(raftlog.Options{})
		return &panicky{Engine: e}, err
	})
}

func run(t testing.TB, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run %+v: %v", cfg, err)
	}
	return res
}

// replayCases are, per family, runs whose replay must be exact.
var replayCases = []struct {
	name string
	cfg  Config
	want linearizability.Verdict
	fuse bool // needs lazyfs
}{
	{"raftlog/file crash", Config{Engine: "raftlog/file", Nemeses: []string{"crash"}, Seed: 7, Ops: 600}, linearizability.Ok, false},
	{"raftlog/file fsync,crash", Config{Engine: "raftlog/file", Nemeses: []string{"fsync", "crash"}, Seed: 8, Ops: 600}, linearizability.Ok, false},
	{"raftlog mutant caught", Config{Engine: "raftlog/mutant/stale-last-index", Nemeses: []string{"crash"}, Seed: 1, Ops: 600}, linearizability.Illegal, false},
	{"raftlog/file kill", Config{Engine: "raftlog/file", Nemeses: []string{"kill"}, Seed: 3, Ops: 300}, linearizability.Ok, false},
	{"adapter/segment crash,fsync", Config{Engine: "adapter/segment", Nemeses: []string{"crash", "fsync"}, Seed: 2, Ops: 500}, linearizability.Ok, false},
	{"adapter/pebble kill", Config{Engine: "adapter/pebble", Nemeses: []string{"kill"}, Seed: 4, Ops: 300}, linearizability.Ok, false},
	{"adapter mutant caught", Config{Engine: "adapter/mutant/ack-before-sync", Nemeses: []string{"crash"}, Seed: 1, Ops: 500}, linearizability.Illegal, false},
	{"streams/acid kill", Config{Engine: "streams/acid", Nemeses: []string{"kill"}, Seed: 5, Ops: 300}, linearizability.Ok, false},
	{"streams/memory pause", Config{Engine: "streams/memory", Nemeses: []string{"pause"}, Seed: 6, Ops: 200}, linearizability.Ok, false},
	{"streams/acid crash", Config{Engine: "streams/acid", Nemeses: []string{"crash"}, Seed: 2, Ops: 300}, linearizability.Ok, true},
}

// TestReplayIsExact: for every family, two runs with the same seed give
// the same history, to the logical timestamp, and the same verdict.
func TestReplayIsExact(t *testing.T) {
	for _, tt := range replayCases {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fuse {
				needLazyfs(t)
			}
			a, b := run(t, tt.cfg), run(t, tt.cfg)
			if a.Verdict != tt.want || b.Verdict != tt.want {
				t.Fatalf("verdicts %v and %v, want %v (%s)", a.Verdict, b.Verdict, tt.want, a.Reason)
			}
			if a.Struck == 0 {
				t.Errorf("no fault took effect")
			}
			if !reflect.DeepEqual(a.History.Ops, b.History.Ops) {
				for i := range min(len(a.History.Ops), len(b.History.Ops)) {
					if !reflect.DeepEqual(a.History.Ops[i], b.History.Ops[i]) {
						t.Fatalf("replay diverges at op %d: %+v vs %+v", i, a.History.Ops[i], b.History.Ops[i])
					}
				}
				t.Fatalf("replay has %d ops, first run %d", len(b.History.Ops), len(a.History.Ops))
			}
			if !reflect.DeepEqual(a.History.Faults, b.History.Faults) || a.Command != b.Command {
				t.Errorf("fault windows or command differ:\n%v\n%v", a.History.Faults, b.History.Faults)
			}
		})
	}
}

// mainRun runs args through MainIO and returns the exit code and output.
func mainRun(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := MainIO(args, nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestPrintedCommandReplays runs a failing seed of each family through
// Main, then the command its summary prints, and compares the histories
// (wall-clock fields aside: there are none on the logical clock) and the
// verdicts; then check re-checks each stored history to the same verdict
// and op count.
func TestPrintedCommandReplays(t *testing.T) {
	for _, tc := range []struct{ engine, nemesis, ops, seed string }{
		{"raftlog/mutant/volatile-truncate", "crash", "800", "5"},
		{"adapter/mutant/forget-tags", "crash", "500", "1"},
		{"streams/mutant/producer-state-outside-txn", "kill", "1000", "1"},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			code, stdout, stderr := mainRun(t, "run", "--engine", tc.engine, "--nemesis", tc.nemesis, "--ops", tc.ops, "--seed", tc.seed, "--out", out)
			if code != ExitViolation {
				t.Fatalf("exit %d, want %d; %s%s", code, ExitViolation, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "replay ") {
				t.Fatalf("summary does not end with the replay command: %q", last)
			}
			args := strings.Fields(strings.TrimSpace(strings.TrimPrefix(last, "replay")))[1:] // drop the program name
			if code, _, _ := mainRun(t, args...); code != ExitViolation {
				t.Fatalf("replay exit %d, want %d", code, ExitViolation)
			}
			h1, h2 := readHistory(t, out), readHistory(t, out+"-replay")
			if !reflect.DeepEqual(h1.Ops, h2.Ops) || !reflect.DeepEqual(h1.Failures, h2.Failures) {
				t.Errorf("replayed history differs (%d vs %d ops)", len(h1.Ops), len(h2.Ops))
			}
			for _, f := range []string{"history.json", "verdict.json", "timeline.html", "summary.txt"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
			// check takes the family from the file and reproduces the
			// verdict and the op count; verdict.json and summary.txt agree.
			before := readVerdict(t, out)
			code, stdout, _ = mainRun(t, "check", out)
			if code != ExitViolation || !strings.Contains(stdout, fmt.Sprintf("(%d ops,", before.Ops)) {
				t.Errorf("check exit %d, want %d, and %d ops: %s", code, ExitViolation, before.Ops, stdout)
			}
			after := readVerdict(t, out)
			if after.Verdict != linearizability.Illegal || after.Ops != before.Ops || after.Family != before.Family {
				t.Errorf("verdict.json after check: %+v, before %+v", after, before)
			}
			sum, err := os.ReadFile(filepath.Join(out, "summary.txt"))
			if err != nil || !strings.Contains(string(sum), "verdict    Illegal") {
				t.Errorf("summary.txt after check: %v\n%s", err, sum)
			}
		})
	}
}

func readHistory(t testing.TB, dir string) *History {
	t.Helper()
	var head struct {
		Model string `json:"model"`
	}
	file := filepath.Join(dir, "history.json")
	if err := readJSON(file, &head); err != nil {
		t.Fatal(err)
	}
	f, err := LookupFamily(head.Model)
	if err != nil {
		t.Fatal(err)
	}
	h, err := f.readHistory(file)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func readVerdict(t testing.TB, dir string) verdictFile {
	t.Helper()
	var v verdictFile
	if err := readJSON(filepath.Join(dir, "verdict.json"), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCheckOkPerFamily: check of a passing run of each family gives Ok
// and the same op count as the run.
func TestCheckOkPerFamily(t *testing.T) {
	for _, e := range []string{"raftlog/file", "adapter/segment", "streams/memory"} {
		t.Run(e, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			res := run(t, Config{Engine: e, Seed: 3, Ops: 200, Out: out})
			code, stdout, stderr := mainRun(t, "check", "--timeline=false", out)
			if code != ExitPass || res.Verdict != linearizability.Ok {
				t.Fatalf("run %v, check exit %d: %s%s", res.Verdict, code, stdout, stderr)
			}
			if !strings.Contains(stdout, fmt.Sprintf("(%d ops,", len(res.History.Ops))) {
				t.Errorf("check counts other ops than the run's %d: %s", len(res.History.Ops), stdout)
			}
		})
	}
}

// TestCheckRejects: a history with no client operation is never Ok
// (exit 3); a history of an unknown model, or of none, is a usage error.
func TestCheckRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "history.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"empty", `{"model":"raftlog","engine":"raftlog/file","seed":1,"ops":[]}`, ExitInconclusive},
		{"crash-only", `{"model":"adapter","engine":"adapter/segment","seed":1,"ops":[{"client":3,"in":{"kind":"crash"},"out":{},"call":1,"ret":2}]}`, ExitInconclusive},
		{"unknown-model", `{"model":"kafka","engine":"x","seed":1,"ops":[]}`, ExitUsage},
		{"no-model", `{"engine":"file","seed":1,"ops":[]}`, ExitUsage},
		{"garbage", `{"model":`, ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := mainRun(t, "check", write(tc.name, tc.body))
			if code != tc.want {
				t.Errorf("exit %d, want %d: %s%s", code, tc.want, stdout, stderr)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want int
		says string // in the output
	}{
		{nil, ExitUsage, ""},
		{[]string{"frobnicate"}, ExitUsage, ""},
		{[]string{"run", "--engine", "no-such-engine"}, ExitUsage, "unknown raftlog engine"},
		{[]string{"run", "--engine", "adapter/nosuch"}, ExitUsage, "unknown adapter engine"},
		{[]string{"run", "--engine", "memory", "--nemesis", "nope"}, ExitUsage, "nope"},
		{[]string{"run", "--engine", "memory", "--nemesis", "crash"}, ExitUsage, "unavailable"}, // nothing can reach its files
		{[]string{"run", "--engine", "memory", "--ops", "0"}, ExitUsage, "--ops 0"},
		{[]string{"run", "--engine", "memory", "--ops", "-5"}, ExitUsage, "--ops -5"},
		{[]string{"run", "--engine", "memory", "--clients", "0"}, ExitUsage, "--clients 0"},
		{[]string{"run", "--engine", "memory", "--duration", "-1s"}, ExitUsage, "--duration"},
		{[]string{"run", "--engine", "memory", "--target", "moon"}, ExitUsage, "--target"},
		{[]string{"run", "--engine", "file", "--nemesis", "crash", "--target", "lazyfs", "--profile", "btrfs"}, ExitUsage, "profile"},
		{[]string{"run", "--engine", "memory", "stray"}, ExitUsage, "stray"},
		{[]string{"run", "--engine", "memory", "--ops", "300"}, ExitPass, "none: a fault-free run"},
		{[]string{"run", "--engine", "file", "--nemesis", "crash,fsync", "--ops", "300", "--out", filepath.Join(dir, "ok")}, ExitPass, "crash,fsync"},
		{[]string{"run", "--engine", "mutant/ack-before-fsync", "--nemesis", "crash", "--ops", "300"}, ExitViolation, "Illegal"},
		{[]string{"check", filepath.Join(dir, "missing")}, ExitUsage, ""},
		{[]string{"list"}, ExitPass, "family streams"},
		{[]string{"campaign", "--suite", "quick", "--engines", "file", "--nemeses", "crash", "--seeds", "1"}, ExitPass, "raftlog/file"},
		{[]string{"campaign", "--engines", "raftlog/nosuch"}, ExitUsage, "nosuch"},
		{[]string{"campaign", "--shard", "3/2"}, ExitUsage, "--shard"},
		{[]string{"campaign", "--seeds", "-1"}, ExitUsage, "--seeds"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, stdout, stderr := mainRun(t, tt.args...)
			if got != tt.want {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", got, tt.want, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tt.says) {
				t.Errorf("output does not say %q:\n%s%s", tt.says, stdout, stderr)
			}
		})
	}
}

// TestJudgeNeverPassesOnNothing: the run's verdict is never Ok for a
// history without client operations, an interrupted run, or a run whose
// nemeses never struck, whatever the check said.
func TestJudgeNeverPassesOnNothing(t *testing.T) {
	fam, _ := LookupFamily("raftlog")
	ok := &linearizability.Result{Verdict: linearizability.Ok, Reason: "fine"}
	read := linearizability.Op[any, any]{Input: raftlogmodel.Input{Kind: raftlogmodel.KindLast}, Output: raftlogmodel.Output{}}
	for _, tc := range []struct {
		name    string
		h       History
		nemeses bool
		struck  int
		want    linearizability.Verdict
	}{
		{"no ops", History{}, false, 0, linearizability.Unknown},
		{"interrupted", History{Ops: []linearizability.Op[any, any]{read}, Interrupted: true}, false, 0, linearizability.Unknown},
		{"never struck", History{Ops: []linearizability.Op[any, any]{read}}, true, 0, linearizability.Unknown},
		{"struck", History{Ops: []linearizability.Op[any, any]{read}}, true, 1, linearizability.Ok},
		{"fault-free", History{Ops: []linearizability.Op[any, any]{read}}, false, 0, linearizability.Ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, why := judge(fam, &tc.h, ok, tc.nemeses, tc.struck); v != tc.want {
				t.Errorf("verdict %v (%s), want %v", v, why, tc.want)
			}
		})
	}
}

// TestCampaignVerdictIsWorst: a campaign whose first cell is a planted
// bug and whose last is a correct engine fails, naming the illegal cell;
// a campaign verdict taken from its last cell would pass.
func TestCampaignVerdictIsWorst(t *testing.T) {
	code, stdout, stderr := mainRun(t, "campaign", "--suite", "quick", "--seeds", "1", "--ops", "400", "--nemeses", "crash",
		"--engines", "raftlog/mutant/stale-last-index,raftlog/file", "--mutants", "none")
	if code != ExitViolation {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitViolation, stdout, stderr)
	}
	if !regexp.MustCompile(`raftlog/mutant/stale-last-index\s+crash\s+Illegal`).MatchString(stdout) ||
		!regexp.MustCompile(`raftlog/file\s+crash\s+Ok`).MatchString(stdout) {
		t.Errorf("table does not name the illegal cell and the ok one:\n%s", stdout)
	}
	if !strings.Contains(stdout, "FAIL raftlog/mutant/stale-last-index x crash: jepsen-lite run") {
		t.Errorf("no replay command for the failing cell:\n%s", stdout)
	}
}

// TestCampaignMutantMustBeCaught: a mutant cell passes only when a run
// catches the mutant; one whose nemeses cannot see the bug fails the
// campaign.
func TestCampaignMutantMustBeCaught(t *testing.T) {
	code, stdout, stderr := mainRun(t, "campaign", "--suite", "quick", "--seeds", "1", "--ops", "400", "--nemeses", "crash",
		"--engines", "raftlog/file", "--mutants", "raftlog/mutant/stale-last-index")
	if code != ExitPass || !strings.Contains(stdout, "caught by crash at seed 1") {
		t.Fatalf("caught mutant: exit %d\n%s%s", code, stdout, stderr)
	}
	// ack-before-fsync loses only what a crash takes: a pause cannot show it.
	code, stdout, stderr = mainRun(t, "campaign", "--suite", "quick", "--seeds", "1", "--ops", "300", "--nemeses", "pause",
		"--engines", "raftlog/file", "--mutants", "raftlog/mutant/ack-before-fsync")
	if code != ExitViolation || !strings.Contains(stdout, "not caught") {
		t.Fatalf("uncaught mutant: exit %d, want %d\n%s%s", code, ExitViolation, stdout, stderr)
	}
}

// TestCampaignShardsMerge: two shards of a campaign split its cells and
// merge back to the whole; a merge missing a shard is never a pass.
func TestCampaignShardsMerge(t *testing.T) {
	dir := t.TempDir()
	args := []string{"campaign", "--suite", "quick", "--seeds", "1", "--ops", "200", "--nemeses", "crash,kill",
		"--engines", "raftlog/file,adapter/segment", "--mutants", "none"}
	for i := 1; i <= 2; i++ {
		out := filepath.Join(dir, fmt.Sprint("shard", i))
		if code, stdout, stderr := mainRun(t, append(args, "--shard", fmt.Sprintf("%d/2", i), "--out", out)...); code != ExitPass {
			t.Fatalf("shard %d: exit %d\n%s%s", i, code, stdout, stderr)
		}
	}
	code, stdout, stderr := mainRun(t, "merge", "--json", filepath.Join(dir, "shard1"), filepath.Join(dir, "shard2"))
	if code != ExitPass {
		t.Fatalf("merge: exit %d\n%s%s", code, stdout, stderr)
	}
	var m CampaignResult
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Cells) != 4 || m.Total != 4 {
		t.Errorf("merged %d cells of %d, want 4 of 4", len(m.Cells), m.Total)
	}
	if code, _, stderr := mainRun(t, "merge", filepath.Join(dir, "shard2")); code != ExitInconclusive || !strings.Contains(stderr, "shards missing: [1]") {
		t.Errorf("merge of one shard of two: exit %d, want %d: %s", code, ExitInconclusive, stderr)
	}
}

func TestPanicIsRecordedFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "panic")
	res := run(t, Config{Engine: "test/panicky", Seed: 1, Ops: 500, Out: out})
	if res.Verdict != linearizability.Illegal || len(res.History.Failures) != 1 || !strings.Contains(res.History.Failures[0], "planted panic") {
		t.Fatalf("verdict %v, failures %v", res.Verdict, res.History.Failures)
	}
	ev, err := os.ReadFile(filepath.Join(out, "evidence.txt"))
	if err != nil || !strings.Contains(string(ev), "PersistEntries") {
		t.Errorf("evidence.txt lacks the panic's stack (err %v)", err)
	}
}

func TestHangIsRecordedFailure(t *testing.T) {
	t.Cleanup(func() { close(release) })
	out := filepath.Join(t.TempDir(), "hang")
	res := run(t, Config{Engine: "test/hangy", Seed: 1, Ops: 500, Out: out, OpTimeout: 300 * time.Millisecond})
	if res.Verdict != linearizability.Illegal || len(res.History.Failures) != 1 || !strings.Contains(res.History.Failures[0], "hung") {
		t.Fatalf("verdict %v, failures %v", res.Verdict, res.History.Failures)
	}
	ev, err := os.ReadFile(filepath.Join(out, "evidence.txt"))
	if err != nil || !strings.Contains(string(ev), "hangy") {
		t.Errorf("evidence.txt lacks the goroutine dump (err %v)", err)
	}
}

func TestPauseGivesUnboundedUnknowns(t *testing.T) {
	res := run(t, Config{Engine: "memory", Nemeses: []string{"pause"}, Seed: 2, Ops: 300})
	if res.Verdict != linearizability.Ok {
		t.Fatalf("verdict %v: %s", res.Verdict, res.Check.Reason)
	}
	n := 0
	for _, op := range res.History.Ops {
		if op.Return == linearizability.Infinity && op.Output.(raftlogmodel.Output).Err == raftlogmodel.ErrUnknown {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no operation returned at infinity under pause")
	}
}

// BenchmarkCheck measures the check of histories of growing size (the
// workload of a file engine under power loss, partitioned into the log
// and the hard state).
func BenchmarkCheck(b *testing.B) {
	for _, ops := range []int{1000, 10000, 50000} {
		res := run(b, Config{Engine: "file", Nemeses: []string{"crash"}, Seed: 1, Ops: ops, CheckTimeout: time.Hour})
		h := res.History
		fam, _ := LookupFamily("raftlog")
		b.Run(fmt.Sprintf("ops=%d/partitions=%d", len(h.Ops), res.Check.Partitions), func(b *testing.B) {
			for b.Loop() {
				if r, err := fam.check(h, 0, false); err != nil || r.Verdict != linearizability.Ok {
					b.Fatalf("verdict %v", r.Verdict)
				}
			}
		})
	}
}

// TestCoverageGapsMakeCampaignInconclusive: a release campaign in which a
// declared method or outcome never occurred is not a pass; a partial one
// only reports the gap.
func TestCoverageGapsMakeCampaignInconclusive(t *testing.T) {
	fam, _ := LookupFamily("raftlog")
	methods, outcomes := fam.Declared()
	full := &linearizability.Coverage{Methods: map[string]int{}, Outcomes: map[string]int{}}
	for _, m := range methods {
		full.Methods[m] = 1
	}
	for _, o := range outcomes {
		full.Outcomes[o] = 1
	}
	lacking := &linearizability.Coverage{Methods: maps.Clone(full.Methods), Outcomes: maps.Clone(full.Outcomes)}
	delete(lacking.Methods, "truncate")
	for _, tc := range []struct {
		name   string
		cov    *linearizability.Coverage
		judged bool
		want   linearizability.Verdict
	}{
		{"complete", full, true, linearizability.Ok},
		{"gap judged", lacking, true, linearizability.Unknown},
		{"gap partial", lacking, false, linearizability.Ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &CampaignResult{Verdict: linearizability.Ok, CoverageJudged: tc.judged,
				Cells: []Cell{{Engine: "raftlog/file", Runs: 1, Verdict: linearizability.Ok, Coverage: tc.cov}}}
			r.summarizeCoverage()
			if r.Verdict != tc.want {
				t.Errorf("verdict %v (gaps %v), want %v", r.Verdict, r.Gaps, tc.want)
			}
			if tc.cov == lacking && !slices.Contains(r.Gaps, "raftlog: method truncate never called") {
				t.Errorf("gaps %v do not name truncate", r.Gaps)
			}
		})
	}
}
