// Package raftlogmodel checks histories of a raftlog engine: the operations
// a recording client logs, the porcupine model of the log and the hard
// state, durability across crashes, and the history file format.
//
// # The model
//
// The log is one object: Truncate, Purge, Reset and LastIndex range over
// every index, so a history of the log is not split by index. The hard
// state is a register of its own: the SPI lets MetaStore methods run
// concurrently with the LogStore's and promises no order between them, so
// the history is split in two partitions, the log and the hard state. A
// crash is an operation of both partitions. That split is sound because a
// crash is ordered in real time against every other operation (operations
// cut off by it return before it; later ones are called after the engine
// is open again), so in each partition the crash falls at the same point
// among the other partition's operations, and the two linearizations merge
// around it; and because the model lets each partition lose its undurable
// suffix independently, which admits every outcome of a joint crash (the
// check is at worst more lenient for engines that keep both in one file,
// never stricter).
//
// Each partition's state is the live state (what reads must see now), the
// list of states a crash may leave (from the last durable one to the
// newest), and whether the engine has failed after a storage error.
// Engines declaring SyncOnWrite make every acknowledged mutation durable,
// so the list collapses to one state after each; others keep every state
// since the last successful Flush, and a crash keeps a prefix of the
// mutations since then (a batch may be cut anywhere). A mutation whose
// outcome is unknown may or may not have happened; one that failed with a
// storage error is not visible now but may survive the crash that follows.
// A crash of an engine that is not Persistent loses everything.
//
// The model is nondeterministic (a crash has several outcomes) and is made
// deterministic by porcupine's power-set construction; states are small
// (the workload purges the log to keep it short), are compared field by
// field, and hashed, so the checker's cache rarely calls Equal.
package raftlogmodel
