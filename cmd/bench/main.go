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
	_ "github.com/ordeal-dev/ordeal/engines/tiered/durable"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/memory"
	// The tiered family registers itself when imported.
	_ "github.com/ordeal-dev/ordeal/workloads/tieredwl"
)

func main() { os.Exit(benchcli.Main(os.Args[1:])) }
