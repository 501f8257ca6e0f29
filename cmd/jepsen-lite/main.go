// Command jepsen-lite checks the crash safety of raftlog engines: it runs a
// seeded workload while a nemesis cuts the power, fails an fsync, kills or
// pauses the engine's process, and checks the history with porcupine.
// See package jepsenlite for the commands and exit codes.
package main

import (
	"os"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/file"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	"github.com/ordeal-dev/ordeal/engines/raftlog/mutants"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/peers"
)

func main() {
	jepsenlite.Mutants = func() []jepsenlite.Mutant {
		var out []jepsenlite.Mutant
		for _, m := range mutants.List() {
			out = append(out, jepsenlite.Mutant{Name: m.Name, Bug: m.Bug})
		}
		return out
	}
	os.Exit(jepsenlite.Main(os.Args[1:]))
}
