// Package bbolt is a raftlog engine on bbolt, the B+tree store behind etcd
// (the same store raft-boltdb uses, laid out for this SPI).
//
// One file, raftlog.db in Options.Dir, holds two buckets: "log", keyed by
// big-endian index, and "meta", with the hard state and the purge boundary.
// Each mutation is one bbolt Update transaction; Truncate and Purge delete
// their key range with a cursor, and a Purge or Reset that empties the log
// drops the bucket instead. FirstIndex, LastIndex and the purge boundary are
// cached in memory and rebuilt at open.
//
// bbolt reads its file through mmap and writes it with the operating system's
// calls, so it cannot take a vfs.FS: Capabilities().UsesFS is false, Open
// rejects any Options.FS other than vfs.Default, and faults reach the engine
// from outside (a killed process, the FUSE file system). Parameters:
//
//	nosync  "false" (default): each transaction is fsynced before it returns.
//	        "true": bbolt's NoSync; only Flush (an fdatasync) makes mutations
//	        durable. bbolt then orders nothing on disk, so a power loss
//	        before Flush may leave the file damaged rather than merely
//	        behind; a process crash loses nothing, as the page cache
//	        survives it.
//
// On a storage error the engine reports the error and refuses every later
// mutation with raftlog.ErrFailed until it is reopened.
package bbolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
)

// Name is the name the engine registers under.
const Name = "bbolt"

// FileName is the name of the database file inside Options.Dir.
const FileName = "raftlog.db"

func init() {
	raftlog.Register(Name, func(o raftlog.Options) (raftlog.Engine, error) { return Open(o) })
}

// Engine is a raftlog engine on a bbolt database. It is its own LogStore and
// MetaStore.
type Engine struct {
	db          *bolt.DB
	syncOnWrite bool

	// logMu serializes the log's mutations and metaMu the hard state's;
	// Close takes both.
	logMu  sync.Mutex
	metaMu sync.Mutex

	// mu guards the cached bounds. Readers hold it shared for the whole read,
	// and Truncate, Purge and Reset hold it exclusively across their
	// transaction, so the bounds a reader checks match the snapshot it reads.
	// Appends write only above LastIndex and take it only to publish the new
	// LastIndex.
	mu     sync.RWMutex
	purged raftlog.LogID
	last   uint64

	closed  atomic.Bool
	failMu  sync.Mutex
	failure error
}

var (
	_ raftlog.Engine    = (*Engine)(nil)
	_ raftlog.LogStore  = (*Engine)(nil)
	_ raftlog.MetaStore = (*Engine)(nil)
)

// Tuning.
//
// A Raft log appends at the tail and purges at the head, so bbolt keeps
// freeing pages and handing them out again. The default array free list
// searches a sorted slice for every allocation and, unless NoFreelistSync,
// is rewritten in full by every commit; with a log that has churned through
// many pages both costs grow with the file. The map free list allocates from
// per-span buckets, and NoFreelistSync drops the free-list page from each
// commit (bbolt rebuilds it by scanning the file at open, a cost paid once).
//
// Appends come in index order, so the log bucket splits full pages at
// logFillPercent instead of bbolt's half-full default; the initial mmap is
// large enough that a log of moderate size never makes a writer wait for
// readers to remap.
const (
	logFillPercent  = 0.95
	initialMmapSize = 64 << 20
	lockTimeout     = 2 * time.Second
)

// Open opens (creating if needed) the engine in o.Dir.
func Open(o raftlog.Options) (*Engine, error) {
	if err := raftlog.CheckParams(Name, o.Params, "nosync"); err != nil {
		return nil, err
	}
	noSync := false
	if v, ok := o.Params["nosync"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w: engine %s: parameter nosync=%q is not a boolean", raftlog.ErrBadOption, Name, v)
		}
		noSync = b
	}
	if o.FS != nil && o.FS != vfs.Default {
		return nil, fmt.Errorf("%w: engine %s writes through the operating system (bbolt maps its file into memory) and cannot use the file system %T; leave Options.FS nil", raftlog.ErrBadOption, Name, o.FS)
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: engine %s needs a directory", raftlog.ErrBadOption, Name)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftlog/bbolt: %w", err)
	}
	path := filepath.Join(o.Dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)

	db, err := bolt.Open(path, 0o644, &bolt.Options{
		Timeout:         lockTimeout,
		NoSync:          noSync,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("raftlog/bbolt: open %s: %w", path, err)
	}
	e := &Engine{db: db, syncOnWrite: !noSync}
	if err := e.init(o.Dir, created); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftlog/bbolt: open %s: %w", path, err)
	}
	return e, nil
}

