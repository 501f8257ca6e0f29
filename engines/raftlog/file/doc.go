// Package file is ordeal's segmented write-ahead log for the raftlog SPI,
// registered as "file". Every byte goes through the pebble vfs.FS of
// Options, so the fault injectors and simulated power loss reach it. A nil
// error from a mutation means it is durable (Capabilities.SyncOnWrite).
//
// # Files
//
// The directory holds numbered segments, 00000000000000000001.wal,
// 00000000000000000002.wal, ..., with consecutive sequence numbers, the last
// of which is the active one taking appends, the file hardstate, and after a
// clean close the record CLEAN-CLOSE (see "Clean close"). Nothing else is
// read; hardstate.tmp, left by a crash while the hard state file was being
// created or replaced, and spare.tmp (see below) are removed at open.
//
// A segment starts with a 64-byte header: the magic "ordealwl", the format
// version (uint32, 1), the sequence number, and the state of the log when the
// segment was created: the purge boundary (index and term) and the last
// index. A CRC32C (Castagnoli) of the first 60 bytes ends it. All integers
// are little-endian.
//
// When the next frame would take the active segment past the segment_size
// parameter (default 64MiB), the segment is sealed and the next one created:
// a seal frame naming the next sequence number is appended and synced; the
// new file is created, its header written and synced, and the directory
// synced. A batch larger than a segment gets a segment of its own.
//
// With preallocation (the preallocate parameter; by default on for the
// operating system's files), appends land in blocks already written with
// zeros, so that fdatasync has no file size or block allocation to record.
// The next segment is prepared as the file spare.tmp: each PersistEntries
// writes a little more of its zeros (about 1.25 times what it appended), and
// asks the kernel every 4MiB to start writing them back (SyncTo). At rotation
// a complete spare gets its header, is synced, renamed to the segment's name
// and the directory synced. Without a complete spare, the new segment is
// created directly and filled in 4MiB steps ahead of the appends, in the
// same sync as the frame that needs them. Zeros therefore mark the end of
// the data, as the end of the file does. An error on the spare only drops
// it; open removes a spare.tmp left behind.
//
// # Frames
//
// After the header come frames, each at an offset that is a multiple of 8:
//
//	0  payload length   uint32
//	4  kind             uint8, then three zero bytes
//	8  payload CRC32C   uint32
//	12 header CRC32C    uint32, of bytes 0..12, the segment's sequence
//	                    number and the frame's offset (both uint64)
//	16 payload, then zeros up to the next multiple of 8
//
// Because the header checksum covers the frame's own position, a frame
// copied or left over anywhere else does not check out. An all-zero header
// ends the segment's data.
//
// Kinds and their payloads:
//
//	1 entries   first index (uint64), count (uint32), then per entry:
//	            term (uint64), type (uint8), data length (uint32), data
//	2 truncate  from (uint64): entries >= from are removed
//	3 purge     index, term (uint64 each): the new purge boundary
//	4 reset     empty: every entry and the boundary are removed
//	5 seal      next sequence number (uint64): the segment is full
//
// PersistEntries encodes its whole batch as one entries frame in one buffer,
// writes it with one WriteAt and syncs once with SyncData (fdatasync).
// Truncate, Purge and Reset append their control frame the same way. An
// entries frame whose first index is at or below the last index replaces the
// entries from there on, as a truncate would. The engine keeps in memory the
// segment, offset and length of every entry's encoding and reads entries
// with ReadAt; Entries reads runs of neighbouring entries with one ReadAt.
//
// Purge appends its frame, then removes, and syncs the directory after, every
// segment before the one holding the first entry above the boundary (never
// the active one). Entries at or below the boundary in kept segments are
// hidden by the purge frame, or by a later segment header. Reset appends its
// frame and removes every segment but the active one.
//
// # Recovery
//
// Open replays the segments in order, starting after the last gap in their
// sequence numbers: a crash while Purge or Reset removed segments may leave
// any of them behind, and those before the gap are removed once the rest has
// replayed soundly. The first segment replayed seeds the state from its
// header (the entries it implies are in removed segments, which a purge must
// cover, else the log is corrupt: this is how a lost segment is caught);
// every later header must agree with the state replayed so far.
//
// Recovery then writes the valid bytes of the last segment, and the hard
// state file, back over themselves and syncs them. After a failed fsync,
// Linux keeps the unwritten pages in the page cache marked clean: a process
// that opens the file later reads data that is not on disk and that no later
// sync writes. Recovery cannot tell such pages from durable ones, so it makes
// durable what it read before acknowledging anything on top of it. The cost
// is one write and sync of the last segment per open.
//
//   - A segment other than the last must end with a seal frame; a frame that
//     does not check out before it is corruption.
//   - In the last segment, the data ends at the end of the file or at a zero
//     header followed only by zeros. A frame that does not check out (a bad
//     header or payload checksum, a payload running past the end of the file,
//     stray bytes after a zero header) is a torn tail if no frame that checks
//     out follows it at any aligned offset: it is cut by overwriting the rest
//     of the data with zeros and syncing, so later appends are never followed
//     by leftovers. If a valid frame follows, it is corruption.
//   - A last segment whose header does not check out and that holds no valid
//     frame was cut short while being created: it is removed.
//   - A frame that checks out but contradicts the log (a batch leaving a gap,
//     a truncate below the boundary) is corruption.
//
// Every corruption is reported as an error wrapping raftlog.ErrCorrupt that
// names the file and the offset; nothing is dropped silently.
//
// # Clean close
//
// Close, unless the engine failed, leaves a record of the clean close, the
// file CLEAN-CLOSE (package internal/cleanclose): the size of every segment
// and of the hard state file, and the number of the newest hard state
// save. Open reads it before anything else. A listed file that is missing
// or of another size fails the open with raftlog.ErrCorrupt: synced data
// is gone (a truncated, grown or deleted segment, a deleted hard state
// file, which would otherwise be created anew). Recovery is then strict:
// nothing was in flight at a clean close, so the last segment has no torn
// tail to cut and a last segment with a bad header is not one whose
// creation a crash cut short: both are corruption. And the newest hard
// state slot that checks out must be the save the engine closed at: if
// that slot was damaged, open fails with raftlog.ErrCorrupt rather than
// serve the save before it, whose older term and vote would let a node
// vote twice. The record stays until open has checked all this, so a
// damaged log fails every open alike; then open removes it and syncs the
// directory, before anything changes a file it lists. After a crash there
// is no record, and recovery works as described above: a torn tail of the
// last segment, unsynced, is cut. Losing synced data at rest is then
// detected as far as the checksums and the headers reach; a cut of the
// last segment at a frame boundary, or a damaged newest hard state slot,
// looks like a write the crash interrupted.
//
// # Hard state
//
// The file hardstate holds two slots of the same size, a multiple of 4KiB
// (4KiB unless a candidate needs more), so that a write to one never tears
// the other. A slot starts with a record:
//
//	0  magic "ordealhs"
//	8  version          uint32, 2
//	12 flags            uint32: 1 if it holds a hard state, 0 for none
//	16 sequence number  uint64
//	24 term, vote term, commit index (uint64 each; zero without a state)
//	48 candidate length uint32
//	52 candidate, then a CRC32C of all that
//
// and the rest of the slot is not read. Open creates the file when it is
// missing, with the record "no hard state" (sequence number 0) in the first
// slot and zeros in the second: it writes hardstate.tmp, syncs it, renames
// it over hardstate and syncs the directory. From then on SaveHardState
// writes its record, numbered one above the newest, into the slot not
// holding the newest record, with one WriteAt and one SyncData (fdatasync);
// the file's size never changes. LoadHardState returns the state of the last
// acknowledged save, kept in memory; open reads both slots and takes the
// record that checks out with the higher sequence number. A slot that does
// not check out is ignored: a torn save leaves the slot before it whole
// (after a clean close, see "Clean close", it is corruption instead).
//
// A state too large for the slots is saved by replacing the file, as at
// creation, with slots large enough (a candidate may take nearly 2MiB;
// a longer one is refused with ErrHardStateTooLarge and the engine goes
// on). If neither slot checks out, or the file is not two slots of a
// multiple of 4KiB, LoadHardState returns an error wrapping
// raftlog.ErrCorrupt that names the file and the offset, never "no hard
// state"; the file is left as it is, the log stays readable, and a
// SaveHardState replaces the file as at creation.
//
// Version 1 of the file, written by earlier versions of the engine, held
// one record: the magic, the version (uint32, 1), the candidate's length
// (uint32), the term, the vote's term and the commit index (uint64 each),
// the candidate and a CRC32C, and was replaced whole on every save. Open
// reads a version 1 file that checks out and replaces it, as at creation,
// with the slot file holding its state (sequence number 1); a crash before
// the rename is durable leaves the version 1 file to be read again. A
// version 1 file that does not check out is corrupt as above.
//
// # Failures
//
// A failed write or sync fails the engine: the call returns the error
// (wrapped), nothing of it is reported, and every later mutation returns an
// error wrapping raftlog.ErrFailed until the engine is reopened. A failed
// sync is never retried.
//
// # Planted defects
//
// OpenWithBugs opens the engine with the defects of Bugs, which the
// conformance suite and the mutant catalog use to show that their checks can
// fail.
package file
