// Package adaptermodel checks histories of a message-queue storage adapter
// (package engines/adapter): the operations a recording client logs, the
// porcupine model of a shard, durability across crashes, and the history
// file format.
//
// # The model
//
// A shard is an append-only log: a record gets the shard's next offset,
// a batch gets consecutive ones atomically, and an offset is never handed
// out twice. The model keeps per shard every record written (its offset,
// key, tags, timestamp and a checksum of the whole record), which of them
// are deleted, and the group offsets as registers. Reads by offset, tag,
// key and timestamp are checked against the live records exactly as the
// SPI defines them: the first limit live records at or after an offset
// (with the tag), the newest live record with a key, the lowest live
// offset with a timestamp at or above one; ErrNotFound where the SPI says
// so. Deletes of a missing record must fail with ErrNotFound.
//
// # Partitions
//
// The history is split per shard, and a crash is an operation of every
// partition. That is sound because the SPI promises nothing across shards:
// no operation names two shards, offsets and group offsets are per shard,
// and an engine may order writes to two shards either way, so a history is
// linearizable exactly when each shard's sub-history is. A crash is
// ordered in real time against every other operation (operations cut off
// by it return before it; later ones are called after the engine is open
// again), so it falls at the same point in each partition, and the
// partitions' linearizations merge around it; each partition losing its
// own undurable suffix admits every outcome of a joint crash.
//
// # Crashes and failures
//
// Each partition's state is the live shard, the list of shard states a
// crash may leave (from the last durable one to the newest), and whether
// the engine has failed after a storage error. An engine that declares
// SyncOnWrite makes every acknowledged mutation durable, so the list
// collapses to the live state after each one: an acknowledged write that
// is missing after a crash is a violation. A mutation whose outcome is
// unknown may or may not have happened; so may one that failed with a
// storage error (the SPI says so, and a read racing it may see it), after
// which the engine must refuse mutations until it is reopened, and the
// crash that follows may keep it or not. A batch
// survives whole or not at all. A crash of an engine that is not
// Persistent loses everything; the runner creates the shards again as part
// of the crash, so the model restarts each shard empty.
//
// The model is nondeterministic (a crash has several outcomes) and is made
// deterministic by porcupine's power-set construction; states are compared
// field by field and hashed.
package adaptermodel
