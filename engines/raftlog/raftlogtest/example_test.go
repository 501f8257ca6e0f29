package raftlogtest_test

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

// A third party describes its engine with a Harness. From its own test it
// calls raftlogtest.Run(t, h); Failures runs the same cases without a
// *testing.T and returns those that failed, here none.
func Example() {
	h := raftlogtest.Harness{
		Name: "memory",
		Open: func(o raftlog.Options) (raftlog.Engine, error) {
			// o.Dir and o.FS come from the suite; add engine settings here,
			// e.g. o.Params = map[string]string{"segment_size": "1MiB"}.
			return memory.Open(o)
		},
	}
	// In a test: raftlogtest.Run(t, h)
	fmt.Println(len(raftlogtest.Failures(h)))
	// Output: 0
}