// init creates the buckets of a new file and rebuilds the cached bounds.
func (e *Engine) init(dir string, created bool) error {
	var fresh bool
	err := e.view(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(logBucket) == nil && tx.Bucket(metaBucket) == nil
		return nil
	})
	if err != nil {
		return err
	}
	if fresh {
		err := e.db.Update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{logBucket, metaBucket} {
				if _, err := tx.CreateBucket(name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := e.db.Sync(); err != nil {
			return err
		}
	}
	if created {
		// bbolt does not sync the directory entry of the file it creates.
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return e.view(func(tx *bolt.Tx) error {
		log, meta, err := buckets(tx)
		if err != nil {
			return err
		}
		if v := meta.Get(purgedKey); v != nil {
			if e.purged, err = kvcodec.DecodeLogID(v); err != nil {
				return err
			}
		}
		e.last = e.purged.Index
		c := log.Cursor()
		k, _ := c.First()
		if k == nil {
			return nil
		}
		first, ok := keyIndex(k)
		if !ok {
			return fmt.Errorf("%w: key %x in the log bucket is not an index", raftlog.ErrCorrupt, k)
		}
		if first != e.purged.Index+1 {
			return fmt.Errorf("%w: first entry is %d, purge boundary is %s", raftlog.ErrCorrupt, first, e.purged)
		}
		k, _ = c.Last()
		if e.last, ok = keyIndex(k); !ok {
			return fmt.Errorf("%w: key %x in the log bucket is not an index", raftlog.ErrCorrupt, k)
		}
		return nil
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func buckets(tx *bolt.Tx) (log, meta *bolt.Bucket, err error) {
	log, meta = tx.Bucket(logBucket), tx.Bucket(metaBucket)
	if log == nil || meta == nil {
		return nil, nil, fmt.Errorf("%w: bucket %q or %q is missing", raftlog.ErrCorrupt, logBucket, metaBucket)
	}
	return log, meta, nil
}

// view runs fn in a read transaction. bbolt panics on some damage to its
// pages; that is corruption too.
func (e *Engine) view(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt: %v", raftlog.ErrCorrupt, r)
		}
	}()
	return e.db.View(fn)
}

// update runs fn in a write transaction. Any error fails the engine: fn
// returns errors only for damage or a storage error, and a commit that
// failed may have reached the disk in part.
func (e *Engine) update(fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt panicked: %v", r)
		}
		if err != nil {
			err = e.fail(err)
		}
	}()
	return e.db.Update(fn)
}

func (e *Engine) fail(cause error) error {
	e.failMu.Lock()
	if e.failure == nil {
		e.failure = cause
	}
	e.failMu.Unlock()
	return fmt.Errorf("raftlog/bbolt: %w: %w", raftlog.ErrFailed, cause)
}

func (e *Engine) failed() error {
	e.failMu.Lock()
	defer e.failMu.Unlock()
	return e.failure
}

// writable returns why a mutation must be refused, if it must.
func (e *Engine) writable() error {
	if e.closed.Load() {
		return raftlog.ErrClosed
	}
	if cause := e.failed(); cause != nil {
		return fmt.Errorf("raftlog/bbolt: %w: %w", raftlog.ErrFailed, cause)
	}
	return nil
}

func (e *Engine) Log() raftlog.LogStore   { return e }
func (e *Engine) Meta() raftlog.MetaStore { return e }

func (e *Engine) Capabilities() raftlog.Capabilities {
	return raftlog.Capabilities{Persistent: true, SyncOnWrite: e.syncOnWrite, UsesFS: false}
}

func (e *Engine) PersistEntries(entries []raftlog.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	e.logMu.Lock()
	defer e.logMu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	e.mu.RLock()
	next := e.last + 1
	e.mu.RUnlock()
	size := 0
	for i, ent := range entries {
		if ent.Index != next+uint64(i) {
			return fmt.Errorf("%w: entry %d of the batch has index %d, want %d", raftlog.ErrNonContiguous, i, ent.Index, next+uint64(i))
		}
		size += kvcodec.EntryHeaderLen + len(ent.Data)
	}
	// bbolt keeps the key and value slices until the commit: one buffer
	// each, sized up front so that appending never moves them.
	keys := make([]byte, 0, logKeyLen*len(entries))
	values := make([]byte, 0, size)
	err := e.update(func(tx *bolt.Tx) error {
		log, _, err := buckets(tx)
		if err != nil {
			return err
		}
		log.FillPercent = logFillPercent
		for _, ent := range entries {
			k := len(keys)
			keys = binary.BigEndian.AppendUint64(keys, ent.Index)
			v := len(values)
			values = kvcodec.AppendEntry(values, ent)
			if err := log.Put(keys[k:len(keys):len(keys)], values[v:len(values):len(values)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.last = entries[len(entries)-1].Index
	e.mu.Unlock()
	return nil
}

func (e *Engine) Entry(index uint64) (raftlog.Entry, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return raftlog.Entry{}, raftlog.ErrClosed
	}
	if index <= e.purged.Index {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, purged up to %d", raftlog.ErrCompacted, index, e.purged.Index)
	}
	if index > e.last {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, last is %d", raftlog.ErrNotFound, index, e.last)
	}
	var ent raftlog.Entry
	err := e.view(func(tx *bolt.Tx) error {
		log, _, err := buckets(tx)
		if err != nil {
			return err
		}
		v := log.Get(logKey(index))
		if v == nil {
			return e.missing(index)
		}
		ent, err = kvcodec.DecodeEntry(index, v)
		return err
	})
	return ent, err
}

// missing explains an entry absent from inside the cached bounds.
func (e *Engine) missing(index uint64) error {
	if cause := e.failed(); cause != nil {
		return fmt.Errorf("raftlog/bbolt: entry %d: %w: %w", index, raftlog.ErrFailed, cause)
	}
	return fmt.Errorf("%w: entry %d (key %x) is missing from the log %d..%d", raftlog.ErrCorrupt, index, logKey(index), e.purged.Index+1, e.last)
}

func (e *Engine) Entries(lo, hi uint64) ([]raftlog.Entry, error) {
	if lo == 0 || lo > hi {
		return nil, fmt.Errorf("%w: [%d, %d]", raftlog.ErrInvalidRange, lo, hi)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return nil, raftlog.ErrClosed
	}
	if lo <= e.purged.Index {
		return nil, fmt.Errorf("%w: range starts at %d, purged up to %d", raftlog.ErrCompacted, lo, e.purged.Index)
	}
	hi = min(hi, e.last)
	if lo > hi {
		return nil, nil
	}
	out := make([]raftlog.Entry, 0, hi-lo+1)
	err := e.view(func(tx *bolt.Tx) error {
		log, _, err := buckets(tx)
		if err != nil {
			return err
		}
		c := log.Cursor()
		want := lo
		for k, v := c.Seek(logKey(lo)); k != nil && want <= hi; k, v = c.Next() {
			index, ok := keyIndex(k)
			if !ok {
				return fmt.Errorf("%w: key %x in the log bucket is not an index", raftlog.ErrCorrupt, k)
			}
			if index != want {
				return e.missing(want)
			}
			ent, err := kvcodec.DecodeEntry(index, v)
			if err != nil {
				return err
			}
			out = append(out, ent)
			want++
		}
		if want <= hi {
			return e.missing(want)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deleteFrom deletes the log keys from lo up to and including hi.
func deleteFrom(log *bolt.Bucket, lo, hi uint64) error {
	c := log.Cursor()
	start := logKey(lo)
	// Seek again after each Delete rather than trust Next on a cursor whose
	// node just changed under it.
	for k, _ := c.Seek(start); k != nil; k, _ = c.Seek(start) {
		index, ok := keyIndex(k)
		if !ok {
			return fmt.Errorf("%w: key %x in the log bucket is not an index", raftlog.ErrCorrupt, k)
		}
		if index > hi {
			return nil
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// emptyLog replaces the log bucket with an empty one, which frees its pages
// wholesale instead of one key at a time.
func emptyLog(tx *bolt.Tx) (*bolt.Bucket, error) {
	if err := tx.DeleteBucket(logBucket); err != nil {
		return nil, err
	}
	return tx.CreateBucket(logBucket)
}

func (e *Engine) Purge(upTo raftlog.LogID) error {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if upTo.Index <= e.purged.Index {
		return nil
	}
	err := e.update(func(tx *bolt.Tx) error {
		log, meta, err := buckets(tx)
		if err != nil {
			return err
		}
		if upTo.Index >= e.last {
			_, err = emptyLog(tx)
		} else {
			err = deleteFrom(log, e.purged.Index+1, upTo.Index)
		}
		if err != nil {
			return err
		}
		return meta.Put(purgedKey, kvcodec.EncodeLogID(upTo))
	})
	if err != nil {
		return err
	}
	e.purged = upTo
	e.last = max(e.last, upTo.Index)
	return nil
}

func (e *Engine) Truncate(from uint64) error {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if from <= e.purged.Index {
		return fmt.Errorf("%w: truncate from %d, purged up to %d", raftlog.ErrCompacted, from, e.purged.Index)
	}
	if from > e.last {
		return nil
	}
	err := e.update(func(tx *bolt.Tx) error {
		log, _, err := buckets(tx)
		if err != nil {
			return err
		}
		return deleteFrom(log, from, e.last)
	})
	if err != nil {
		return err
	}
	e.last = from - 1
	return nil
}

func (e *Engine) Reset() error {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.update(func(tx *bolt.Tx) error {
		_, meta, err := buckets(tx)
		if err != nil {
			return err
		}
		if _, err := emptyLog(tx); err != nil {
			return err
		}
		return meta.Delete(purgedKey)
	})
	if err != nil {
		return err
	}
	e.purged, e.last = raftlog.LogID{}, 0
	return nil
}

// Flush fdatasyncs the file when transactions are not synced, and refuses
// on a failed engine either way.
func (e *Engine) Flush() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.writable(); err != nil {
		return err
	}
	if e.syncOnWrite {
		return nil
	}
	if err := e.db.Sync(); err != nil {
		return e.fail(fmt.Errorf("sync: %w", err))
	}
	return nil
}

func (e *Engine) FirstIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.purged.Index + 1
}

func (e *Engine) LastIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.last
}

func (e *Engine) PurgedID() raftlog.LogID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.purged
}

func (e *Engine) SaveHardState(hs raftlog.HardState) error {
	e.metaMu.Lock()
	defer e.metaMu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	return e.update(func(tx *bolt.Tx) error {
		_, meta, err := buckets(tx)
		if err != nil {
			return err
		}
		return meta.Put(hardStateKey, kvcodec.EncodeHardState(hs))
	})
}

func (e *Engine) LoadHardState() (raftlog.HardState, bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return raftlog.HardState{}, false, raftlog.ErrClosed
	}
	var (
		hs raftlog.HardState
		ok bool
	)
	err := e.view(func(tx *bolt.Tx) error {
		_, meta, err := buckets(tx)
		if err != nil {
			return err
		}
		v := meta.Get(hardStateKey)
		if v == nil {
			return nil
		}
		hs, err = kvcodec.DecodeHardState(v)
		ok = err == nil
		return err
	})
	if err != nil {
		return raftlog.HardState{}, false, err
	}
	return hs, ok, nil
}

// Close closes the database. After a storage error the error was reported
// already, and Close only releases the file.
func (e *Engine) Close() error {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	e.metaMu.Lock()
	defer e.metaMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Swap(true) {
		return raftlog.ErrClosed
	}
	err := e.db.Close()
	if e.failed() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("raftlog/bbolt: close: %w", err)
	}
	return nil
}
