// Package lazyfs is a FUSE file system that keeps everything not yet
// synced in its own memory and loses it at a simulated power loss. It
// crashes what cannot be crashed in-process through pebble's vfs: bbolt
// with its mmap, engines in other processes, any code writing through
// os.File.
//
// Mount serves a backing directory at a mount point. The backing
// directory always holds the durable state, as a plain tree of files:
// after Unmount it can be read, copied or mounted again.
//
//	f, err := lazyfs.Mount(backing, mnt, lazyfs.Options{})
//	// run the engine on mnt in a child process, kill it
//	err = f.Crash(0, seed)    // power loss: mnt now shows backing exactly
//	err = f.FailNextSync(1)   // the next file fsync fails with EIO
//	u, err := f.Unsynced()    // what a crash now would lose
//	err = f.Unmount()
//
// Mounting needs root, /dev/fuse and a kernel that allows it; Available
// says whether all three hold. Mount calls mount(2) itself (go-fuse's
// DirectMountStrict), so no fusermount binary or extra package is needed.
//
// # The durability model
//
// Reads always see the latest writes (read-your-writes), as from a page
// cache. What reaches the backing directory, and so survives a crash:
//
//   - File data and size: at fsync or fdatasync of the file (the two are
//     the same here), and only then. Until then the written 4 KiB blocks,
//     truncations and extensions live in lazyfs's memory. Closing a file
//     makes nothing durable.
//   - Directory entries (create, mkdir, symlink, link, rename, unlink,
//     rmdir): at fsync of the directory holding the entry, and only then.
//     Fsync of a new file makes its data durable, not its name: the file
//     is lost at a crash until its directory is synced, and a new
//     directory is lost until its parent is synced. This is stricter than
//     ext4, whose journal often commits the name along with the data, and
//     it is what POSIX promises.
//   - A rename touches two entries. Each becomes durable with a sync of
//     its own directory: a file renamed between directories and only the
//     target synced is, after a crash, in both (as a hard link); with only
//     the source synced it is in neither. A directory has one backing
//     copy, so syncing either side of a directory rename makes the whole
//     move durable.
//   - An inode synced while no durable entry names it (a new file fsynced
//     before its directory) keeps its data in a hidden spool directory of
//     the backing directory (.lazyfs-spool, never shown, emptied at every
//     mount) until a directory sync names it or a crash drops it.
//   - Permission bits become durable with the file's fsync; times are not
//     kept across a crash beyond what the backing files carry.
//   - Regular files, directories and symlinks are served; hard links only
//     to regular files; devices, fifos and sockets in the backing
//     directory are not shown. RENAME_EXCHANGE is refused with EINVAL.
//
// The backing directory itself is not fsynced unless Options.SyncBacking
// is set: a crash of the host is outside the model.
//
// # Crash
//
// Crash(keepPercent, seed) is a power loss. Every unsynced write and
// entry change is dropped, except a seeded random share of keepPercent
// percent of the changed entries and of the dirty 4 KiB blocks, which is
// written to the backing directory first, as a writeback interrupted half
// way would leave it: torn files, a new name without its data, a rename
// without the unlink that went with it. The same seed on the same history
// keeps the same share. Afterwards the mount shows exactly the backing
// directory.
//
// Protocol: Crash needs the mount idle. Kill the engine's process (or
// close the engine) first; while any file is open or mapped, or a working
// directory is inside, Crash returns ErrBusy and changes nothing. A
// process killed with SIGKILL has closed its files once Wait returns; a
// handle whose RELEASE is still in flight is tolerated, and Crash retries
// a busy unmount for about a quarter of a second. ForceUnmount tears a
// busy mount down instead (every handle left on it then fails with
// ENOTCONN); it is for cleaning up after a failure, not a crash.
//
// Run the engine in another process than the one serving the mount. A Go
// process that faults on a mapping of a file of its own FUSE mount (bbolt
// reading its file) can deadlock: the faulting thread cannot be preempted,
// a garbage collection that stops the world waits for it, and the
// goroutines that would answer the fault are stopped. This was seen here
// in a benchmark that ran bbolt in the serving process; the tests run
// every engine in a child process.
//
// # Fsync failure
//
// FailNextSync(n) makes the next n fsync or fdatasync calls on regular
// files fail as Linux fails them after a writeback error (the "fsyncgate"
// semantics): the call returns EIO; the file's dirty blocks stop being
// dirty, so no later sync writes them, and the next sync succeeds without
// them; reads still return the data until a crash, as the page cache
// would. Writing into such a block again dirties it again, and the next
// sync then carries the whole block, old bytes included, as a page would.
// A writer that retries fsync after EIO thus acknowledges data that a
// crash loses; Unsynced().LostBytes counts it. SyncCounts reports the
// syncs served and failed. Crash clears failures not yet used.
//
// # The page-cache question
//
// The kernel caches file pages, attributes and entries of a FUSE mount.
// A crash that changed lazyfs's state in place would leave the pre-crash
// pages in the kernel, where a reader or a mapping would still find the
// lost data. Measured on this machine (Linux 6.18, go-fuse v2.12.1), in
// TestPageCache, after an unsynced write over synced data:
//
//   - Kernel caches on (FOPEN_KEEP_CACHE, 1 s entry and attribute
//     timeouts), state dropped in place: read(2) from a new open and a
//     fresh shared mapping both still return the lost bytes. Whether they
//     do depends on timing: FUSE_AUTO_INVAL_DATA drops the pages when a
//     later attribute refresh sees a new mtime or size, and not otherwise.
//   - Kernel caches off (FOPEN_DIRECT_IO, zero timeouts), in place: read(2)
//     sees the backing state, but a shared mapping fails with ENODEV, so
//     bbolt cannot open its file at all.
//   - Either way, crash by unmount and mount again: read(2) and mappings
//     see the backing state. The new mount is a new superblock with empty
//     caches; nothing to invalidate, nothing that can be missed.
//
// So Crash unmounts and mounts again (about 3 ms here for a small tree),
// and the caches stay on between crashes, where they are coherent because
// every change goes through the kernel. Invalidation in place with
// go-fuse's NotifyContent and NotifyEntry would have to reach every cached
// inode and entry; it was not measured, as the remount leaves nothing to
// miss. Direct I/O was rejected for breaking shared mmap.
// Options.NoKernelCache remains for measuring.
//
// # Cost
//
// BenchmarkBboltPut and BenchmarkAppendSync compare the plain disk with
// lazyfs over a backing directory on the same disk. Without
// Options.SyncBacking lazyfs never waits for the disk, so a sync-bound
// workload can run faster on it than on the disk; every write, though,
// is a FUSE round trip. Measured here (2 shared cores, ext4 backing,
// -benchtime 2000x): fsynced bbolt puts ran at about 1.6x the disk's rate
// (no real fsync) and at about 0.6x with SyncBacking; unsynced (NoSync)
// bbolt puts, which only pay the round trips, at about 0.25x.
//
// # How it differs from LazyFS
//
// LazyFS (the C FUSE file system Jepsen and etcd use) caches file data
// until fsync but makes creates, renames, unlinks and links durable at
// once. It cannot show the bug of an engine that creates and fsyncs a
// file but never syncs its directory, or that renames a new manifest into
// place without a directory sync; this package loses such entries at a
// crash (TestCreateNeedsDirectorySync). It also tears unsynced writes by
// 4 KiB block under a seed, fails fsync with Linux's semantics, reports
// what is unsynced, and is driven from Go, in the test process, with no
// FIFO protocol.
package lazyfs
