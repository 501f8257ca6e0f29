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
// # Where the engine runs
//
// An engine that writes through Options.FS runs in process on a crashable
// in-memory disk for the crash and fsync nemeses, which can then strike
// inside an operation. One that writes around it (Capabilities().UsesFS
// false: bbolt maps its file) runs for them in a child process (jepsen-lite
// node) on a faults/lazyfs mount served by this process: crash kills the
// child with SIGKILL, cuts the power of the mount keeping a seeded share
// of the unsynced blocks and entries, and starts the child again; fsync
// fails the next sync on the mount with Linux semantics and restarts the
// child a few operations later, after a power loss in half the faults.
// lazyfs needs root and /dev/fuse; without them such a run is a setup
// error that says why. kill and pause run the engine in a child process.
// `jepsen-lite list` says where each nemesis acts on each engine.
//
// # Exit codes
//
// 0 pass, 1 violation (an illegal history, or an engine panic, hang or
// failed recovery), 2 usage or setup error, 3 inconclusive.
package jepsenlite
