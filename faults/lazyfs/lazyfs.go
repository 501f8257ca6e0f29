package lazyfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Options tunes a mount. The zero value is the tested default.
type Options struct {
	// NoKernelCache turns the kernel's caches off for the mount: direct
	// I/O on every open, no FOPEN_KEEP_CACHE, entry and attribute timeouts
	// of zero. Crash does not need it (see the package documentation);
	// it exists to measure its cost. Shared mmap of a file, which bbolt
	// needs, fails with ENODEV under it.
	NoKernelCache bool
	// SyncBacking also fsyncs the backing copy of whatever a sync makes
	// durable, so that a crash of the host loses nothing synced either. It
	// makes every sync cost what it costs on the backing disk.
	SyncBacking bool
	// Debug logs every FUSE request.
	Debug bool
	// Profile is the semantics of directory entries; the zero value is
	// Strict.
	Profile Profile
}

// Profile names when a directory entry becomes durable.
type Profile string

// The profiles.
const (
	// Strict is POSIX as written: only an fsync of a directory makes its
	// entries durable. An engine that passes under it is portable.
	Strict Profile = "strict"
	// Ext4 is what ext4 and xfs do in practice: an fsync of a file also
	// makes durable the entries that name it and those of the directories
	// above it that were created since their parent's last sync. An engine
	// that fails under Strict only relies on this.
	Ext4 Profile = "ext4"
)

// EnvProfile is the environment variable through which a test run picks
// the profile of the lazyfs mounts the conformance suites make ("strict",
// the default, or "ext4"), e.g. ORDEAL_LAZYFS_PROFILE=ext4 go test ./...
const EnvProfile = "ORDEAL_LAZYFS_PROFILE"

// ProfileFromEnv returns the profile EnvProfile names (Strict if unset).
func ProfileFromEnv() (Profile, error) { return ParseProfile(os.Getenv(EnvProfile)) }

// ParseProfile returns the profile named s ("" is Strict).
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case "", Strict:
		return Strict, nil
	case Ext4:
		return Ext4, nil
	}
	return "", fmt.Errorf("%w: profile %q (want strict or ext4)", ErrBadOption, s)
}

// FS is a mounted lazyfs. Its methods may be called from any goroutine;
// control calls (Crash, Unmount) are serialized.
type FS struct {
	backing, mountpoint string
	opts                Options

	ctl    sync.Mutex // serializes Crash and Unmount
	mu     sync.Mutex // guards st and server
	st     *state
	server *fuse.Server
	conn   string // the FUSE connection's control directory
}

// Mount serves backing at mountpoint. Whatever backing holds is taken as
// durable. The caller must be root, /dev/fuse must exist, and both
// directories must exist; the mount is made with mount(2) directly, so no
// fusermount binary is needed.
func Mount(backing, mountpoint string, opts Options) (*FS, error) {
	b, err := filepath.Abs(backing)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	m, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
	}
	if b == m || isUnder(m, b) || isUnder(b, m) {
		return nil, fmt.Errorf("%w: backing %s and mountpoint %s overlap", ErrBadOption, b, m)
	}
	if _, err := ParseProfile(string(opts.Profile)); err != nil {
		return nil, err
	}
	f := &FS{backing: b, mountpoint: m, opts: opts}
	if err := f.mount(); err != nil {
		return nil, err
	}
	return f, nil
}

func isUnder(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}

// mount loads the backing directory and starts serving it. f.mu is held
// or f is not yet shared.
func (f *FS) mount() error {
	st, err := load(f.backing)
	if err != nil {
		return err
	}
	st.syncBacking = f.opts.SyncBacking
	st.ext4 = f.opts.Profile == Ext4
	var flags uint32 = fuse.FOPEN_KEEP_CACHE
	timeout := time.Second
	if f.opts.NoKernelCache {
		flags, timeout = fuse.FOPEN_DIRECT_IO, 0
	}
	root := &node{s: st, n: st.root, openFlags: flags}
	server, err := fs.Mount(f.mountpoint, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "lazyfs:" + f.backing,
			Name:              "lazyfs",
			Debug:             f.opts.Debug,
			MaxWrite:          1 << 20,
			AllowOther:        true,
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		RootStableAttr:  &fs.StableAttr{Ino: st.root.id},
	})
	if err != nil {
		st.closeAll()
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	f.st, f.server = st, server
	var sb syscall.Stat_t
	if err := syscall.Stat(f.mountpoint, &sb); err == nil {
		f.conn = fmt.Sprintf("/sys/fs/fuse/connections/%d", unix.Minor(sb.Dev))
	}
	return nil
}

