package jepsenlite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "node" {
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

// stripTimes returns the ops without their timestamps.
func stripTimes(ops []raftlogmodel.Op) []raftlogmodel.Op {
	out := make([]raftlogmodel.Op, len(ops))
	for i, op := range ops {
		op.Call, op.Return = 0, 0
		out[i] = op
	}
	return out
}

func TestReplayIsExact(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want linearizability.Verdict
	}{
		{"file crash", Config{Engine: "file", Nemeses: []string{"crash"}, Seed: 7, Ops: 600}, linearizability.Ok},
		{"file fsync", Config{Engine: "file", Nemeses: []string{"fsync", "crash"}, Seed: 8, Ops: 600}, linearizability.Ok},
		{"mutant caught", Config{Engine: "mutant/stale-last-index", Nemeses: []string{"crash"}, Seed: 1, Ops: 600}, linearizability.Illegal},
		{"file kill", Config{Engine: "file", Nemeses: []string{"kill"}, Seed: 3, Ops: 300}, linearizability.Ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := run(t, tt.cfg), run(t, tt.cfg)
			if a.Verdict != tt.want || b.Verdict != tt.want {
				t.Fatalf("verdicts %v and %v, want %v (%s)", a.Verdict, b.Verdict, tt.want, a.Check.Reason)
			}
			if a.Faults == 0 {
				t.Errorf("no fault injected")
			}
			// Logical clocks: the histories match to the timestamp.
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

// TestPrintedCommandReplays runs a failing seed through Main, then the
// command its summary prints, and compares histories and verdicts.
func TestPrintedCommandReplays(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	code := MainIO([]string{"run", "--engine", "mutant/volatile-truncate", "--nemesis", "crash", "--ops", "800", "--seed", "5", "--out", out}, nil, &stdout, &stderr)
	if code != ExitViolation {
		t.Fatalf("exit %d, want %d; %s%s", code, ExitViolation, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "replay ") {
		t.Fatalf("summary does not end with the replay command: %q", last)
	}
	args := strings.Fields(strings.TrimSpace(strings.TrimPrefix(last, "replay")))[1:] // drop the program name
	stdout.Reset()
	if code := MainIO(args, nil, &stdout, &stderr); code != ExitViolation {
		t.Fatalf("replay exit %d, want %d", code, ExitViolation)
	}
	h1, err := raftlogmodel.ReadFile(filepath.Join(out, "history.json"))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := raftlogmodel.ReadFile(filepath.Join(out+"-replay", "history.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stripTimes(h1.Ops), stripTimes(h2.Ops)) || !reflect.DeepEqual(h1.Failures, h2.Failures) {
		t.Errorf("replayed history differs (%d vs %d ops)", len(h1.Ops), len(h2.Ops))
	}
	for _, f := range []string{"history.json", "verdict.json", "timeline.html", "summary.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	// check re-checks the stored history to the same verdict.
	stdout.Reset()
	if code := MainIO([]string{"check", out}, nil, &stdout, &stderr); code != ExitViolation {
		t.Errorf("check exit %d, want %d: %s", code, ExitViolation, stdout.String())
	}
	var v verdictFile
	b, err := os.ReadFile(filepath.Join(out, "verdict.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Verdict != linearizability.Illegal {
		t.Errorf("verdict.json: %v, %v", v.Verdict, err)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want int
	}{
		{nil, ExitUsage},
		{[]string{"frobnicate"}, ExitUsage},
		{[]string{"run", "--engine", "no-such-engine"}, ExitUsage},
		{[]string{"run", "--engine", "memory", "--nemesis", "nope"}, ExitUsage},
		{[]string{"run", "--engine", "memory", "--nemesis", "crash"}, ExitUsage}, // nothing can reach its files
		{[]string{"run", "--engine", "memory", "--ops", "300"}, ExitPass},
		{[]string{"run", "--engine", "file", "--nemesis", "crash,fsync", "--ops", "300", "--out", filepath.Join(dir, "ok")}, ExitPass},
		{[]string{"run", "--engine", "mutant/ack-before-fsync", "--nemesis", "crash", "--ops", "300"}, ExitViolation},
		{[]string{"check", filepath.Join(dir, "missing")}, ExitUsage},
		{[]string{"list"}, ExitPass},
		{[]string{"campaign", "--suite", "quick", "--engines", "file", "--nemeses", "crash", "--seeds", "1"}, ExitPass},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := MainIO(tt.args, nil, &stdout, &stderr); got != tt.want {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", got, tt.want, stdout.String(), stderr.String())
			}
		})
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
		if op.Return == linearizability.Infinity && op.Output.Err == raftlogmodel.ErrUnknown {
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
		res := run(b, Config{Engine: "file", Nemeses: []string{"crash"}, Seed: 1, Ops: ops, CheckTimeout: -1})
		h := res.History
		b.Run(fmt.Sprintf("ops=%d/partitions=%d", len(h.Ops), res.Check.Partitions), func(b *testing.B) {
			for b.Loop() {
				if r := raftlogmodel.Check(h, 0, false); r.Verdict != linearizability.Ok {
					b.Fatalf("verdict %v", r.Verdict)
				}
			}
		})
	}
}
