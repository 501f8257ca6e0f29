// Package rlmmmodel checks histories of a tiered.RemoteLogMetadataManager:
// the operations a recording client logs and the porcupine model of the
// manager's contract (add in COPY_SEGMENT_STARTED, state updates with
// Kafka's valid and invalid transitions, lookups by partition, leader epoch
// and offset, the highest offset of an epoch, and listing), crashes
// included.
//
// # Partitioning
//
// The history is checked one topic-partition at a time. That is sound
// because every operation of the model names exactly one partition and
// reads or changes only that partition's state: the lifecycle, the epoch
// index and the lookup rules of package tiered are all kept per partition.
// Linearizability is local (Herlihy and Wing): a history is linearizable if
// and only if each object's sub-history is, so checking each partition on
// its own decides the whole history. A crash is an operation of every
// partition; it is ordered in real time against every other operation
// (operations cut off by it return before it, later ones start after the
// manager is open again), so it falls at the same point among the other
// operations in every partition and the partitions' linearizations merge
// around it.
//
// # The model
//
// A partition's state is every segment the manager was told of (its ID,
// offsets, leader epochs and lifecycle state, DELETE_SEGMENT_FINISHED
// segments kept as tombstones since the manager never forgets an ID) and
// the highest offset of each epoch. Lookups follow the rules of package
// tiered for segments that do not overlap within an epoch, which is what a
// broker writes: the COPY_SEGMENT_FINISHED segment whose epoch range holds
// the offset, or none. Where finished segments overlap the model accepts
// any of them, or none, since the supersession rules then depend on the
// order of the copies, which the per-partition model does not track.
//
// A mutation whose outcome is unknown (no answer, or a storage error) may
// or may not have happened, which makes the model nondeterministic;
// porcupine's power-set construction keeps both branches. A crash of a
// persistent manager that syncs on write keeps every state it could be in
// (each acknowledged change is durable; an unacknowledged one may or may
// not have landed, which is already a branch); a crash of a manager that
// is not persistent empties the partition. Assignments are not part of the
// model: the recording client assigns its partitions after every open.
package rlmmmodel