// Mountpoint is where the file system is mounted.
func (f *FS) Mountpoint() string { return f.mountpoint }

// Backing is the directory that holds the durable state.
func (f *FS) Backing() string { return f.backing }

func (f *FS) state() (*state, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st == nil {
		return nil, ErrClosed
	}
	return f.st, nil
}

// busyWait is how long unmount waits for the kernel to release the files
// of a process that is gone before it reports the mount busy.
const busyWait = 2 * time.Second

// unmount stops serving. It fails with ErrBusy, changing nothing, while
// any handle is open or the kernel refuses.
func (f *FS) unmount() error {
	if _, err := f.state(); err != nil {
		return err
	}
	// The kernel, not the count of opens, decides: a close returns before
	// its RELEASE request reaches the server, and a mapping outlives its
	// descriptor. A process killed just now may still be closing its
	// files (slowly, on a loaded machine or under the race detector), so a
	// busy mount is retried for up to busyWait.
	var err error
	deadline := time.Now().Add(busyWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err = syscall.Unmount(f.mountpoint, 0)
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			break
		}
		time.Sleep(delay)
	}
	switch {
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("%w: unmount %s: a file is open or mapped, or a working directory is inside: %w", ErrBusy, f.mountpoint, err)
	case err != nil:
		return fmt.Errorf("%w: unmount %s: %w", ErrBacking, f.mountpoint, err)
	}
	f.waitServer()
	f.mu.Lock()
	f.server = nil
	f.mu.Unlock()
	return nil
}

// serverWait bounds the wait for the FUSE server to finish after an
// unmount.
const serverWait = 10 * time.Second

// waitServer waits for the FUSE server to end after an unmount. A request
// the kernel never completes would keep it waiting forever, so after
// serverWait the FUSE connection is aborted, which fails what is left in
// flight and ends the server.
func (f *FS) waitServer() {
	done := make(chan struct{})
	go func() {
		f.server.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(serverWait):
	}
	_ = f.abortConn()
	<-done
}

// abortConn aborts the mount's FUSE connection through the fusectl file
// system, mounting it when missing.
func (f *FS) abortConn() error {
	if f.conn == "" {
		return nil
	}
	if _, err := os.Stat(f.conn); errors.Is(err, os.ErrNotExist) {
		// Not mounted yet; fails harmlessly when it is.
		_ = syscall.Mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, "")
	}
	if err := os.WriteFile(filepath.Join(f.conn, "abort"), []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: abort %s: %w", ErrBacking, f.conn, err)
	}
	return nil
}

