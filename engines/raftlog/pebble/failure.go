package pebble

import (
	"errors"
	"fmt"
	"github.com/cockroachdb/errors/oserror"
	"os"
	"strings"
	"sync"
	"sync/atomic"

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
//
// A failure while pebble.Open runs cannot be handled that way: Open waits
// for the flush of the memtables it replayed from the WALs, and pebble
// retries a failed flush at once and forever, so with every change fenced
// Open would never return and the retries would spin; and where Open does
// return an error, it leaves its compactions running over a closed file
// cache. Until Open returns, watchFS therefore records the first failed
// write, sync, create, rename, link or removal and reports it to pebble as
// done, and diverts what follows: a file pebble creates lives in a scratch
// in-memory file system, writes and syncs of the files it had opened are
// dropped and reported as done, and renames, links and removals of real
// files are reported as done without happening. pebble finishes its Open
// against a directory it can no longer change, the engine closes it and
// returns the failure, and the files stay as the failure left them.
//
// A failed directory sync is recorded and reported to pebble as done at any
// time: pebble panics on it (in the move of its MANIFEST marker, from a
// goroutine of its own, which would end the process); fenced, the engine
// refuses every later mutation.

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
// change once a failure is recorded; while opening, it diverts them instead.
type watchFS struct {
	vfs.FS
	f *kvlog.Failure

	// opening is set while pebble.Open runs.
	opening atomic.Bool
	// scratch holds the files created once diverted; used is set at the
	// first.
	scratchOnce sync.Once
	scratch     *vfs.MemFS
	used        atomic.Bool
}

func (fs *watchFS) Unwrap() vfs.FS { return fs.FS }

// diverted reports whether changes go to the scratch file system: a failure
// was recorded while pebble.Open runs.
func (fs *watchFS) diverted() bool { return fs.opening.Load() && fs.f.Failed() }

func (fs *watchFS) scratchFS() *vfs.MemFS {
	fs.scratchOnce.Do(func() { fs.scratch = vfs.NewMem() })
	return fs.scratch
}

// inScratch reports whether name is a file created once diverted.
func (fs *watchFS) inScratch(name string) bool {
	if !fs.used.Load() {
		return false
	}
	_, err := fs.scratchFS().Stat(name)
	return err == nil
}

// createScratch creates name in the scratch file system.
func (fs *watchFS) createScratch(name string) (vfs.File, error) {
	s := fs.scratchFS()
	fs.used.Store(true)
	if err := s.MkdirAll(fs.PathDir(name), 0o755); err != nil {
		return nil, err
	}
	return s.Create(name, vfs.WriteCategoryUnspecified)
}

// absorb records err and reports true, while pebble opens: pebble is then
// to see the change done (see the comment on failures at open above).
func (fs *watchFS) absorb(what, name string, err error) bool {
	if !fs.opening.Load() || oserror.IsNotExist(err) || errors.Is(err, os.ErrNotExist) {
		// A missing file is an answer, not a failure of the disk.
		return false
	}
	fs.f.Record(&fileError{op: what, name: name, err: err})
	return true
}

func (fs *watchFS) wrap(file vfs.File, name string, err error) (vfs.File, error) {
	if err != nil {
		return file, err
	}
	// pebble names its WALs NNNNNN.log (NNNNNN-NNN.log on a failover).
	return &watchFile{File: file, name: name, wal: strings.HasSuffix(name, ".log"), fs: fs}, nil
}

// Open opens a file of the scratch file system if name is one.
func (fs *watchFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if fs.inScratch(name) {
		return fs.scratchFS().Open(name, opts...)
	}
	return fs.FS.Open(name, opts...)
}

// Stat sees the scratch file system first.
func (fs *watchFS) Stat(name string) (vfs.FileInfo, error) {
	if fs.inScratch(name) {
		return fs.scratchFS().Stat(name)
	}
	return fs.FS.Stat(name)
}

// List adds the files of the scratch file system.
func (fs *watchFS) List(dir string) ([]string, error) {
	names, err := fs.FS.List(dir)
	if err != nil || !fs.used.Load() {
		return names, err
	}
	more, serr := fs.scratchFS().List(dir)
	if serr == nil {
		names = append(names, more...)
	}
	return names, nil
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
	if fs.diverted() {
		return fs.createScratch(name)
	}
	if err := fence(fs.f); err != nil {
		return nil, err
	}
	file, err := fs.FS.Create(name, category)
	if err == nil && strings.HasPrefix(fs.PathBase(name), "MANIFEST-") {
		if err = durable.SyncDir(fs.FS, fs.PathDir(name)); err != nil {
			_ = file.Close()
		}
	}
	if err != nil && fs.absorb("create", name, err) {
		return fs.createScratch(name)
	}
	return fs.wrap(file, name, err)
}

func (fs *watchFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	if fs.inScratch(name) {
		return fs.scratchFS().OpenReadWrite(name, category, opts...)
	}
	file, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(file, name, err)
}

func (fs *watchFS) OpenDir(name string) (vfs.File, error) {
	file, err := fs.FS.OpenDir(name)
	if err != nil {
		return file, err
	}
	return &watchFile{File: file, name: name, dir: true, fs: fs}, nil
}

func (fs *watchFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if fs.diverted() {
		return fs.createScratch(newname)
	}
	if err := fence(fs.f); err != nil {
		return nil, err
	}
	file, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil && fs.absorb("reuse", newname, err) {
		return fs.createScratch(newname)
	}
	return fs.wrap(file, newname, err)
}

// change runs a change of the directory unless it is fenced or diverted (in
// scratch, if it applies to a file there, else dropped and reported done).
func (fs *watchFS) change(what, name string, inScratch bool, scratch, real func() error) error {
	if fs.diverted() {
		if inScratch {
			return scratch()
		}
		return nil
	}
	if err := fence(fs.f); err != nil {
		return err
	}
	err := real()
	if err != nil && fs.absorb(what, name, err) {
		return nil
	}
	return err
}

func (fs *watchFS) Link(oldname, newname string) error {
	return fs.change("link", oldname, fs.inScratch(oldname),
		func() error { return fs.scratchFS().Link(oldname, newname) },
		func() error { return fs.FS.Link(oldname, newname) })
}

func (fs *watchFS) Remove(name string) error {
	return fs.change("remove", name, fs.inScratch(name),
		func() error { return fs.scratchFS().Remove(name) },
		func() error { return fs.FS.Remove(name) })
}

func (fs *watchFS) RemoveAll(name string) error {
	return fs.change("remove", name, false, nil, func() error { return fs.FS.RemoveAll(name) })
}

func (fs *watchFS) Rename(oldname, newname string) error {
	return fs.change("rename", oldname, fs.inScratch(oldname),
		func() error { return fs.scratchFS().Rename(oldname, newname) },
		func() error { return fs.FS.Rename(oldname, newname) })
}

func (fs *watchFS) MkdirAll(dir string, perm os.FileMode) error {
	return fs.change("mkdir", dir, fs.used.Load(),
		func() error { return fs.scratchFS().MkdirAll(dir, perm) },
		func() error { return fs.FS.MkdirAll(dir, perm) })
}

type watchFile struct {
	vfs.File
	name string
	wal  bool
	dir  bool
	fs   *watchFS
}

// do runs op unless the files are fenced or diverted (then it drops op and
// reports it done). A failure is recorded if op was on a WAL or a
// directory, or ran while pebble opens; those on a directory or while
// opening are reported to pebble as done (see absorb).
func (w *watchFile) do(what string, op func() error) error {
	if w.fs.diverted() {
		return nil
	}
	if err := fence(w.fs.f); err != nil {
		return err
	}
	err := op()
	switch {
	case err == nil:
	case w.fs.absorb(what, w.name, err):
		return nil
	case w.dir:
		// pebble panics on a failed directory sync (the move of its
		// MANIFEST marker), in a goroutine of its own: the engine fails
		// instead, and fences what pebble does next.
		w.fs.f.Record(&fileError{op: what, name: w.name, err: err})
		return nil
	case w.wal:
		w.fs.f.Record(&fileError{op: what, name: w.name, err: err})
	}
	return err
}

func (w *watchFile) Write(p []byte) (n int, err error) {
	err = w.do("write", func() error { n, err = w.File.Write(p); return err })
	if err == nil {
		n = len(p)
	}
	return n, err
}

func (w *watchFile) WriteAt(p []byte, off int64) (n int, err error) {
	err = w.do("write", func() error { n, err = w.File.WriteAt(p, off); return err })
	if err == nil {
		n = len(p)
	}
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
