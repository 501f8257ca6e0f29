package tieredtest_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

func memoryHarness(b memory.Bugs) tieredtest.Harness {
	return tieredtest.Harness{
		Name:     "memory",
		OpenRLMM: func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return memory.OpenWithBugs(o, b) },
	}
}

func TestFailuresPassesReference(t *testing.T) {
	if fails := tieredtest.Failures(memoryHarness(memory.Bugs{})); len(fails) != 0 {
		t.Fatalf("the reference manager fails: %v", fails)
	}
}

func TestFailuresReportsBrokenManagers(t *testing.T) {
	for _, c := range []struct {
		name string
		bugs memory.Bugs
		want []string
	}{
		{"illegal-transition", memory.Bugs{AcceptIllegalTransition: true}, []string{"rlmm/segment-transitions", "rlmm/partition-delete-transitions", "rlmm/idempotent-retries"}},
		{"serve-copying", memory.Bugs{ServeCopying: true}, []string{"rlmm/visibility", "rlmm/segment-transitions"}},
	} {
		fails := tieredtest.Failures(memoryHarness(c.bugs))
		for _, name := range c.want {
			if _, ok := fails[name]; !ok {
				t.Errorf("%s: case %s did not fail; failures: %v", c.name, name, fails)
			}
		}
	}
}

func TestCasesAreNamedUniquely(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range tieredtest.Cases() {
		if c.Name == "" || seen[c.Name] || c.Run == nil {
			t.Fatalf("bad or repeated case %q", c.Name)
		}
		seen[c.Name] = true
	}
}
