package mutants_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/mutants"
)

// TestConformanceCatchesEveryMutant runs the conformance suite on each
// mutant and logs which cases fail it: every mutant must fail at least
// one.
func TestConformanceCatchesEveryMutant(t *testing.T) {
	var table strings.Builder
	fmt.Fprintf(&table, "%-30s %-8s %s\n", "mutant", "caught", "failing conformance cases")
	for _, m := range mutants.All() {
		fails := adaptertest.Failures(adaptertest.Harness{Name: m.Name, Open: m.Open})
		names := make([]string, 0, len(fails))
		for n := range fails {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(&table, "%-30s %-8v %s\n", m.Name, len(names) > 0, strings.Join(names, ", "))
		switch {
		case m.SuiteBlind != "" && len(names) > 0:
			t.Errorf("%s is declared blind to the suite (%s), yet the suite catches it: %v", m.Name, m.SuiteBlind, names)
		case m.SuiteBlind == "" && len(names) == 0:
			t.Errorf("%s (%s): the conformance suite passes it", m.Name, m.Bug)
		}
	}
	t.Logf("detection by the conformance suite:\n%s", table.String())
}

func TestRegistered(t *testing.T) {
	for _, m := range mutants.All() {
		if !slices.Contains(adapter.Engines(), m.Name) {
			t.Errorf("%s not registered (registered: %v)", m.Name, adapter.Engines())
		}
		if m.Bugs == (mutants.All()[0].Bugs) && m.Name != mutants.All()[0].Name {
			t.Errorf("%s plants the same bug as %s", m.Name, mutants.All()[0].Name)
		}
	}
}
