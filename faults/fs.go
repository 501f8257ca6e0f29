package faults

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FS is a vfs.FS that consults an injector before every operation and
// forwards the operations that pass to the file system it wraps.
//
// When the injector may fail a sync (see MayFailer), FS holds every write
// since a file's last good sync in memory, shared by every handle of the
// file, and writes it through at the next good sync; a failed sync drops it
// (see the package documentation, "Fsync failure"). Otherwise every
// operation that passes goes straight through.
type FS struct {
	fs   vfs.FS
	inj  Injector
	hold bool
	mem  bool // the root is a MemFS, where "/a" and "a" name one file

	off atomic.Bool // set by Disk.PowerLoss: every operation fails

	mu    sync.Mutex
	files map[string]*fileState // by cleaned name; only when hold
}

var _ vfs.FS = (*FS)(nil)

// Wrap returns fs with inj consulted before every operation. A nil inj
// fails nothing.
func Wrap(fs vfs.FS, inj Injector) *FS {
	if inj == nil {
		inj = None
	}
	return &FS{
		fs:    fs,
		inj:   inj,
		hold:  mayFail(inj, OpSync),
		mem:   isMem(fs),
		files: make(map[string]*fileState),
	}
}

// Injector returns the injector fs consults.
func (fs *FS) Injector() Injector { return fs.inj }

// Holding reports whether fs holds unsynced writes in memory (because its
// injector may fail a sync) rather than passing them through.
func (fs *FS) Holding() bool { return fs.hold }

// Unsynced returns how many written bytes fs holds that no good sync has
// written through yet, over every file that still has a name. It is 0 when
// fs is not Holding.
func (fs *FS) Unsynced() int64 {
	fs.mu.Lock()
	states := make(map[*fileState]struct{}, len(fs.files))
	for _, st := range fs.files {
		states[st] = struct{}{}
	}
	fs.mu.Unlock()
	var n int64
	for st := range states {
		st.mu.Lock()
		n += st.dirtyBytes()
		st.mu.Unlock()
	}
	return n
}

// check returns the error op fails with before it runs: the power is off,
// or the injector says so.
func (fs *FS) check(op Op) error {
	if fs.off.Load() {
		return powerOff(op)
	}
	return fs.inj.MaybeError(op)
}

func isMem(fs vfs.FS) bool {
	_, ok := vfs.Root(fs).(*vfs.MemFS)
	return ok
}

// key returns the name under which fs keeps the state of the file name.
func (fs *FS) key(name string) string {
	k := filepath.Clean(name)
	if fs.mem {
		k = strings.TrimLeft(k, "/")
		if k == "" {
			k = "."
		}
	}
	return k
}

// Unwrap implements vfs.FS.
func (fs *FS) Unwrap() vfs.FS { return fs.fs }

// doCreate is Create before the power check.
func (fs *FS) doCreate(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.check(Op{Kind: OpCreate, Path: name}); err != nil {
		return nil, err
	}
	under, err := fs.fs.Create(name, category)
	if err != nil {
		return nil, err
	}
	f := &file{fs: fs, name: name, under: under, writable: true}
	if fs.hold {
		fs.mu.Lock()
		fs.unlinkLocked(fs.key(name))
		f.st = &fileState{path: fs.key(name)}
		fs.linkLocked(fs.key(name), f.st)
		f.st.refs++
		fs.mu.Unlock()
	}
	return f, nil
}

// doReuseForWrite is ReuseForWrite before the power check.
func (fs *FS) doReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.check(Op{Kind: OpCreate, Path: newname}); err != nil {
		return nil, err
	}
	under, err := fs.fs.ReuseForWrite(oldname, newname, category)
	if err != nil {
		return nil, err
	}
	if fs.hold {
		fs.mu.Lock()
		fs.renameLocked(fs.key(oldname), fs.key(newname))
		fs.mu.Unlock()
	}
	return fs.open(newname, under, true, false)
}

