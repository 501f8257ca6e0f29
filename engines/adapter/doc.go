// Package adapter is the storage SPI behind a message broker, after
// RobustMQ's StorageAdapter: named shards, each an append-only sequence of
// records with per-shard offsets; reads by offset, tag, key and timestamp;
// deletes; and consumer-group offsets. A driver manager (package manager)
// routes each shard to the engine named by its ShardConfig.StorageType, so
// one broker mixes storage engines.
//
// This package holds only the interface, its data types, the sentinel
// errors and the engine registry. Implementations live in sibling packages
// (memory, pebble, segment) and register themselves by storage type when
// imported; the exported conformance suite in adaptertest checks any
// implementation against the contracts written here.
//
// # Semantics
//
// RobustMQ's own engines disagree on several points; this SPI fixes each one
// and the conformance suite checks it:
//
//   - Offsets are per shard, start at 0, and are contiguous: a write gets
//     the shard's NextOffset, a batch gets consecutive offsets. An offset is
//     never reused, not after deleting the last record, not after a reopen,
//     not after retention drops a whole shard's worth of records: a consumer
//     that remembers an offset can never be handed a different record under
//     it.
//   - Deleted records are invisible to every read: ReadByOffset and
//     ReadByTag skip them, ReadByKey falls back to the newest live record
//     with the key, OffsetByTimestamp ignores them.
//   - ReadByOffset and ReadByTag return live records at offsets >= the one
//     given (inclusive), ascending, at most limit of them; reading past the
//     end returns nothing and no error, so a consumer can poll.
//   - Deleting a missing record (never written, already deleted, retained
//     away, or a key with no live record) returns ErrNotFound rather than
//     succeeding silently: the caller learns that the delete removed
//     nothing, and a caller retrying after an unknown outcome can still
//     treat ErrNotFound as done.
//   - OffsetByTimestamp returns the lowest offset of a live record whose
//     Timestamp is >= ts. Timestamps come from the caller and need not grow
//     with offsets, so engines index the running maximum (which does grow)
//     to find where to start scanning. When no record qualifies it returns
//     ErrNotFound, never a made-up offset such as NextOffset.
//   - Group offsets are kept per (group, shard), may move in any direction,
//     and die with their shard. OffsetByGroup for a group that never
//     committed returns ErrNotFound.
//   - An unknown shard gives ErrShardNotFound on every method that names
//     one. CreateShard of an existing name returns ErrShardExists even if the
//     configuration is identical: creating is not idempotent, so two
//     creators racing for a name learn that one of them lost, and a changed
//     configuration is never silently ignored.
//   - Arguments are validated before the shard is looked up: a malformed
//     argument returns ErrInvalidArgument even for an unknown shard.
//
// # Durability
//
// An engine declares in Capabilities whether a nil error from a mutation
// (CreateShard, DeleteShard, Write, BatchWrite, the deletes, CommitOffset,
// Retain) means the change is durable (SyncOnWrite). A BatchWrite is atomic
// across a crash as well: all of its records survive or none does. A
// mutation that returned an error may or may not have happened.
//
// # Failures
//
// When a write to the underlying storage fails (an fsync returning EIO, say),
// the data written since the last good sync may be gone even though the
// operating system accepted it. An engine must not retry the sync and report
// success: the failed call returns an error, and every later call except
// Close returns an error wrapping ErrFailed until the engine is reopened,
// at which point recovery decides what survived. Reads are refused as well,
// so that nothing unacknowledged is ever served.
//
// # Registry
//
// Engines register a Factory under their storage type with Register; tools
// and the driver manager open them with Open(storageType, Options). A third
// party adds its engine by importing its package for side effects, as with
// database/sql drivers.
package adapter
