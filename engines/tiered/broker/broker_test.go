package broker_test

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/broker"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/durable"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/engines/tiered/mutants"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

// seeds is the campaign length: a few seeds by default, 50 with
// ORDEAL_LONG=1.
func seeds() int {
	if os.Getenv("ORDEAL_LONG") == "1" {
		return 50
	}
	return 4
}

func TestReferencePassesCampaign(t *testing.T) {
	for _, rlmm := range []string{"durable", "memory"} {
		t.Run(rlmm, func(t *testing.T) {
			crashes := 0
			for seed := uint64(1); seed <= uint64(seeds()); seed++ {
				res, err := broker.Run(broker.Config{RSM: "localfs", RLMM: rlmm, Seed: seed})
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if !res.OK() {
					t.Fatalf("seed %d: %v", seed, res.Violations)
				}
				if res.Copied == 0 || res.Checks == 0 {
					t.Fatalf("seed %d did nothing: %+v", seed, res)
				}
				crashes += res.Crashes
			}
			if crashes == 0 {
				t.Fatalf("no crash in %d seeds", seeds())
			}
		})
	}
}

func TestRunIsDeterministic(t *testing.T) {
	cfg := broker.Config{Seed: 7}
	a, err := broker.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a.History) != fmt.Sprint(b.History) {
		t.Fatal("two runs of one seed differ")
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []broker.Config{
		{CrashPercent: 101},
		{Steps: -1},
		{RLMM: "no-such-manager"},
		{RSM: "no-such-storage"},
	} {
		if _, err := broker.Run(c); err == nil {
			t.Errorf("Run(%+v) = nil error", c)
		}
	}
}

// combo pairs a mutant with the reference implementation of the other SPI.
func combo(m mutants.Mutant) broker.Config {
	if m.OpenRSM != nil {
		return broker.Config{RSM: m.Name, RLMM: "durable"}
	}
	return broker.Config{RSM: "localfs", RLMM: m.Name}
}

// budget is how many seeds a mutant gets before the campaign gives up.
const budget = 30

// detect runs the campaign on seeds 1..budget and returns the first seed
// that breaks an invariant, with the violation.
func detect(t testing.TB, cfg broker.Config) (uint64, broker.Violation, bool) {
	t.Helper()
	for seed := uint64(1); seed <= budget; seed++ {
		cfg.Seed = seed
		res, err := broker.Run(cfg)
		if err != nil {
			t.Fatalf("%s/%s seed %d: %v", cfg.RSM, cfg.RLMM, seed, err)
		}
		if !res.OK() {
			return seed, res.Violations[0], true
		}
	}
	return 0, broker.Violation{}, false
}

// mustCatch are the mutants the crash campaign itself must catch.
var mustCatch = map[string]bool{
	mutants.Prefix + "rsm-copy-without-fsync":         true,
	mutants.Prefix + "rlmm-accept-illegal-transition": true,
	mutants.Prefix + "rlmm-serve-copying":             true,
	mutants.Prefix + "rlmm-drop-last-record":          true,
}

func TestMutantsCaught(t *testing.T) {
	var table strings.Builder
	fmt.Fprintf(&table, "%-40s %-12s %-6s %s\n", "mutant", "caught by", "seed", "first violation")
	found := map[string]bool{}
	for _, m := range mutants.List() {
		seed, v, ok := detect(t, combo(m))
		if ok {
			found[m.Name] = true
			fmt.Fprintf(&table, "%-40s %-12s %-6d %s: %.80s\n", m.Name, "campaign", seed, v.Invariant, v.Detail)
			continue
		}
		if mustCatch[m.Name] {
			t.Errorf("%s: the campaign missed it in %d seeds", m.Name, budget)
		}
		h := tieredtest.Harness{Name: m.Name}
		if m.OpenRSM != nil {
			h.OpenRSM = func(o tiered.Options) (tiered.RemoteStorageManager, error) { return tiered.OpenRSM(m.Name, o) }
		} else {
			h.OpenRLMM = func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return tiered.OpenRLMM(m.Name, o) }
		}
		fails := tieredtest.Failures(h)
		if len(fails) == 0 {
			t.Errorf("%s: neither the campaign nor the suite caught it", m.Name)
			fmt.Fprintf(&table, "%-40s %-12s\n", m.Name, "MISSED")
			continue
		}
		cases := slices.Sorted(maps.Keys(fails))
		fmt.Fprintf(&table, "%-40s %-12s %-6s %s\n", m.Name, "suite", "-", strings.Join(cases, ", "))
	}
	for n := range mustCatch {
		if !found[n] {
			t.Errorf("%s not caught by the campaign", n)
		}
	}
	t.Logf("detection table (budget %d seeds):\n%s", budget, table.String())
}

// TestOrphansAreReported plants remote data that no segment owns, through a
// listing that reports one object more than the disk holds, and a stray
// file.
func TestOrphansAreReported(t *testing.T) {
	extra := tiered.UUID{9, 9, 9}
	for name, objects := range map[string]func(fs vfs.FS, dir string) ([]tiered.UUID, []string, error){
		"unknown segment": func(fs vfs.FS, dir string) ([]tiered.UUID, []string, error) {
			ids, strays, err := broker.LocalfsObjects(fs, dir)
			return append(ids, extra), strays, err
		},
		"stray file": func(fs vfs.FS, dir string) ([]tiered.UUID, []string, error) {
			ids, strays, err := broker.LocalfsObjects(fs, dir)
			return ids, append(strays, dir+"/junk"), err
		},
	} {
		res, err := broker.Run(broker.Config{Seed: 1, Objects: objects})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK() || res.Violations[0].Invariant != broker.InvNoOrphans {
			t.Errorf("%s: violations %v, want %s", name, res.Violations, broker.InvNoOrphans)
		}
	}
}

func TestLocalfsObjectsListsSegments(t *testing.T) {
	fs := vfs.NewMem()
	id := tiered.UUID{1, 2, 3}
	for _, p := range []string{"/r/p-0/" + id.String() + ".seg", "/r/p-0/x.seg.tmp-1", "/r/loose"} {
		if err := fs.MkdirAll(fs.PathDir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := fs.Create(p, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	ids, strays, err := broker.LocalfsObjects(fs, "/r")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != id || len(strays) != 2 {
		t.Fatalf("ids %v strays %v", ids, strays)
	}
}
