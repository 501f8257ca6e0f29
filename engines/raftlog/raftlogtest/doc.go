// Package raftlogtest is the conformance suite of the raftlog SPI and the
// benchmark body every raftlog engine shares. Any implementation of
// raftlog.Engine, ours or a third party's, runs it from its own go test.
//
// # Using the suite
//
// Describe the engine with a Harness and call Run from a test:
//
//	func TestConformance(t *testing.T) {
//		raftlogtest.Run(t, raftlogtest.Harness{
//			Name: "myengine",
//			Open: func(o raftlog.Options) (raftlog.Engine, error) {
//				o.Params = map[string]string{"segment_size": "1MiB"}
//				return myengine.Open(o)
//			},
//		})
//	}
//
// Each case is a subtest named after the case (TestConformance/power_loss),
// so one case runs with -run 'TestConformance/power_loss'. Open is called
// with o.Dir and o.FS set by the suite, and again on the same directory to
// reopen the engine after a clean close or a simulated crash; the closure
// may add Params. Every case opens a fresh engine and closes it at the end.
// When a case fails, the engine's directory is kept and its path logged; the
// in-memory file systems of the crash cases are copied to a kept directory.
//
// An engine that differs from the contract on purpose, or a peer engine with
// a known upstream bug, lists the cases it fails in
// Harness.KnownDifferences with the reason. Those cases still run and must
// fail; one that starts passing fails the test, so the entry is removed.
//
// Failures runs every case without a *testing.T and returns the cases that
// failed with their first message. Its purpose is the opposite check: that
// an engine with a planted bug is caught, and by which case.
//
// Benchmark runs the shared benchmark body over any number of harnesses;
// BenchmarkEngines in this package's tests runs it over every registered
// engine. Sub-benchmarks are named key=value with the engine last
// (op=persist/entry=1KiB/batch=64/engine=file), so benchstat can slice them:
//
//	go test -run '^$' -bench 'Engines/op=persist/' -count 10 ./engines/raftlog/raftlogtest > new.txt
//	benchstat -col /engine new.txt
//
// # The cases
//
// The first fifteen follow d-engine's StorageEngineTestSuite:
//
//   - empty_store: a new engine has LastIndex 0, FirstIndex 1, no purge
//     boundary, no entries and no hard state.
//   - single_entry, batch_range: one entry, then 100 with Entries(25, 75)
//     returning exactly 25..75.
//   - purge: Purge(50) on 1..100 leaves 51..100 and the boundary 50.
//   - truncate: Truncate(76) on 1..100 leaves 1..75.
//   - reset: Reset empties the log and the boundary; the next batch starts
//     at 1.
//   - empty_persist: empty and nil batches change nothing.
//   - range_out_of_bounds: ranges above LastIndex return no entries and no
//     error; ranges across it are clipped.
//   - purge_zero: Purge(0) and purges at or below the boundary are no-ops.
//   - hard_state_round_trip, reset_keeps_hard_state, flush.
//   - reopen_entries, reopen_hard_state, reopen_truncate_purge: entries, the
//     hard state, a purge and a truncation survive a close and a reopen.
//
// The rest of the contract:
//
//   - truncate_beyond_tail: Truncate above LastIndex is a no-op, at or below
//     the boundary ErrCompacted.
//   - purge_all_reopen: purging every entry keeps the boundary across a
//     reopen, and the log continues after it.
//   - truncate_repersist_reopen: entries removed by a truncation never come
//     back after new entries at the same indexes and a reopen.
//   - concurrent_readers: readers calling Entry, Entries, FirstIndex,
//     LastIndex and LoadHardState while a writer appends, truncates, purges
//     and saves hard states see only whole entries that were written, runs
//     that are consecutive and never mix two states, and a hard state that
//     is one of those saved. Run it under -race.
//   - non_contiguous: batches with gaps, overlaps, duplicates or the wrong
//     start return ErrNonContiguous and change nothing.
//   - read_errors: ErrCompacted at and below the boundary, ErrNotFound above
//     LastIndex, ErrInvalidRange for lo == 0 or lo > hi.
//   - ownership: changing a batch after PersistEntries, or entries returned
//     by Entry and Entries (their bytes, or appending to their Data), does
//     not change the store, and later mutations do not change entries
//     already returned.
//   - purge_above_last: a purge above LastIndex installs the boundary (a
//     snapshot) and the next batch must start right after it.
//   - entry_fields: empty, nil, one-byte, block-sized and 1 MiB data, every
//     type, terms up to the largest uint64 survive as written.
//   - closed: every call after Close returns ErrClosed.
//   - bounds_model: a seeded sequence of valid and invalid operations,
//     checked against a model of the contract after every step.
//   - reopen_cycles: thirty rounds of operations and reopens.
//
// The fault cases run the engine on an in-memory file system,
// vfs.NewCrashableMem from pebble. The engine's directory does not exist
// beforehand: the engine creates it, and answers for making its name durable
// (internal/durable.MkdirAll syncs the parent of each directory it creates),
// as for every file and directory it creates inside it.
//
//   - power_loss: seeded scripts of appends (entries up to 9 KiB, so that
//     records span 4 KiB blocks), purges, truncations and hard states, then
//     a power loss (faults.PowerLoss) keeping 0, 50 or 100 percent of the
//     unsynced data. After reopening, every durable entry is there with its
//     content, nothing follows a gap, no entry holds content never written at
//     its index, no boundary appears that was not set, and no truncated
//     entry returns. One script resets the log and starts it again: neither
//     the old entries nor the old boundary may come back. The recovered
//     engine must then take new entries and keep them across a reopen.
//   - power_loss_mid_write: the same checks for a power loss at every sync
//     the engine makes (sampled when there are many), taken before the sync
//     goes through, so the operation in flight is written but not synced:
//     torn records at the tail must be cut off, and the operation in flight
//     may survive in part (a prefix of a batch) or not at all.
//   - torn_record: one entry four 4 KiB blocks long is in flight when the
//     power fails, for 16 seeds of which blocks survive: recovery must cut
//     the torn record or keep it whole, never serve unwritten blocks.
//   - fsync_failure_hard_state: a SaveHardState whose sync fails returns
//     the error, LoadHardState keeps returning the state saved before, and
//     after a power loss the engine holds the old or the new state, whole.
//   - fsync_failure_at_open: the engine's process is killed at each sync
//     of a batch and of a hard state save (before the sync runs), so that
//     the writes of the operation in flight are in the page cache and not
//     on disk, as Linux also leaves the pages of a failed fsync; the engine
//     is opened again. What the open serves must be durable before it is
//     served: a power loss keeping no unsynced data must leave exactly what
//     it served. Then every sync of that open fails in turn with EIO: the
//     open must fail with an error wrapping it, or make good by writing the
//     data again, never serve what the failed sync did not make durable;
//     after a failed open, a second open is held to the same.
//   - fsync_failure: on faults.Wrap with a sync trigger, a failing sync
//     (with Linux semantics: the unsynced data is dropped) during a batch
//     must reach the caller as an error wrapping the injected EIO, leave
//     LastIndex unchanged, and make every later PersistEntries, Flush,
//     Truncate and SaveHardState fail with raftlog.ErrFailed. After a power
//     loss right after the failure, and another after the refused
//     mutations, every entry acknowledged before the failure is there and
//     the failed batch may survive only as a prefix. An engine that
//     acknowledges after a failed sync (retrying it) is flagged, and held to
//     what it acknowledged by the power-loss check, which then finds it
//     lost. A second variant fails the second sync of the batch instead of
//     the first (a data sync that passed, a directory or metadata sync
//     that did not).
//   - corruption: damaged files (package internal/corruptcase). A history
//     of some 800 entries in batches, with a truncation and re-append, a
//     purge and hard states saved along the way, is written on the
//     operating system's file system and the engine closed cleanly; then,
//     on a copy each, one file is damaged by a faults.Corruption (a bit
//     flipped, a 4 KiB block zeroed, a cut, a deletion, garbage appended,
//     and damage to the head of a metadata file: Harness.MetaFiles) and
//     the engine opened again and everything read back, in a child process
//     re-running the test, so that a crash in any goroutine and a hang are
//     seen. The engine must answer raftlog.ErrCorrupt, at open or on the
//     read that meets the damage, or correct data: an older hard state, a
//     missing or changed entry, a truncated or purged entry back, or another
//     error fails the case. After a clean close everything was synced, so
//     losing any of it is a failure too. Two seeds per kind, twenty with
//     ORDEAL_LONG=1 (and a history three times longer); one trial without
//     damage first.
//
// # Capabilities
//
// What runs follows what the engine declares in Capabilities:
//
//   - Persistent false: the reopen cases, the fault cases and corruption
//     skip, saying so; the others run. corruption runs whatever UsesFS
//     says, on the operating system's file system.
//   - UsesFS false: in-process faults cannot reach an engine that writes
//     around Options.FS, so the fault cases skip, naming the capability,
//     except power_loss, which runs on faults/lazyfs, the FUSE file system that keeps unsynced
//     writes and directory entries in memory (see below).
//
// # Power loss on lazyfs
//
// power_loss crashes an engine that declares
// Persistent and not UsesFS on a lazyfs mount: for each seed and share kept
// (0, 50 and 100 percent), a fresh mount, the script, SIGKILL of the
// engine, a power loss of the mount, and the same checks after a restart as
// on the in-memory file system. It needs root and /dev/fuse and skips,
// saying why, without them.
//
// The engine runs in a child process, never in the process that serves the
// mount: a Go process that faults on a mapping of a file of its own FUSE
// mount (bbolt reading its file) can deadlock. The child is the test binary
// itself, re-run with -test.run selecting the test that called Run and the
// environment variable RAFTLOGTEST_SERVE naming the harness; Run sees the
// variable, opens the engine with Harness.Open and serves it to the parent
// over file descriptors 3 and 4, then skips the test. A third party's test
// needs nothing more than calling Run first thing, as in the example
// above: code the test runs before Run also runs in the child, and code
// after it does not. Failures has no test to re-run, so under it the case
// skips for such engines.
//   - SyncOnWrite true: every acknowledged mutation must survive a crash;
//     the suite never flushes before a reopen or a power loss.
//   - SyncOnWrite false: the suite calls Flush before a reopen or a crash
//     and checks only what was flushed; appends after the last flush may
//     survive as a prefix. The fsync case fails the sync of the Flush.
package raftlogtest
