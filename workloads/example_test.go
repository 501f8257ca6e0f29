package workloads_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ordeal-dev/ordeal/workloads"
)

// A suite file names its workloads; every error points at file:line and
// the field.
func ExampleParseSuite() {
	_, err := workloads.ParseSuite("suite.yaml", []byte(`name: demo
defaults: {family: noop}
workloads:
  - name: spin
    mix: {noop: 1}
    value: {dist: uniform, min: 4KiB, max: 1KiB}
`))
	fmt.Println(err)
	// Output: suite.yaml:6:28: workloads[0](spin).value.min: 4096 is above max 1024
}

// Run drives a workload against an engine and returns its measurements.
func ExampleRun() {
	spec := workloads.NoopSpec(2, workloads.Duration(50*time.Millisecond))
	out, err := workloads.Run(context.Background(), &spec, "noop", workloads.Config{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Ops > 0, out.Corrected.TotalCount() == out.Ops, len(out.PerOp))
	// Output: true true 1
}
