package tieredtest_test

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

// Failures runs the suite without failing a test; a planted bug shows up as
// failed cases.
func ExampleFailures() {
	open := func(b memory.Bugs) func(tiered.Options) (tiered.RemoteLogMetadataManager, error) {
		return func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return memory.OpenWithBugs(o, b) }
	}
	fails := tieredtest.Failures(tieredtest.Harness{Name: "memory", OpenRLMM: open(memory.Bugs{})})
	fmt.Println("reference:", len(fails), "failed cases")
	fails = tieredtest.Failures(tieredtest.Harness{Name: "serve-copying", OpenRLMM: open(memory.Bugs{ServeCopying: true})})
	_, caught := fails["rlmm/visibility"]
	fmt.Println("lookup of a copying segment caught:", caught)
	// Output:
	// reference: 0 failed cases
	// lookup of a copying segment caught: true
}
