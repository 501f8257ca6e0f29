package faults

import (
	"io"
	"os"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The exported methods of FS and of its files run their operation, then
// check the power: an operation that was still running when Disk.PowerLoss
// cut it fails with EIO, for its effect may or may not be on the clone, and
// reporting success could acknowledge data the clone lacks. Operations that
// start after the cut fail at once (see FS.check).

// powerOff returns the error of an operation on a disk without power.
func powerOff(op Op) error { return Inject(op, syscall.EIO, "power-off") }

// PoweredOff reports whether a Disk.PowerLoss cut the power of fs: every
// operation since fails with EIO.
func (fs *FS) PoweredOff() bool { return fs.off.Load() }

// after returns err, or the power-off error when the power went off while
// op ran.
func (fs *FS) after(op Op, err error) error {
	if err == nil && fs.off.Load() {
		return powerOff(op)
	}
	return err
}

// afterOpen is after for an operation that opened f: f is closed when the
// operation fails.
func (fs *FS) afterOpen(op Op, f vfs.File, err error) (vfs.File, error) {
	if err = fs.after(op, err); err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, err
	}
	return f, nil
}

// Create implements vfs.FS.
func (fs *FS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.doCreate(name, category)
	return fs.afterOpen(Op{Kind: OpCreate, Path: name}, f, err)
}

// ReuseForWrite implements vfs.FS. The injector sees an OpCreate of newname.
func (fs *FS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.doReuseForWrite(oldname, newname, category)
	return fs.afterOpen(Op{Kind: OpCreate, Path: newname}, f, err)
}

// Open implements vfs.FS.
func (fs *FS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.doOpen(name, opts...)
	return fs.afterOpen(Op{Kind: OpOpen, Path: name}, f, err)
}

// OpenReadWrite implements vfs.FS.
func (fs *FS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.doOpenReadWrite(name, category, opts...)
	return fs.afterOpen(Op{Kind: OpOpen, Path: name}, f, err)
}

// OpenDir implements vfs.FS.
func (fs *FS) OpenDir(name string) (vfs.File, error) {
	f, err := fs.doOpenDir(name)
	return fs.afterOpen(Op{Kind: OpOpen, Path: name}, f, err)
}

// Link implements vfs.FS. The injector sees an OpLink of oldname.
func (fs *FS) Link(oldname, newname string) error {
	return fs.after(Op{Kind: OpLink, Path: oldname}, fs.doLink(oldname, newname))
}

// Remove implements vfs.FS.
func (fs *FS) Remove(name string) error {
	return fs.after(Op{Kind: OpRemove, Path: name}, fs.doRemove(name))
}

// RemoveAll implements vfs.FS.
func (fs *FS) RemoveAll(name string) error {
	return fs.after(Op{Kind: OpRemove, Path: name}, fs.doRemoveAll(name))
}

// Rename implements vfs.FS. The injector sees an OpRename of oldname.
func (fs *FS) Rename(oldname, newname string) error {
	return fs.after(Op{Kind: OpRename, Path: oldname}, fs.doRename(oldname, newname))
}

// MkdirAll implements vfs.FS.
func (fs *FS) MkdirAll(dir string, perm os.FileMode) error {
	return fs.after(Op{Kind: OpMkdir, Path: dir}, fs.doMkdirAll(dir, perm))
}

// Lock implements vfs.FS.
func (fs *FS) Lock(name string) (io.Closer, error) {
	c, err := fs.doLock(name)
	if err = fs.after(Op{Kind: OpLock, Path: name}, err); err != nil {
		if c != nil {
			_ = c.Close()
		}
		return nil, err
	}
	return c, nil
}

// List implements vfs.FS.
func (fs *FS) List(dir string) ([]string, error) {
	names, err := fs.doList(dir)
	if err = fs.after(Op{Kind: OpList, Path: dir}, err); err != nil {
		return nil, err
	}
	return names, nil
}

// Stat implements vfs.FS. The size is the one reads see, unsynced writes
// included.
func (fs *FS) Stat(name string) (vfs.FileInfo, error) {
	fi, err := fs.doStat(name)
	if err = fs.after(Op{Kind: OpStat, Path: name}, err); err != nil {
		return nil, err
	}
	return fi, nil
}

// Read implements vfs.File.
func (f *file) Read(p []byte) (int, error) {
	n, err := f.doRead(p)
	return n, f.fs.after(Op{Kind: OpRead, Path: f.name, Len: len(p)}, err)
}

// ReadAt implements vfs.File.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.doReadAt(p, off)
	return n, f.fs.after(Op{Kind: OpRead, Path: f.name, Offset: off, Len: len(p)}, err)
}

// Write implements vfs.File.
func (f *file) Write(p []byte) (int, error) {
	n, err := f.doWrite(p)
	return n, f.fs.after(Op{Kind: OpWrite, Path: f.name, Len: len(p)}, err)
}

// WriteAt implements vfs.File.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.doWriteAt(p, off)
	return n, f.fs.after(Op{Kind: OpWrite, Path: f.name, Offset: off, Len: len(p)}, err)
}

// Preallocate implements vfs.File.
func (f *file) Preallocate(offset, length int64) error {
	return f.fs.after(Op{Kind: OpPreallocate, Path: f.name, Offset: offset, Len: int(length)}, f.doPreallocate(offset, length))
}

// Stat implements vfs.File.
func (f *file) Stat() (vfs.FileInfo, error) {
	fi, err := f.doStat()
	if err = f.fs.after(Op{Kind: OpStat, Path: f.name}, err); err != nil {
		return nil, err
	}
	return fi, nil
}

// Sync implements vfs.File.
func (f *file) Sync() error {
	return f.fs.after(Op{Kind: OpSync, Path: f.name}, f.doSync())
}

// SyncData implements vfs.File.
func (f *file) SyncData() error {
	return f.fs.after(Op{Kind: OpSync, Path: f.name}, f.doSyncData())
}

// SyncTo implements vfs.File. When fs holds writes, a SyncTo that passes
// the injector is a full sync and reports fullSync.
func (f *file) SyncTo(length int64) (fullSync bool, err error) {
	full, err := f.doSyncTo(length)
	if err = f.fs.after(Op{Kind: OpSync, Path: f.name, Len: int(length)}, err); err != nil {
		return false, err
	}
	return full, nil
}
