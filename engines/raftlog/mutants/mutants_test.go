package mutants_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/mutants"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Budget of jepsen-lite per mutant and nemesis.
const (
	maxSeeds   = 30
	maxSeconds = 60
)

func long() bool { return os.Getenv("ORDEAL_LONG") == "1" }

func TestCatalogRegistered(t *testing.T) {
	names := map[string]bool{}
	for _, e := range raftlog.Engines() {
		names[e] = true
	}
	list := mutants.List()
	if len(list) < 7 {
		t.Fatalf("catalog has %d mutants, want at least 7", len(list))
	}
	for _, m := range list {
		if !strings.HasPrefix(m.Name, mutants.Prefix) || !names[m.Name] {
			t.Errorf("mutant %q not registered with raftlog", m.Name)
		}
		if m.Bugs == (mutants.Mutant{}).Bugs && m.Engine == "" {
			t.Errorf("mutant %q plants no bug", m.Name)
		}
	}
}

// detection is how one mutant was caught.
type detection struct {
	mutant      string
	conformance []string // failing conformance cases
	by          string   // "crash seed 3", ...
	seeds       int
	seconds     float64
}

// TestMutantsCaught asserts that every mutant is caught by the conformance
// suite or by jepsen-lite within the budget, and logs the detection table.
func TestMutantsCaught(t *testing.T) {
	var table []detection
	for _, m := range mutants.List() {
		if m.Engine != "" || m.Target == "lazyfs" {
			// A mutant that writes around Options.FS, or whose bug only a
			// kernel page cache shows, is crashed on lazyfs.
			if err := lazyfs.Available(); err != nil {
				t.Logf("mutant %s not hunted: %v", m.Name, err)
				continue
			}
		}
		d := detection{mutant: m.Name}
		d.by, d.seeds, d.seconds = hunt(t, m.Name, m.Target)
		if d.by == "" || long() {
			// The conformance suite takes seconds per engine: the short
			// form asks it only about mutants jepsen-lite missed.
			fails := raftlogtest.Failures(raftlogtest.Harness{Name: m.Name, Open: m.Open})
			for name := range fails {
				d.conformance = append(d.conformance, name)
			}
			sort.Strings(d.conformance)
		}
		table = append(table, d)
		if len(d.conformance) == 0 && d.by == "" {
			t.Errorf("mutant %s escaped both the conformance suite and jepsen-lite (%d seeds per nemesis)", m.Name, maxSeeds)
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "mutant\tconformance cases failed\tjepsen-lite caught by\tseeds\tseconds")
	for _, d := range table {
		conf := "not run"
		if d.by == "" || long() {
			conf = fmt.Sprintf("%d", len(d.conformance))
		}
		if len(d.conformance) > 0 {
			conf += " (" + strings.Join(d.conformance[:min(2, len(d.conformance))], ", ") + ")"
		}
		by := d.by
		if by == "" {
			by = "not caught"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\n", d.mutant, conf, by, d.seeds, d.seconds)
	}
	_ = tw.Flush()
	t.Logf("detection table:\n%s", b.String())
}

// hunt runs jepsen-lite on a mutant, nemesis by nemesis, seed after seed,
// until a run is Illegal; it returns what caught it, the seeds tried and
// the seconds spent on the nemesis that caught it.
func hunt(t *testing.T, engine, target string) (string, int, float64) {
	t.Helper()
	for _, nem := range []string{"crash", "fsync"} {
		start := time.Now()
		for seed := uint64(1); seed <= maxSeeds && time.Since(start) < maxSeconds*time.Second; seed++ {
			res, err := jepsenlite.Run(context.Background(), jepsenlite.Config{Engine: engine, Target: target, Nemeses: []string{nem}, Seed: seed, Ops: 1000})
			if err != nil {
				t.Fatalf("%s %s seed %d: %v", engine, nem, seed, err)
			}
			if res.Verdict == linearizability.Illegal {
				how := "no linearization"
				if len(res.History.Failures) > 0 {
					how = res.History.Failures[0]
					if i := strings.Index(how, ":"); i > 0 {
						how = how[:i]
					}
				}
				return fmt.Sprintf("%s seed %d (%s)", nem, seed, how), int(seed), time.Since(start).Seconds()
			}
		}
	}
	return "", 2 * maxSeeds, 0
}
