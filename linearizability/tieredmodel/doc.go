// Package tieredmodel checks histories of a tiered-storage pair: a
// tiered.RemoteStorageManager and a tiered.RemoteLogMetadataManager used
// together, as a broker uses them, crashes included. It models every
// method of both interfaces: the storage manager's copy, fetch of a byte
// range, fetch of an index and delete here, the metadata manager's
// through rlmmmodel, whose transition function it reuses.
//
// # Operations
//
// An Input is an rlmmmodel.Input (its TP and Seg name the segment for the
// storage manager's calls too) with what the storage manager's calls add:
// the Content of a copy's local files, a fetch's byte range, an index
// type. Apply runs one on a Pair; a copy first writes the segment's local
// files (log, offset, time, producer-snapshot and, if the segment has
// one, transaction index) from the seeded Content on the pair's file
// system, the leader-epoch index coming from the segment's epochs. A
// fetch's Output records the length and a checksum of the bytes read.
//
// # The model
//
// The history is checked one partition at a time, as rlmmmodel's (see
// there why that is sound); a partition's state is the metadata
// manager's state and, for each segment the storage manager was asked to
// copy or delete, whether it is present and what it holds. A fetch of a
// present segment must return exactly the copied bytes of the range
// asked for (clipped at the end of the log), and a fetch of an absent one
// ErrRemoteResourceNotFound; a corruption error is never allowed, since
// no damage is done to the files here but crashes, and a crash must leave
// a segment absent or complete. The argument errors follow the contract:
// a negative start or an end before it, a start past the end of the log,
// an unknown index type; a missing transaction index is not found.
//
// A copy or delete whose outcome is unknown or that failed on a storage
// error may have done nothing, done its work, or (for a copy) failed and
// removed the segment; a removal or a copy that is not known to be
// durable may be undone by a crash, which the model keeps as a segment
// that may "flip" at the next crash. A copy whose local file is missing
// must fail and leave the segment absent, even if an earlier copy had
// succeeded. At a crash a storage manager that is not persistent loses
// every segment, one that does not sync on write may lose what it
// acknowledged, and the metadata manager's state changes as rlmmmodel
// says.
package tieredmodel
