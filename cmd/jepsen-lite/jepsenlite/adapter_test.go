package jepsenlite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter/mutants"
	"github.com/ordeal-dev/ordeal/linearizability"
)

func adapterLong() bool { return os.Getenv("ORDEAL_LONG") == "1" }

func runAdapter(t testing.TB, engine, nemeses string, seed uint64) *AdapterResult {
	t.Helper()
	cfg := Config{Engine: engine, Nemeses: splitList(nemeses), Seed: seed, Ops: 300}
	if adapterLong() && !strings.Contains(engine, "mutant") {
		// Long runs keep the evidence of a failing run, which a replay
		// may not reproduce: the clients run concurrently.
		cfg.OnlyFailures = true
		cfg.Out = filepath.Join(os.TempDir(), "ordeal-adapter-failures", fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(engine, "/", "_"), nemeses, seed))
	}
	res, err := RunAdapter(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s %s seed %d: %v", engine, nemeses, seed, err)
	}
	return res
}

// TestAdapterReferenceEnginesPass runs the reference adapter engines under
// each nemesis for a few seeds (50 with ORDEAL_LONG=1): every run must be
// linearizable and durable.
func TestAdapterReferenceEnginesPass(t *testing.T) {
	seeds := uint64(3)
	if adapterLong() {
		seeds = 50
	}
	for _, engine := range []string{"adapter/memory", "adapter/segment", "adapter/pebble", "adapter/manager"} {
		for _, nem := range []string{"", "crash", "fsync"} {
			if engine == "adapter/memory" && nem == "fsync" {
				continue // no files to fail a sync of (see TestAdapterUsage)
			}
			for seed := range seeds {
				res := runAdapter(t, engine, nem, seed+1)
				if res.Verdict != linearizability.Ok {
					t.Errorf("%s [%s] seed %d: %v: %s\nreplay: %s", engine, nem, seed+1, res.Verdict, res.Check.Reason, res.Command)
				}
				if nem != "" && res.Faults == 0 {
					t.Errorf("%s [%s] seed %d: no fault injected", engine, nem, seed+1)
				}
			}
		}
	}
}

// TestAdapterMutantsCaught shows each planted bug caught by the checker
// within 30 seeds under the nemesis that exposes it, and logs the table.
func TestAdapterMutantsCaught(t *testing.T) {
	const budget = 30
	expose := map[string]string{
		"mutant/reuse-offsets":        "",
		"mutant/forget-tags":          "crash",
		"mutant/ack-before-sync":      "crash",
		"mutant/serve-deleted-keys":   "",
		"mutant/retry-sync-after-eio": "fsync",
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-30s %-8s %-6s %s\n", "mutant", "nemesis", "seed", "reason")
	for _, m := range mutants.All() {
		nem, ok := expose[m.Name]
		if !ok {
			t.Errorf("%s: no nemesis chosen for it", m.Name)
			continue
		}
		label := nem
		if label == "" {
			label = "none"
		}
		caught := false
		for seed := uint64(1); seed <= budget && !caught; seed++ {
			res := runAdapter(t, AdapterPrefix+m.Name, nem, seed)
			if res.Verdict == linearizability.Illegal {
				caught = true
				fmt.Fprintf(&table, "%-30s %-8s %-6d %s\n", m.Name, label, seed, res.Check.Reason)
			}
		}
		if !caught {
			fmt.Fprintf(&table, "%-30s %-8s %-6s\n", m.Name, label, "-")
			t.Errorf("%s (%s) passed %d seeds under [%s]", m.Name, m.Bug, budget, nem)
		}
	}
	t.Logf("detection by jepsen-lite (first illegal seed of %d):\n%s", budget, table.String())
}

// TestAdapterCLI runs the command for an adapter engine: artifacts, exit
// codes and a re-check of the stored history.
func TestAdapterCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	var out, errOut bytes.Buffer
	code := MainIO([]string{"run", "--engine", "adapter/segment", "--nemesis", "crash,fsync", "--seed", "4", "--ops", "200", "--out", dir}, nil, &out, &errOut)
	if code != ExitPass {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitPass, out.String(), errOut.String())
	}
	for _, f := range []string{"history.json", "verdict.json", "timeline.html", "summary.txt"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if !strings.Contains(string(sum), "replay     jepsen-lite run --engine adapter/segment --nemesis crash,fsync") {
		t.Errorf("summary has no replay line:\n%s", sum)
	}
	var v verdictFile
	b, _ := os.ReadFile(filepath.Join(dir, "verdict.json"))
	if err := json.Unmarshal(b, &v); err != nil || v.Verdict != linearizability.Ok || v.Partitions != 2 || v.Faults == 0 {
		t.Errorf("verdict.json: %+v, %v", v, err)
	}
	out.Reset()
	if code := MainIO([]string{"check", "--timeline=false", dir}, nil, &out, &errOut); code != ExitPass || !strings.Contains(out.String(), "adapter/segment: Ok") {
		t.Errorf("check: exit %d: %s", code, out.String())
	}
	if code := MainIO([]string{"run", "--engine", "adapter/mutant/serve-deleted-keys", "--seed", "1", "--ops", "300"}, nil, &out, &errOut); code != ExitViolation {
		t.Errorf("mutant: exit %d, want %d", code, ExitViolation)
	}
}

func TestAdapterUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"run", "--engine", "adapter/nope"}, ExitUsage},
		{[]string{"run", "--engine", "adapter/segment", "--nemesis", "kill"}, ExitUsage},
		{[]string{"run", "--engine", "adapter/segment", "--target", "process"}, ExitUsage},
		{[]string{"run", "--engine", "adapter/memory", "--nemesis", "fsync"}, ExitUsage},
		{[]string{"run", "--engine", "adapter/memory", "--nemesis", "crash,fsync", "--ops", "100"}, ExitPass},
	} {
		var out, errOut bytes.Buffer
		if code := MainIO(tc.args, nil, &out, &errOut); code != tc.want {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.want, out.String(), errOut.String())
		}
	}
}
