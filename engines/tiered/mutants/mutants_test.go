package mutants_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/durable"
	"github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	"github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/engines/tiered/mutants"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

func openLocalfs(o tiered.Options) (tiered.RemoteStorageManager, error) { return localfs.Open(o) }
func openDurable(o tiered.Options) (tiered.RemoteLogMetadataManager, error) {
	return durable.Open(o)
}
func openMemory(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return memory.Open(o) }

// harness pairs a mutant with the reference implementation of the other
// SPI, durable ones so that the joint case runs.
func harness(m mutants.Mutant) tieredtest.Harness {
	h := tieredtest.Harness{Name: m.Name, OpenRSM: m.OpenRSM, OpenRLMM: m.OpenRLMM}
	if m.OpenRSM != nil {
		h.RSMParams = m.Params
	} else {
		h.RLMMParams = m.Params
	}
	if h.OpenRSM == nil {
		h.OpenRSM = openLocalfs
	}
	if h.OpenRLMM == nil {
		h.OpenRLMM = openDurable
	}
	return h
}

// caughtBy lists, for each mutant, conformance cases that must fail on it.
var caughtBy = map[string][]string{
	mutants.Prefix + "rsm-copy-without-fsync":         {"rsm/power-loss", "tiered/finished-survives-power-loss"},
	mutants.Prefix + "rsm-rename-before-fsync":        {"rsm/crash-during-copy"},
	mutants.Prefix + "rlmm-accept-illegal-transition": {"rlmm/segment-transitions", "rlmm/partition-delete-transitions"},
	mutants.Prefix + "rlmm-serve-copying":             {"rlmm/visibility", "rlmm/segment-transitions"},
	mutants.Prefix + "rlmm-drop-last-record":          {"rlmm/reopen", "rlmm/power-loss"},
	mutants.Prefix + "rlmm-compact-without-dir-sync":  {"rlmm/crash-at-each-sync"},
}

func TestCatalogRegistered(t *testing.T) {
	list := mutants.List()
	if len(list) != len(caughtBy) {
		t.Fatalf("catalog has %d mutants, the test expects %d", len(list), len(caughtBy))
	}
	for _, m := range list {
		if !strings.HasPrefix(m.Name, mutants.Prefix) || (m.OpenRSM == nil) == (m.OpenRLMM == nil) || m.Bug == "" {
			t.Errorf("malformed mutant %+v", m.Name)
		}
		names := tiered.RLMMs()
		if m.OpenRSM != nil {
			names = tiered.RSMs()
		}
		if !slices.Contains(names, m.Name) {
			t.Errorf("mutant %s not registered", m.Name)
		}
	}
}

// TestMutantsCaught asserts that the conformance suite catches every mutant
// in the cases listed for it.
func TestMutantsCaught(t *testing.T) {
	for _, m := range mutants.List() {
		fails := tieredtest.Failures(harness(m))
		want, ok := caughtBy[m.Name]
		if !ok {
			t.Errorf("mutant %s has no expected detection", m.Name)
			continue
		}
		for _, c := range want {
			if _, ok := fails[c]; !ok {
				t.Errorf("mutant %s (%s) escaped case %s; failures: %v", m.Name, m.Bug, c, fails)
			}
		}
		t.Logf("%s: caught by %d cases: %v", m.Name, len(fails), keys(fails))
	}
}

// TestReferencesPass asserts that no reference implementation is flagged.
func TestReferencesPass(t *testing.T) {
	for _, h := range []tieredtest.Harness{
		{Name: "localfs+durable", OpenRSM: openLocalfs, OpenRLMM: openDurable},
		{Name: "durable compacting", OpenRLMM: openDurable, RLMMParams: map[string]string{durable.ParamCompactMin: "512"}},
		{Name: "memory", OpenRLMM: openMemory},
	} {
		if fails := tieredtest.Failures(h); len(fails) != 0 {
			t.Errorf("reference %s fails: %v", h.Name, fails)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