// doOpen is Open before the power check.
func (fs *FS) doOpen(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if err := fs.check(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	under, err := fs.fs.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	return fs.open(name, under, false, false)
}

// doOpenReadWrite is OpenReadWrite before the power check.
func (fs *FS) doOpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	if err := fs.check(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	under, err := fs.fs.OpenReadWrite(name, category, opts...)
	if err != nil {
		return nil, err
	}
	return fs.open(name, under, true, false)
}

// doOpenDir is OpenDir before the power check.
func (fs *FS) doOpenDir(name string) (vfs.File, error) {
	if err := fs.check(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	under, err := fs.fs.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return fs.open(name, under, false, true)
}

// open wraps an opened underlying handle, attaching the file's shared state
// when fs holds writes.
func (fs *FS) open(name string, under vfs.File, writable, dir bool) (vfs.File, error) {
	f := &file{fs: fs, name: name, under: under, writable: writable, dir: dir}
	if !fs.hold || dir {
		return f, nil
	}
	k := fs.key(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	st := fs.files[k]
	if st == nil {
		fi, err := under.Stat()
		if err != nil {
			_ = under.Close()
			return nil, err
		}
		if fi.IsDir() {
			f.dir = true
			return f, nil
		}
		st = &fileState{path: k, size: fi.Size(), synced: fi.Size()}
		fs.linkLocked(k, st)
	}
	st.refs++
	f.st = st
	return f, nil
}

// linkLocked makes k a name of st. fs.mu must be held.
func (fs *FS) linkLocked(k string, st *fileState) {
	fs.files[k] = st
	st.names++
}

// unlinkLocked removes the name k; a state left without names keeps serving
// its open handles. fs.mu must be held.
func (fs *FS) unlinkLocked(k string) {
	st := fs.files[k]
	if st == nil {
		return
	}
	delete(fs.files, k)
	st.names--
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.path != k {
		return
	}
	st.path = ""
	if st.names > 0 {
		for other, s := range fs.files {
			if s == st {
				st.path = other
				break
			}
		}
	}
}

// renameLocked moves the state of oldk to newk. fs.mu must be held.
func (fs *FS) renameLocked(oldk, newk string) {
	if oldk == newk {
		return
	}
	st := fs.files[oldk]
	fs.unlinkLocked(newk)
	if st == nil {
		return
	}
	delete(fs.files, oldk)
	fs.files[newk] = st
	st.mu.Lock()
	if st.path == oldk {
		st.path = newk
	}
	st.mu.Unlock()
}

// release drops a handle's reference to st, forgetting a state that has no
// handle and nothing unsynced.
func (fs *FS) release(st *fileState) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	st.refs--
	if st.refs > 0 {
		return
	}
	st.mu.Lock()
	clean := len(st.dirty) == 0
	st.mu.Unlock()
	if !clean {
		return
	}
	for k, s := range fs.files {
		if s == st {
			delete(fs.files, k)
		}
	}
	st.names = 0
}

// doLink is Link before the power check.
func (fs *FS) doLink(oldname, newname string) error {
	if err := fs.check(Op{Kind: OpLink, Path: oldname}); err != nil {
		return err
	}
	if err := fs.fs.Link(oldname, newname); err != nil {
		return err
	}
	if fs.hold {
		fs.mu.Lock()
		if st := fs.files[fs.key(oldname)]; st != nil {
			fs.unlinkLocked(fs.key(newname))
			fs.linkLocked(fs.key(newname), st)
		}
		fs.mu.Unlock()
	}
	return nil
}

// doRemove is Remove before the power check.
func (fs *FS) doRemove(name string) error {
	if err := fs.check(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	if err := fs.fs.Remove(name); err != nil {
		return err
	}
	if fs.hold {
		fs.mu.Lock()
		fs.unlinkLocked(fs.key(name))
		fs.mu.Unlock()
	}
	return nil
}

// doRemoveAll is RemoveAll before the power check.
func (fs *FS) doRemoveAll(name string) error {
	if err := fs.check(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	if err := fs.fs.RemoveAll(name); err != nil {
		return err
	}
	if fs.hold {
		k := fs.key(name)
		prefix := strings.TrimSuffix(k, string(filepath.Separator)) + string(filepath.Separator)
		fs.mu.Lock()
		for other := range fs.files {
			if other == k || strings.HasPrefix(other, prefix) || k == "." || k == string(filepath.Separator) {
				fs.unlinkLocked(other)
			}
		}
		fs.mu.Unlock()
	}
	return nil
}

// doRename is Rename before the power check.
func (fs *FS) doRename(oldname, newname string) error {
	if err := fs.check(Op{Kind: OpRename, Path: oldname}); err != nil {
		return err
	}
	if err := fs.fs.Rename(oldname, newname); err != nil {
		return err
	}
	if fs.hold {
		fs.mu.Lock()
		fs.renameLocked(fs.key(oldname), fs.key(newname))
		fs.mu.Unlock()
	}
	return nil
}

// doMkdirAll is MkdirAll before the power check.
func (fs *FS) doMkdirAll(dir string, perm os.FileMode) error {
	if err := fs.check(Op{Kind: OpMkdir, Path: dir}); err != nil {
		return err
	}
	return fs.fs.MkdirAll(dir, perm)
}

// doLock is Lock before the power check.
func (fs *FS) doLock(name string) (io.Closer, error) {
	if err := fs.check(Op{Kind: OpLock, Path: name}); err != nil {
		return nil, err
	}
	return fs.fs.Lock(name)
}

// doList is List before the power check.
func (fs *FS) doList(dir string) ([]string, error) {
	if err := fs.check(Op{Kind: OpList, Path: dir}); err != nil {
		return nil, err
	}
	return fs.fs.List(dir)
}

// doStat is Stat before the power check.
func (fs *FS) doStat(name string) (vfs.FileInfo, error) {
	if err := fs.check(Op{Kind: OpStat, Path: name}); err != nil {
		return nil, err
	}
	fi, err := fs.fs.Stat(name)
	if err != nil || !fs.hold || fi.IsDir() {
		return fi, err
	}
	fs.mu.Lock()
	st := fs.files[fs.key(name)]
	fs.mu.Unlock()
	if st == nil {
		return fi, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return sizedInfo{FileInfo: fi, size: st.size}, nil
}

// PathBase implements vfs.FS.
func (fs *FS) PathBase(p string) string { return fs.fs.PathBase(p) }

// PathJoin implements vfs.FS.
func (fs *FS) PathJoin(elem ...string) string { return fs.fs.PathJoin(elem...) }

// PathDir implements vfs.FS.
func (fs *FS) PathDir(p string) string { return fs.fs.PathDir(p) }

// GetDiskUsage implements vfs.FS.
func (fs *FS) GetDiskUsage(p string) (vfs.DiskUsage, error) { return fs.fs.GetDiskUsage(p) }

// sizedInfo reports a size other than the underlying file's.
type sizedInfo struct {
	vfs.FileInfo
	size int64
}

func (i sizedInfo) Size() int64 { return i.size }

// file is a handle opened through FS.
type file struct {
	fs       *FS
	name     string
	under    vfs.File
	st       *fileState // nil unless fs holds writes and this is a file
	writable bool
	dir      bool

	mu     sync.Mutex // guards pos
	pos    int64
	closed atomic.Bool
}

// errIfClosed returns the error of a call on a closed handle.
func (f *file) errIfClosed() error {
	if f.closed.Load() {
		return fmt.Errorf("faults: %s: %w", f.name, os.ErrClosed)
	}
	return nil
}

var _ vfs.File = (*file)(nil)

// Close implements vfs.File.
func (f *file) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("faults: close %s: %w", f.name, os.ErrClosed)
	}
	err := f.under.Close()
	if f.st != nil {
		f.fs.release(f.st)
	}
	return err
}

// doRead is Read before the power check.
func (f *file) doRead(p []byte) (int, error) {
	if err := f.errIfClosed(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	injected := f.fs.check(Op{Kind: OpRead, Path: f.name, Offset: f.pos, Len: len(p)})
	p, ok := allowed(p, injected)
	if !ok {
		return 0, injected
	}
	var n int
	var err error
	if f.st == nil {
		n, err = f.under.Read(p)
	} else {
		f.st.mu.Lock()
		n, err = f.st.readAt(p, f.pos, f.under)
		f.st.mu.Unlock()
		if err == io.EOF && n > 0 {
			err = nil
		}
	}
	f.pos += int64(n)
	return n, cmp.Or(injected, err)
}

// doReadAt is ReadAt before the power check.
func (f *file) doReadAt(p []byte, off int64) (int, error) {
	if err := f.errIfClosed(); err != nil {
		return 0, err
	}
	injected := f.fs.check(Op{Kind: OpRead, Path: f.name, Offset: off, Len: len(p)})
	p, ok := allowed(p, injected)
	if !ok {
		return 0, injected
	}
	var n int
	var err error
	if f.st == nil {
		n, err = f.under.ReadAt(p, off)
	} else {
		f.st.mu.Lock()
		n, err = f.st.readAt(p, off, f.under)
		f.st.mu.Unlock()
	}
	return n, cmp.Or(injected, err)
}

// doWrite is Write before the power check.
func (f *file) doWrite(p []byte) (int, error) {
	if err := f.errIfClosed(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	injected := f.fs.check(Op{Kind: OpWrite, Path: f.name, Offset: f.pos, Len: len(p)})
	p, ok := allowed(p, injected)
	if !ok {
		return 0, injected
	}
	var n int
	var err error
	if f.st == nil {
		n, err = f.under.Write(p)
	} else {
		n, err = f.hold(p, f.pos)
	}
	f.pos += int64(n)
	return n, cmp.Or(injected, err)
}

// doWriteAt is WriteAt before the power check.
func (f *file) doWriteAt(p []byte, off int64) (int, error) {
	if err := f.errIfClosed(); err != nil {
		return 0, err
	}
	injected := f.fs.check(Op{Kind: OpWrite, Path: f.name, Offset: off, Len: len(p)})
	p, ok := allowed(p, injected)
	if !ok {
		return 0, injected
	}
	var n int
	var err error
	if f.st == nil {
		n, err = f.under.WriteAt(p, off)
	} else {
		n, err = f.hold(p, off)
	}
	return n, cmp.Or(injected, err)
}

// allowed returns the part of p that a read or write may transfer given
// the injector's verdict: all of it when injected is nil, the bytes an
// InjectedError lets through (Done) otherwise. ok is false when nothing
// is to be transferred and the operation fails at once.
func allowed(p []byte, injected error) (_ []byte, ok bool) {
	if injected == nil {
		return p, true
	}
	var ie *InjectedError
	if errors.As(injected, &ie) && ie.Done > 0 {
		return p[:min(ie.Done, len(p))], true
	}
	return nil, false
}

// hold lays a write over the file's held state.
func (f *file) hold(p []byte, off int64) (int, error) {
	if !f.writable {
		return 0, fmt.Errorf("write %s: %w", f.name, ErrNotWritable)
	}
	if off < 0 {
		return 0, fmt.Errorf("write %s: %w", f.name, os.ErrInvalid)
	}
	f.st.mu.Lock()
	f.st.writeAt(p, off)
	f.st.mu.Unlock()
	return len(p), nil
}

// doPreallocate is Preallocate before the power check.
func (f *file) doPreallocate(offset, length int64) error {
	if err := f.errIfClosed(); err != nil {
		return err
	}
	if err := f.fs.check(Op{Kind: OpPreallocate, Path: f.name, Offset: offset, Len: int(length)}); err != nil {
		return err
	}
	return f.under.Preallocate(offset, length)
}

// doStat is Stat before the power check.
func (f *file) doStat() (vfs.FileInfo, error) {
	if err := f.errIfClosed(); err != nil {
		return nil, err
	}
	if err := f.fs.check(Op{Kind: OpStat, Path: f.name}); err != nil {
		return nil, err
	}
	fi, err := f.under.Stat()
	if err != nil || f.st == nil {
		return fi, err
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	return sizedInfo{FileInfo: fi, size: f.st.size}, nil
}

// doSync is Sync before the power check.
func (f *file) doSync() error {
	return f.sync(vfs.File.Sync)
}

// doSyncData is SyncData before the power check.
func (f *file) doSyncData() error {
	return f.sync(vfs.File.SyncData)
}

// doSyncTo is SyncTo before the power check.
func (f *file) doSyncTo(length int64) (fullSync bool, err error) {
	if err := f.errIfClosed(); err != nil {
		return false, err
	}
	if f.st == nil {
		if err := f.fs.check(Op{Kind: OpSync, Path: f.name, Len: int(length)}); err != nil {
			return false, err
		}
		return f.under.SyncTo(length)
	}
	if err := f.sync(vfs.File.SyncData); err != nil {
		return false, err
	}
	return true, nil
}

// sync consults the injector and, when fs holds writes, drops them on an
// injected failure or writes them through and syncs with do.
func (f *file) sync(do func(vfs.File) error) (err error) {
	if err := f.errIfClosed(); err != nil {
		return err
	}
	op := Op{Kind: OpSync, Path: f.name}
	if f.fs.off.Load() {
		// Without power nothing is dropped: the held data stays for
		// another draw of the same power loss.
		return powerOff(op)
	}
	injected := f.fs.check(op)
	if f.st == nil {
		if injected != nil {
			return injected
		}
		return do(f.under)
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if injected != nil {
		f.st.drop()
		return injected
	}
	if len(f.st.dirty) == 0 {
		return do(f.under)
	}
	w := f.under
	if !f.writable {
		if f.st.path == "" {
			// Every name is gone and this handle cannot write: the data
			// stays readable through the open handles, and no power loss
			// can bring an unnamed file back.
			return nil
		}
		tmp, err := f.fs.fs.OpenReadWrite(f.st.path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return fmt.Errorf("faults: sync %s: %w", f.name, err)
		}
		defer func() {
			if cerr := tmp.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("faults: sync %s: %w", f.name, cerr)
			}
		}()
		w = tmp
	}
	if err := f.st.writeThrough(w); err != nil {
		return err
	}
	return do(w)
}

// Prefetch implements vfs.File.
func (f *file) Prefetch(offset, length int64) error {
	if err := f.errIfClosed(); err != nil {
		return err
	}
	return f.under.Prefetch(offset, length)
}

// Fd implements vfs.File. A file whose writes fs holds has no descriptor
// that would show its content.
func (f *file) Fd() uintptr {
	if f.st != nil {
		return vfs.InvalidFd
	}
	return f.under.Fd()
}
