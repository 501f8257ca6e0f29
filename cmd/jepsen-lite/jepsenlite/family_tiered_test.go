package jepsenlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	tieredmutants "github.com/ordeal-dev/ordeal/engines/tiered/mutants"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/tieredmodel"
)

// The tests of the tiered family run through Run, like the command; the
// process nemeses start this test binary as the node (see TestMain).

func tieredRun(t testing.TB, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run %s %v seed %d: %v", cfg.Engine, cfg.Nemeses, cfg.Seed, err)
	}
	return res
}

func TestTieredNames(t *testing.T) {
	f, name, err := ResolveEngine("tiered/mutant/rsm-rename-before-fsync")
	if err != nil || f.Name() != "tiered" || name != "mutant/rsm-rename-before-fsync" {
		t.Fatalf("ResolveEngine: %v %q %v", f, name, err)
	}
	if got := f.Engines(); !slices.Contains(got, "durable") || !slices.Contains(got, "memory") || slices.Contains(got, "localfs") {
		t.Errorf("engines %v: want durable and memory, localfs only as the storage of a pair", got)
	}
	var want, got []string
	for _, m := range tieredmutants.List() {
		want = append(want, m.Name)
	}
	for _, m := range f.Mutants() {
		got = append(got, m.Name)
		if m.Bug == "" {
			t.Errorf("mutant %s without its bug", m.Name)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("mutants %v, want the catalog %v", got, want)
	}
	for _, c := range []struct{ engine, rsm, rlmm string }{
		{"durable", "localfs", "durable"},
		{"memory", "localfs", "memory"},
		{"mutant/rsm-copy-without-fsync", "mutant/rsm-copy-without-fsync", "durable"},
		{"mutant/rlmm-serve-copying", "localfs", "mutant/rlmm-serve-copying"},
	} {
		rsm, rlmm, err := tieredPair(c.engine)
		if err != nil || rsm != c.rsm || rlmm != c.rlmm {
			t.Errorf("tieredPair(%s) = %s, %s, %v; want %s, %s", c.engine, rsm, rlmm, err, c.rsm, c.rlmm)
		}
	}
	if _, _, err := tieredPair("nosuch"); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown engine: %v", err)
	}
}

func TestTieredParams(t *testing.T) {
	res := tieredRun(t, Config{Engine: "tiered/durable", Seed: 1, Ops: 50, Params: map[string]string{"rlmm.compact_min": "4KiB"}})
	if res.Verdict != linearizability.Ok {
		t.Fatalf("with rlmm.compact_min: %s: %s", res.Verdict, res.Reason)
	}
	for _, p := range []map[string]string{{"compact_min": "4KiB"}, {"rsm.compact_min": "4KiB"}, {"rlmm.nosuch": "1"}} {
		_, err := Run(context.Background(), Config{Engine: "tiered/durable", Seed: 1, Ops: 50, Params: p})
		if !errors.Is(err, ErrSetup) || !errors.Is(err, tiered.ErrBadOption) {
			t.Errorf("params %v: %v, want a setup error naming a bad option", p, err)
		}
	}
}

// TestTieredReferenceEngines runs the reference pairs under every
// nemesis that can reach them: each run must be Ok, with faults that
// struck.
func TestTieredReferenceEngines(t *testing.T) {
	cells := []struct {
		engine, nemesis string
		seeds           []uint64
	}{
		{"tiered/durable", "crash", []uint64{1, 2}},
		{"tiered/durable", "fsync", []uint64{1, 2}},
		{"tiered/durable", "kill", []uint64{1}},
		{"tiered/durable", "pause", []uint64{1}},
		{"tiered/memory", "pause", []uint64{1}},
	}
	for _, c := range cells {
		for _, seed := range c.seeds {
			t.Run(fmt.Sprintf("%s/%s/%d", c.engine, c.nemesis, seed), func(t *testing.T) {
				t.Parallel()
				res := tieredRun(t, Config{Engine: c.engine, Nemeses: []string{c.nemesis}, Seed: seed, Ops: 500})
				if res.Verdict != linearizability.Ok {
					t.Fatalf("seed %d: %s: %s\nreplay: %s", seed, res.Verdict, res.Reason, res.Command)
				}
				if res.Struck == 0 || (c.nemesis != "pause" && res.Crashes == 0) {
					t.Fatalf("seed %d: %d faults struck, %d restarts", seed, res.Struck, res.Crashes)
				}
			})
		}
	}
	// A non-persistent pair has nothing for a disk or kill nemesis to
	// hit: the run is refused, not passed.
	_, err := Run(context.Background(), Config{Engine: "tiered/memory", Nemeses: []string{"crash"}, Seed: 1, Ops: 50})
	if !errors.Is(err, faults.ErrUnavailable) {
		t.Errorf("tiered/memory under crash: %v, want unavailable", err)
	}
}

