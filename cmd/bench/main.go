// Command bench benchmarks the storage engines ordeal knows: it runs a
// suite (the quick one when given no arguments), writes results.json,
// bench.txt and report.html, compares two runs with a significance test,
// and checks the d-engine targets. See package benchcli.
package main

import (
	"os"

	"github.com/ordeal-dev/ordeal/cmd/bench/benchcli"
	// Every engine registers itself when imported.
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/file"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/peers"
	_ "github.com/ordeal-dev/ordeal/engines/streams/acid"
	_ "github.com/ordeal-dev/ordeal/engines/streams/memory"
)

func main() { os.Exit(benchcli.Main(os.Args[1:])) }
