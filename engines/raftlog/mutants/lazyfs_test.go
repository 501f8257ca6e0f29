package mutants_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// TestCaughtOnLazyfs: mutants that lose acknowledged writes at a power
// loss are caught with their engine in a child process on a lazyfs mount,
// crashed from outside: the file engine without directory syncs (caught on
// the in-memory disk too) and bbolt with syncing off that claims to sync
// (which only a crash of the mount can reach).
func TestCaughtOnLazyfs(t *testing.T) {
	const budget = 10
	for _, engine := range []string{"mutant/no-dir-fsync", "mutant/bbolt-nosync-claims-sync"} {
		t.Run(engine, func(t *testing.T) {
			start := time.Now()
			for seed := uint64(1); seed <= budget; seed++ {
				res, err := jepsenlite.Run(context.Background(), jepsenlite.Config{
					Engine: engine, Nemeses: []string{"crash"}, Target: "lazyfs", Seed: seed, Ops: 1000,
				})
				if errors.Is(err, faults.ErrUnavailable) {
					t.Skip(err)
				}
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if res.Verdict == linearizability.Illegal {
					why, _, _ := strings.Cut(res.Check.Reason, "\n")
					t.Logf("caught at seed %d after %.2fs: %s (replay: %s)", seed, time.Since(start).Seconds(), why, res.Command)
					return
				}
			}
			t.Fatalf("%s not caught on lazyfs in %d crash seeds", engine, budget)
		})
	}
}
