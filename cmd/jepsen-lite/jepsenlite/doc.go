// Package jepsenlite is the jepsen-lite command as a library: it runs a
// seeded workload against an engine of any ordeal family (raftlog,
// adapter, streams, tiered) while a nemesis injects faults (power loss,
// fsync failure, SIGKILL, SIGSTOP), records the history, checks it for
// linearizability and durability with the family's porcupine model, and
// keeps the evidence (history.json, verdict.json, timeline.html,
// summary.txt).
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
// # One runner for every family
//
// A family is a Spec registered with Register: its engines and planted-bug
// engines, how to open one and run an operation on it, a seeded workload
// and its model. Everything else exists once: the scheduler, the targets,
// the nemeses, the node protocol, the history file (which names its model,
// so check needs no guessing), the verdict, the coverage, the replay
// command, the campaign and its shards. Engines are named FAMILY/ENGINE
// and FAMILY/mutant/NAME; a bare name is a raftlog engine.
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
// An engine that writes through the file system it is given runs in
// process on a crashable in-memory disk for the crash and fsync nemeses,
// which can then strike inside an operation. One that writes around it
// (bbolt maps its file) runs for them in a child process (jepsen-lite node)
// on a faults/lazyfs mount served by this process, under the strict POSIX
// profile or the ext4-like one (--profile). kill and pause run the engine in
// a child process; a kill lands between operations with others in flight,
// or, for an engine that writes through the file system the node wraps,
// inside an operation at a seeded sync. As root, run and campaign execute
// in a private mount namespace, and every child dies with its parent: a
// SIGKILL of jepsen-lite leaves no mount and no orphan. SIGINT stops a run
// or campaign promptly; what was recorded is checked and the run is
// marked interrupted (never a pass).
//
// # Clusters
//
// The raftkv family is a system rather than an engine: a replicated
// key-value store on hashicorp/raft, 3 or 5 node processes (jepsen-lite
// raftkv-node) whose log and stable stores are a raftlog engine, talking
// through proxies in this process that the partition nemesis cuts, slows
// or thins (cluster.go). kill and pause hit one node, the leader in half
// the faults; crash cuts the power of one node, a majority or all of them,
// each on its own lazyfs mount. A cluster runs in real time: the same seed
// asks the same operations in the same order and injects the same faults,
// but which operation times out, and who leads, is up to the cluster, so
// its histories may differ between replays. The timeline shows who led
// when ("leader" windows) and which nodes each fault hit ("node" windows).
//
// # Exit codes
//
// 0 pass, 1 violation (an illegal history, or an engine panic, hang or
// failed recovery), 2 usage or setup error, 3 inconclusive (a check that
// timed out, saw no client operation or no fault take effect, an
// interrupted run, a campaign cell that could not run).
package jepsenlite
