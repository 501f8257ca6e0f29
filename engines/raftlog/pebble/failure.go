package pebble

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Pebble treats a failed WAL write or sync as fatal: DB.Apply hands the error
// to Options.Logger.Fatalf, whose default prints it and calls os.Exit(1), and
// the MANIFEST writer does the same from background goroutines. After such an
// error the WAL writer keeps the error forever and the next commit panics
// inside pebble's commit pipeline with its lock held.
//
// The engine therefore never lets pebble see the default logger. Its
// fatalLogger records the first fatal error and returns, which makes the
// failing DB.Apply return nil (a panic could not be recovered when the call
// comes from one of pebble's own goroutines, and would end the process).
// Every commit then asks failures.cause whether anything went wrong, and so
// does every mutation before it touches pebble, so that pebble's panicking
// path is never reached. watchFS sees every write and sync of a WAL file and
// records the first that fails, which catches the failure of a write pebble
// makes in the background (without Sync, the WAL is written behind the
// commit) before the next commit runs into it. Errors on other files are
// pebble's to handle: a failed flush or compaction leaves the WAL or the
// input tables in place and is retried, and a failed MANIFEST write goes to
// Fatalf.

// failures collects the first storage error seen by the logger or the file
// system wrapper.
type failures struct {
	mu  sync.Mutex
	err error
}

func (f *failures) record(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *failures) cause() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
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
type fatalLogger struct{ f *failures }

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
	l.f.record(fe)
}

// watchFS passes every call to the file system the engine was opened with and
// records the first failed write or sync of any file.
type watchFS struct {
	vfs.FS
	f *failures
}

func (fs *watchFS) Unwrap() vfs.FS { return fs.FS }

// wrap watches file if it is a WAL (pebble names them NNNNNN.log).
func (fs *watchFS) wrap(file vfs.File, name string, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return file, err
	}
	return &watchFile{File: file, name: name, f: fs.f}, nil
}

func (fs *watchFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := fs.FS.Create(name, category)
	if err == nil && strings.HasPrefix(fs.PathBase(name), "MANIFEST-") {
		if err = fs.syncDir(fs.PathDir(name)); err != nil {
			_ = file.Close()
			return nil, err
		}
	}
	return fs.wrap(file, name, err)
}

// syncDir makes the directory entry of a new MANIFEST durable before pebble
// moves its marker to it. pebble creates the MANIFEST, syncs its contents,
// then creates the marker file and syncs the directory once for both; a
// power loss before that sync may keep the marker's entry and drop the
// MANIFEST's (nothing orders unsynced directory entries), and pebble then
// refuses to open a database whose marker names a missing MANIFEST. Syncing
// the directory here leaves a crash only the old marker or a marker whose
// MANIFEST exists.
func (fs *watchFS) syncDir(dir string) error {
	d, err := fs.FS.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (fs *watchFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(file, name, err)
}

func (fs *watchFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(file, newname, err)
}

type watchFile struct {
	vfs.File
	name string
	f    *failures
}

func (w *watchFile) check(op string, err error) error {
	if err != nil {
		w.f.record(&fileError{op: op, name: w.name, err: err})
	}
	return err
}

func (w *watchFile) Write(p []byte) (int, error) {
	n, err := w.File.Write(p)
	return n, w.check("write", err)
}

func (w *watchFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.File.WriteAt(p, off)
	return n, w.check("write", err)
}

func (w *watchFile) Sync() error { return w.check("sync", w.File.Sync()) }

func (w *watchFile) SyncData() error { return w.check("sync", w.File.SyncData()) }

func (w *watchFile) SyncTo(length int64) (bool, error) {
	full, err := w.File.SyncTo(length)
	return full, w.check("sync", err)
}

type fileError struct {
	op, name string
	err      error
}

func (e *fileError) Error() string { return e.op + " " + e.name + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

var _ error = (*fileError)(nil)

// panicError turns a value recovered from pebble into an error.
func panicError(r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("pebble panicked: %w", err)
	}
	return errors.New("pebble panicked: " + fmt.Sprint(r))
}
