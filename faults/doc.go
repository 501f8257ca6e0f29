// Package faults injects file-system faults under storage engines that do
// their I/O through pebble's vfs.FS: failed syncs with Linux semantics,
// I/O errors, a full disk, latency, and power loss with torn writes.
//
// # Wrapping a file system
//
// Wrap(fs, inj) returns a vfs.FS that shows every operation to an Injector
// before running it. The injector classifies the operation by its OpKind
// (OpSync covers Sync, SyncData and SyncTo of files and directories, OpWrite
// covers Write and WriteAt, and so on) and returns nil to let it run or an
// error to fail it. Every injected error matches ErrInjected and the errno
// it carries under errors.Is, so an engine sees what it would see from the
// kernel: errors.Is(err, syscall.EIO) holds.
//
// # Injectors
//
//   - Trigger fails nothing until armed; Arm(n) fails the next n
//     operations of its kind. Tests and nemeses use it to place one fault
//     at one moment.
//   - Rule fails operations of one kind with one errno: each with a
//     probability drawn from a generator seeded explicitly (RandomErrors,
//     ReadEIO, WriteEIO, SyncEIO), only the n-th one (OnIndex), or every
//     one past a byte budget (AfterBytes). DiskFull is ENOSPC on writes past
//     n bytes: the write that crosses the limit writes what fits and returns
//     its count with the error, as a short write to a full disk does. OnPath narrows a rule to paths matching a
//     pattern, tried on the whole path and on its last element.
//   - Latency delays operations of one kind, or of all kinds, and fails
//     nothing.
//   - Any composes injectors: every one sees every operation, so each
//     draws from its own generator as it would alone, and the first error
//     wins.
//
// No decision reads the clock or a global random source: a seed and the
// sequence of operations determine every fault, so a failing run replays.
//
// # Text form
//
// Every injector prints as a line that Parse reads back, so a fault
// schedule can be logged, stored with a run and replayed:
//
//	none                                      fails nothing
//	sync-eio                                  every sync fails with EIO
//	sync-eio(p=0.01,seed=7)                   each sync with probability 0.01
//	read-eio(path=*.log,p=0.1,seed=3)         reads of *.log files only
//	sync-eio(index=2)                         the third sync, no other
//	write-enospc(after=1MiB)                  writes past 1 MiB fail
//	latency(op=sync,d=5ms)                    each sync waits 5ms
//	latency(op=write,d=1ms,p=0.5,seed=9)      half of the writes wait
//	all-eio(p=0.001,seed=1)                   any operation may fail
//	trigger(sync,EIO)                         disarmed until Arm
//	any(sync-eio(p=0.01,seed=7),latency(op=sync,d=5ms))
//
// A rule is <kind>-<errno> with the kind's String ("all" for every kind)
// and the errno's name in lower case (errno<n> for one without a name
// here), then optional key=value arguments: path (a path.Match pattern),
// and one of p (with seed when 0 < p < 1), index, or after (a size such as
// 4096, 64KiB or 1MiB, counting the bytes of reads and writes). Parse reports
// what is wrong with a line it refuses: an unknown kind or errno, a
// probability outside [0,1], a missing seed, a repeated or unknown
// argument. String gives a canonical line: Parse(s).String() is s for any
// canonical s, and a Trigger's armed count, being state, is not part of it.
//
// # Fsync failure
//
// In 2018 PostgreSQL developers found, in a discussion that came to be
// called "fsyncgate", that Linux does not keep data whose write-back
// failed: when fsync reports EIO the kernel has already marked the dirty
// pages clean (or thrown them away), reports the error once, and a second
// fsync succeeds though the data never reached the disk. A database that
// retried the fsync and carried on could lose committed data silently.
// PostgreSQL's answer was to treat a failed fsync as fatal and recover from
// its write-ahead log; the only safe responses are to fail, or to rewrite
// the data from a copy that is known good.
//
// Pebble's errorfs only returns an error. FS reproduces the loss. When its
// injector may fail a sync (see MayFailer), FS holds each file's writes
// since its last good sync in memory, shared by every handle of the file,
// so that the underlying file holds exactly what was synced:
//   - reads and Stat through any handle, and FS.Stat, see the underlying
//     content with the held writes laid over it;
//   - a sync that passes the injector writes the held data through and
//     syncs the underlying file; SyncTo then is a full sync;
//   - a sync the injector fails returns its error (once: nothing else
//     remembers it) and drops the held writes, so reads see the file as of
//     its last good sync, size included, and the next sync succeeds without
//     the lost data. The handle's position does not move back: the next
//     sequential write leaves a hole of zeros, as after a lost page;
//   - the held data follows Rename and Link, and Remove drops it (handles
//     still open keep reading it).
//
// Linux may keep showing the lost data in the page cache until it is
// evicted; FS shows at once what a restart would show, which makes the
// loss observable to a checker. A failed directory sync returns its error
// and does not sync the underlying directory: the entries created since its
// last good sync stay volatile, a power loss may drop them, and a later good
// sync makes them durable.
//
// When the injector cannot fail a sync, every operation it lets through goes
// straight to the underlying file system, with its exact behaviour and
// durability.
//
// # Power loss
//
// PowerLoss(mem, seed, p) clones a vfs.NewCrashableMem file system as a power
// loss would leave it: everything synced survives, and every 4 KiB block
// of unsynced file data and every unsynced directory entry survives with
// probability p/100, drawn from a generator seeded with seed. With p = 0
// only synced state survives; with 0 < p < 100 a multi-block write can be
// torn, leaving old and new blocks side by side. Disk bundles a crashable
// MemFS with an FS in front of it; Disk.PowerLoss also counts the writes
// the FS holds in memory as unsynced data, and returns a new Disk on which
// the engine opens again. It leaves the old disk without power: every
// operation on it fails with EIO from then on, and so does every operation
// that was running at the cut, so no operation reports success for an
// effect the clone may lack. That makes it safe to cut the power from
// inside an injector while other goroutines of the engine do I/O.
//
// # Corruption at rest
//
// A Corruption damages one file of a store that is closed, or left by a
// crash and not yet reopened: it flips a bit, zeroes a 4 KiB block,
// truncates, deletes, or appends garbage, at a place drawn from its seed
// among the bytes that hold data (never preallocated zeros), optionally
// only in files matching a pattern or in their first HeadSize bytes, where
// formats keep headers and metadata pages. Apply works on any vfs.FS: a
// crashable MemFS after PowerLoss, or vfs.Default for a directory of an
// engine that writes around a vfs.FS (bbolt). It returns a Damage that
// says what it did; its text form, corrupt(kind=flip,seed=7), reads back
// with ParseCorruption.
package faults
