// Package rlmmmodel checks histories of a tiered.RemoteLogMetadataManager:
// the operations a recording client logs and the porcupine model of the
// manager's whole contract — every method of the interface (add in
// COPY_SEGMENT_STARTED, state updates with Kafka's valid and invalid
// transitions, lookups by leader epoch and offset, the highest offset of
// an epoch, the lists, the remote log size, partition deletion,
// assignment and stop) — crashes included. Apply runs an operation on a
// manager; Step is the model's transition function, exported so that a
// model of a larger system (tieredmodel: the storage manager with it)
// reuses it.
//
// # Partitioning
//
// The history is checked one topic-partition at a time. That is sound
// because every operation of the model names one partition and reads or
// changes only that partition's state: the lifecycle, the epoch index,
// the lookup rules, the deletion and the assignment of package tiered are
// all kept per partition. Linearizability is local (Herlihy and Wing): a
// history is linearizable if and only if each object's sub-history is, so
// checking each partition on its own decides the whole history. A crash
// is an operation of every partition; it is ordered in real time against
// every other operation (operations cut off by it return before it, later
// ones start after the manager is open again), so it falls at the same
// point among the other operations in every partition and the partitions'
// linearizations merge around it. An assignment or a stop that names
// several partitions is split into one operation per partition, which
// checks less than the atomic call (see Partitioner).
//
// # The model
//
// A partition's state is whether it is assigned, where its deletion is,
// every segment the manager was told of (its ID, offsets, size, leader
// epochs and lifecycle state, DELETE_SEGMENT_FINISHED segments kept as
// tombstones since the manager never forgets an ID), and per leader epoch
// the referenced segments and the highest offset. Lookups follow the
// rules of package tiered exactly, supersession by later copies and late
// copies that overlap included, so a lookup has one right answer. Where
// the contract names several errors for a call (an add on an unassigned
// partition with bad metadata, say), any of them is accepted.
//
// A mutation whose outcome is unknown (no answer, or a storage error) may
// or may not have happened, which makes the model nondeterministic;
// porcupine's power-set construction keeps both branches. A crash of a
// persistent manager keeps every state it could be in (each acknowledged
// change is durable; an unacknowledged one may or may not have landed,
// which is already a branch) but unassigns every partition, since
// assignments are not persisted; a crash of a manager that is not
// persistent empties the partition. A query never fails with a storage
// error: the managers answer from memory.
package rlmmmodel
