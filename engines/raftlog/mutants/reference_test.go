package mutants_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// reference is one reference engine configuration and the nemeses that
// can reach it.
type reference struct {
	engine  string
	params  map[string]string
	nemeses []string
}

var references = []reference{
	{"file", nil, []string{"crash", "fsync", "kill", "pause"}},
	{"file", map[string]string{"segment_size": "4KiB"}, []string{"crash", "fsync"}},
	{"file", map[string]string{"segment_size": "64KiB", "preallocate": "on"}, []string{"crash", "fsync"}},
	{"pebble", nil, []string{"crash", "fsync", "kill"}},
	{"bbolt", nil, []string{"kill", "pause"}},
	{"memory", nil, []string{"pause"}},
}

// TestReferenceEnginesPass asserts that no reference engine is flagged:
// a few seeds per nemesis, or 50 with ORDEAL_LONG=1.
func TestReferenceEnginesPass(t *testing.T) {
	seeds, ops := 2, 400
	if long() {
		seeds, ops = 50, 1000
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "engine\tparams\tnemesis\tseeds\tok\tseconds")
	total := time.Now()
	for _, ref := range references {
		for _, nem := range ref.nemeses {
			start := time.Now()
			ok := 0
			for seed := uint64(1); seed <= uint64(seeds); seed++ {
				res, err := jepsenlite.Run(context.Background(), jepsenlite.Config{
					Engine: ref.engine, Params: ref.params, Nemeses: []string{nem}, Seed: seed, Ops: ops,
				})
				if err != nil {
					t.Fatalf("%s %v %s seed %d: %v", ref.engine, ref.params, nem, seed, err)
				}
				if res.Faults == 0 {
					t.Errorf("%s %s seed %d: no fault injected", ref.engine, nem, seed)
				}
				if res.Verdict != linearizability.Ok {
					t.Errorf("%s %v %s seed %d: %v: %s\nreplay: %s", ref.engine, ref.params, nem, seed, res.Verdict, res.Check.Reason, res.Command)
					continue
				}
				ok++
			}
			fmt.Fprintf(tw, "%s\t%v\t%s\t%d\t%d\t%.1f\n", ref.engine, ref.params, nem, seeds, ok, time.Since(start).Seconds())
		}
	}
	_ = tw.Flush()
	t.Logf("reference engines (%v):\n%s", time.Since(total).Round(time.Second), b.String())
}
