package mutants_test

import (
	"os"
	"testing"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
)

// TestMain lets the test binary serve as a jepsen-lite node, so that the
// process nemeses (kill, pause) run here too.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		os.Exit(jepsenlite.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}
