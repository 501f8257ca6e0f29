// Package jepsenlite is the jepsen-lite command as a library: it runs a
// seeded workload against a raftlog engine while a nemesis injects faults
// (power loss, fsync failure, SIGKILL, SIGSTOP), records the history,
// checks it for linearizability and durability with porcupine, and keeps
// the evidence (history.json, verdict.json, timeline.html, summary.txt).
//
// A third party tests its own engine by building a small binary that
// imports the engine for side effects and calls Main, as with database/sql
// drivers:
//
//	package main
//
//	import (
//		"os"
//
//		"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
//		_ "example.com/mylog/raftlogengine"
//	)
//
//	func main() { os.Exit(jepsenlite.Main(os.Args[1:])) }
//
// # Determinism
//
// Every random choice comes from the seed: each client's operations, the
// interleaving, the faults and their parameters. Clients are logical: one
// scheduler interleaves their calls, executions and returns, so histories
// have overlapping operations and yet a run replays exactly, on a logical
// clock. Engines with background goroutines (pebble) may still diverge on
// replay in what a power loss keeps.
//
// # Exit codes
//
// 0 pass, 1 violation (an illegal history, or an engine panic, hang or
// failed recovery), 2 usage or setup error, 3 inconclusive.
package jepsenlite