// TestTieredMutantsCaught shows that every planted bug of the tiered
// catalog makes some run Illegal within a few seeds, trying the nemeses
// that can reach the pair in turn: up to 8 seeds in process (a crash
// must land inside a copy to tear it: about one run in two does), 3 for
// the child process.
func TestTieredMutantsCaught(t *testing.T) {
	seeds := map[string]uint64{"crash": 8, "fsync": 8, "kill": 3, "pause": 3}
	for _, m := range tieredmutants.List() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			for _, n := range []string{"crash", "fsync", "kill", "pause"} {
				for seed := uint64(1); seed <= seeds[n]; seed++ {
					res, err := Run(context.Background(), Config{Engine: "tiered/" + m.Name, Nemeses: []string{n}, Seed: seed})
					if errors.Is(err, faults.ErrUnavailable) {
						break
					}
					if err != nil {
						t.Fatalf("%s seed %d: %v", n, seed, err)
					}
					if res.Verdict == linearizability.Illegal {
						t.Logf("caught by %s at seed %d: %s", n, seed, res.Reason)
						return
					}
				}
			}
			t.Fatalf("%s (%s) passed every nemesis over %v seeds", m.Name, m.Bug, seeds)
		})
	}
}

// TestTieredReplay runs each seed twice: the histories and the verdicts
// must be the same; the printed replay command, run as a command, must
// record the same history again and exit with the verdict; a re-check of
// a stored history must give the verdict again.
func TestTieredReplay(t *testing.T) {
	for _, c := range []struct{ engine, nemesis string }{
		{"tiered/durable", "crash"},
		{"tiered/durable", "fsync"},
		{"tiered/durable", "kill"},
		{"tiered/durable", "pause"},
		{"tiered/mutant/rlmm-drop-last-record", "kill"},
	} {
		t.Run(c.engine+"/"+c.nemesis, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := Config{Engine: c.engine, Nemeses: []string{c.nemesis}, Seed: 3, Ops: 300}
			a := tieredRun(t, cfg)
			cfg.Out = dir
			b := tieredRun(t, cfg)
			if a.Verdict != b.Verdict {
				t.Fatalf("verdicts %s, %s", a.Verdict, b.Verdict)
			}
			sameOps(t, a.History.Ops, b.History.Ops)
			args := strings.Fields(b.Command)
			var stdout, stderr bytes.Buffer
			if code := MainIO(args[1:], strings.NewReader(""), &stdout, &stderr); code != b.Verdict.ExitCode() {
				t.Fatalf("%s: exit %d, want %d\n%s%s", b.Command, code, b.Verdict.ExitCode(), stdout.String(), stderr.String())
			}
			stored, err := Recheck(dir, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			replayed, err := Recheck(dir+"-replay", 0, false)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Verdict != b.Verdict || replayed.Verdict != b.Verdict {
				t.Fatalf("re-checks %s and %s of a %s run", stored.Verdict, replayed.Verdict, b.Verdict)
			}
			sameOps(t, stored.History.Ops, replayed.History.Ops)
		})
	}
}

func sameOps(t testing.TB, a, b []linearizability.Op[any, any]) {
	t.Helper()
	if reflect.DeepEqual(a, b) {
		return
	}
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("histories of %d and %d ops differ first at op %d:\n%+v\n%+v", len(a), len(b), i, a[i], b[i])
		}
	}
	t.Fatalf("histories of %d and %d ops", len(a), len(b))
}

// TestTieredCoverage checks that one run calls every method of both
// managers and meets every outcome the workload aims at.
func TestTieredCoverage(t *testing.T) {
	methods, outcomes := map[string]int{}, map[string]int{}
	for _, n := range []string{"crash", "fsync"} {
		res := tieredRun(t, Config{Engine: "tiered/durable", Nemeses: []string{n}, Seed: 1})
		for k, v := range res.History.Coverage.Methods {
			methods[k] += v
		}
		for k, v := range res.History.Coverage.Outcomes {
			outcomes[k] += v
		}
	}
	for _, k := range tieredmodel.Kinds() {
		if methods[string(k)] == 0 {
			t.Errorf("method %s never called", k)
		}
	}
	for _, o := range []string{"ok", "not_found", "invalid_argument", "invalid_transition", "partition_deleted", "not_assigned", "source_missing", "storage", "unknown"} {
		if outcomes[o] == 0 {
			t.Errorf("outcome %s never seen (%v)", o, outcomes)
		}
	}
}