// Crash simulates a power loss. Every write not yet made durable by an
// fsync or fdatasync of its file, and every directory entry change not
// yet made durable by an fsync of its directory, is dropped, except a
// seeded random share of keepPercent percent (0 to 100) of the changed
// entries and of the dirty 4 KiB blocks, which is kept as a torn
// writeback would leave it; 100 keeps everything, sizes included.
// Afterwards the mount shows exactly the backing directory, served by a
// fresh mount, so no kernel cache survives.
//
// Crash requires that no process holds a file of the mount open or
// mapped, or its working directory inside (kill or close the engine
// first); otherwise it returns an error wrapping ErrBusy and changes
// nothing. Failures set up with FailNextSync and not yet used are cleared.
func (f *FS) Crash(keepPercent int, seed uint64) error {
	if keepPercent < 0 || keepPercent > 100 {
		return fmt.Errorf("%w: keepPercent %d not in [0, 100]", ErrBadOption, keepPercent)
	}
	f.ctl.Lock()
	defer f.ctl.Unlock()
	if err := f.unmount(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	f.st = nil
	st.mu.Lock()
	var kerr error
	if keepPercent > 0 {
		kerr = st.crashKeep(keepPercent, seed)
	}
	st.closeAll()
	st.mu.Unlock()
	if err := f.mount(); err != nil {
		return err
	}
	if kerr != nil {
		return fmt.Errorf("%w: keep unsynced share: %w", ErrBacking, kerr)
	}
	return nil
}

// FailNextSync makes the next n fsync or fdatasync calls on regular files
// fail as Linux fails them after a writeback error: the call returns EIO,
// the file's dirty data is no longer dirty (reads still return it until a
// crash, as from a page cache), so a later sync succeeds without ever
// writing it. n <= 0 clears pending failures.
func (f *FS) FailNextSync(n int) error {
	st, err := f.state()
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.failSyncs = max(n, 0)
	return nil
}

// Unsynced reports what a crash now would lose.
func (f *FS) Unsynced() (Unsynced, error) {
	st, err := f.state()
	if err != nil {
		return Unsynced{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.unsynced(), nil
}

// UnsyncedBytes is the dirty file data a crash now would lose, counted in
// whole 4 KiB blocks; 0 once unmounted.
func (f *FS) UnsyncedBytes() int64 {
	u, err := f.Unsynced()
	if err != nil {
		return 0
	}
	return u.Bytes
}

// SyncCounts reports the fsync and fdatasync calls on regular files
// served since the last mount or crash, and how many of them failed.
func (f *FS) SyncCounts() (syncs, failed int64) {
	st, err := f.state()
	if err != nil {
		return 0, 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.syncs, st.failed
}

// Unmount drops everything unsynced, as Crash(0, 0) does, and stops
// serving; the backing directory keeps the durable state. It returns an
// error wrapping ErrBusy, and stays mounted, while the mount is in use.
// Unmounting twice is not an error.
func (f *FS) Unmount() error {
	f.ctl.Lock()
	defer f.ctl.Unlock()
	f.mu.Lock()
	closed := f.st == nil
	f.mu.Unlock()
	if closed {
		return nil
	}
	if err := f.unmount(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.mu.Lock()
	f.st.closeAll()
	f.st.mu.Unlock()
	f.st = nil
	if err := os.RemoveAll(filepath.Join(f.backing, spoolName)); err != nil {
		return fmt.Errorf("%w: clear spool: %w", ErrBacking, err)
	}
	return nil
}

// ForceUnmount tears the mount down even while it is in use: it detaches
// the mount and aborts its FUSE connection, so that every handle still
// open on it fails with ENOTCONN and no process can hang on it. Unsynced
// state is dropped as by Unmount. Aborting needs the fusectl file system
// at /sys/fs/fuse/connections; ForceUnmount mounts it when missing. Use it
// to clean up after a failure, not as a crash: a process blocked on the
// mount gets errors, not the backing state.
func (f *FS) ForceUnmount() error {
	f.ctl.Lock()
	defer f.ctl.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st == nil {
		return nil
	}
	derr := syscall.Unmount(f.mountpoint, syscall.MNT_DETACH)
	if _, err := os.Stat("/sys/fs/fuse/connections"); err == nil {
		if err := f.abortConn(); err != nil {
			return err
		}
	}
	if derr != nil && !errors.Is(derr, syscall.EINVAL) {
		return fmt.Errorf("%w: detach %s: %w", ErrBacking, f.mountpoint, derr)
	}
	f.server.Wait()
	f.st.mu.Lock()
	f.st.closeAll()
	f.st.mu.Unlock()
	f.st, f.server = nil, nil
	return nil
}

// Available reports, with an error wrapping ErrUnavailable, why lazyfs
// cannot mount here: not root, no /dev/fuse, or a trial mount in a
// temporary directory fails.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root for mount(2), euid is %d", ErrUnavailable, os.Geteuid())
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	dir, err := os.MkdirTemp("", "lazyfs-probe")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer os.RemoveAll(dir)
	b, m := filepath.Join(dir, "b"), filepath.Join(dir, "m")
	for _, d := range []string{b, m} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	f, err := Mount(b, m, Options{})
	if err != nil {
		return err
	}
	if err := f.Unmount(); err != nil {
		return fmt.Errorf("%w: trial unmount: %w", ErrUnavailable, err)
	}
	return nil
}
