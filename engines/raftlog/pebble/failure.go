package pebble

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/internal/durable"
)

// Pebble treats a failed WAL write or sync as fatal: DB.Apply hands the error
// to Options.Logger.Fatalf, whose default prints it and calls os.Exit(1), and
// the MANIFEST writer does the same from background goroutines. After such an
// error the WAL writer keeps the error forever and the next commit panics
// inside pebble's commit pipeline with its lock held.
//
// The engine therefore never lets pebble see the default logger. Its
// fatalLogger records the first fatal error in the engine's kvlog.Failure and
// returns, which makes the failing DB.Apply return nil (a panic could not be
// recovered when the call comes from one of pebble's own goroutines, and
// would end the process). The kvlog.Store asks the Failure whether anything
// went wrong after every batch, and before every mutation touches pebble, so
// that pebble's panicking path is never reached.
//
// watchFS sits between pebble and Options.FS. It records the first failed
// write or sync of a WAL file, which catches a write pebble makes in the
// background (without Sync, the WAL is written behind the commit) before the
// next commit runs into it. Errors on other files are pebble's to handle: a
// failed flush or compaction leaves the WAL or its input tables in place and
// is retried, and a failed MANIFEST write goes to Fatalf.
//
// Once anything is recorded, watchFS fences the directory: every write,
// sync, create, rename and remove fails with errFenced. A pebble that was
// told its process would exit would otherwise go on in the background: retry
// a flush whose MANIFEST edit was lost, append a later edit behind it and
// delete the WAL that edit made obsolete. Fenced, the files stay as the
// failure left them for the next Open to recover.

// fence returns errFenced once a failure is recorded in f.
func fence(f *kvlog.Failure) error {
	if f.Failed() {
		return errFenced
	}
	return nil
}

// fatalError is what pebble reported through Fatalf; it unwraps to the error
// among the arguments so that errors.Is sees the storage error (EIO, ...).
type fatalError struct {
	msg   string
	cause error
}

func (e *fatalError) Error() string { return "pebble fatal error: " + e.msg }
func (e *fatalError) Unwrap() error { return e.cause }

// fatalLogger is the pebble Logger of an engine: quiet, and Fatalf records
// instead of exiting.
type fatalLogger struct{ f *kvlog.Failure }

func (fatalLogger) Infof(string, ...any)  {}
func (fatalLogger) Errorf(string, ...any) {}

func (l fatalLogger) Fatalf(format string, args ...any) {
	fe := &fatalError{msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			fe.cause = err
			break
		}
	}
	l.f.Record(fe)
}

// watchFS passes every call to the file system the engine was opened with,
// records the first failed write or sync of a WAL file, and fences every
// change once a failure is recorded.
type watchFS struct {
	vfs.FS
	f *kvlog.Failure
}

func (fs *watchFS) Unwrap() vfs.FS { return fs.FS }

func (fs *watchFS) wrap(file vfs.File, name string, err error) (vfs.File, error) {
	if err != nil {
		return file, err
	}
	// pebble names its WALs NNNNNN.log (NNNNNN-NNN.log on a failover).
	return &watchFile{File: file, name: name, wal: strings.HasSuffix(name, ".log"), f: fs.f}, nil
}

// Create makes the directory entry of a new MANIFEST durable before pebble
// moves its marker to it. pebble creates the MANIFEST, syncs its contents,
// then creates the marker file and syncs the directory once for both; a
// power loss before that sync may keep the marker's entry and drop the
// MANIFEST's (nothing orders unsynced directory entries), and pebble then
// refuses to open a database whose marker names a missing MANIFEST. pebble
// writes a new MANIFEST at every open, so this is not only a risk of the
// first one. Syncing the directory here leaves a crash only the old marker
// or a marker whose MANIFEST exists.
func (fs *watchFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fence(fs.f); err != nil {
		return nil, err
	}
	file, err := fs.FS.Create(name, category)
	if err == nil && strings.HasPrefix(fs.PathBase(name), "MANIFEST-") {
		if err = durable.SyncDir(fs.FS, fs.PathDir(name)); err != nil {
			_ = file.Close()
			return nil, err
		}
	}
	return fs.wrap(file, name, err)
}

func (fs *watchFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(file, name, err)
}

func (fs *watchFS) OpenDir(name string) (vfs.File, error) {
	file, err := fs.FS.OpenDir(name)
	return fs.wrap(file, name, err)
}

func (fs *watchFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fence(fs.f); err != nil {
		return nil, err
	}
	file, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(file, newname, err)
}

func (fs *watchFS) Link(oldname, newname string) error {
	if err := fence(fs.f); err != nil {
		return err
	}
	return fs.FS.Link(oldname, newname)
}

func (fs *watchFS) Remove(name string) error {
	if err := fence(fs.f); err != nil {
		return err
	}
	return fs.FS.Remove(name)
}

func (fs *watchFS) RemoveAll(name string) error {
	if err := fence(fs.f); err != nil {
		return err
	}
	return fs.FS.RemoveAll(name)
}

func (fs *watchFS) Rename(oldname, newname string) error {
	if err := fence(fs.f); err != nil {
		return err
	}
	return fs.FS.Rename(oldname, newname)
}

func (fs *watchFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := fence(fs.f); err != nil {
		return err
	}
	return fs.FS.MkdirAll(dir, perm)
}

type watchFile struct {
	vfs.File
	name string
	wal  bool
	f    *kvlog.Failure
}

// do runs op unless the files are fenced, and records its failure on a WAL.
func (w *watchFile) do(what string, op func() error) error {
	if err := fence(w.f); err != nil {
		return err
	}
	err := op()
	if err != nil && w.wal {
		w.f.Record(&fileError{op: what, name: w.name, err: err})
	}
	return err
}

func (w *watchFile) Write(p []byte) (n int, err error) {
	err = w.do("write", func() error { n, err = w.File.Write(p); return err })
	return n, err
}

func (w *watchFile) WriteAt(p []byte, off int64) (n int, err error) {
	err = w.do("write", func() error { n, err = w.File.WriteAt(p, off); return err })
	return n, err
}

func (w *watchFile) Preallocate(off, length int64) error {
	return w.do("preallocate", func() error { return w.File.Preallocate(off, length) })
}

func (w *watchFile) Sync() error { return w.do("sync", w.File.Sync) }

func (w *watchFile) SyncData() error { return w.do("sync", w.File.SyncData) }

func (w *watchFile) SyncTo(length int64) (full bool, err error) {
	err = w.do("sync", func() error { full, err = w.File.SyncTo(length); return err })
	return full, err
}

type fileError struct {
	op, name string
	err      error
}

func (e *fileError) Error() string { return e.op + " " + e.name + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// panicError turns a value recovered from pebble into an error.
func panicError(r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("pebble panicked: %w", err)
	}
	return errors.New("pebble panicked: " + fmt.Sprint(r))
}
