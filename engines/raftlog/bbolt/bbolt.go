// Package bbolt is a raftlog engine on bbolt, the B+tree store behind etcd
// (the same store raft-boltdb uses, laid out for this SPI).
//
// One file, raftlog.db in Options.Dir, holds two buckets: "log", keyed by
// big-endian index, and "meta", with the hard state and the purge boundary.
// Each mutation is one bbolt Update transaction; Truncate and Purge delete
// their key range with a cursor, and a Purge or Reset that empties the log
// drops the bucket instead. The log rules and the cached bounds are kvlog's;
// this package lays out the buckets and runs bbolt.
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
//
// # Damaged files
//
// bbolt trusts its file: on a damaged one it may fault reading past the end
// of its mapping, or panic in the goroutine it starts at open to rebuild
// the free list (the file keeps none, see Tuning), and either kills the
// process. So the engine never hands bbolt a file it has not checked:
// boltcheck.Check reads it first, with ordinary reads, and verifies the
// meta pages, the file's length and every page of the tree (see package
// internal/boltcheck); damage fails the open with raftlog.ErrCorrupt.
// Reads run with recover and debug.SetPanicOnFault, so a panic or a fault
// of bbolt's in the reading goroutine is raftlog.ErrCorrupt too. bbolt has
// no checksums on its data pages; the values do (kvcodec), with the index
// they belong to, so a flipped byte of an entry or of the hard state is
// raftlog.ErrCorrupt on the read that meets it.
//
// Close, unless the engine failed, leaves the record of a clean close
// (package internal/cleanclose): the file's size and the transaction it
// closed at. Open checks both: a file deleted, cut or grown, or one whose
// newest meta page is damaged (bbolt would fall back on the one before,
// with the hard state saved before the last), fails with raftlog.ErrCorrupt
// at every open; the record goes once open has checked everything, before
// the first write. After a crash there is no record: bbolt's own meta
// page checksums then tell a torn commit, which is rolled back, and losing
// synced data is detected as far as the structure and the value checksums
// reach.
package bbolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/internal/boltcheck"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
	"github.com/ordeal-dev/ordeal/internal/durable"
)

// Name is the name the engine registers under.
const Name = "bbolt"

// FileName is the name of the database file inside Options.Dir.
const FileName = "raftlog.db"

func init() {
	raftlog.Register(Name, kvlog.Factory(Open))
}

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

// Engine is the bbolt engine: a kvlog.Store, which is its own LogStore and
// MetaStore, over the two buckets of FileName.
type Engine struct {
	*kvlog.Store
}

var _ raftlog.Engine = (*Engine)(nil)

// Open opens FileName in o.Dir, creating both if needed, and recovers the
// log it holds. o.FS must be nil or vfs.Default.
func Open(o raftlog.Options) (*Engine, error) {
	noSync, err := kvlog.ParseOptions(Name, o, "nosync", false)
	if err != nil {
		return nil, err
	}
	if o.FS != nil && o.FS != vfs.Default {
		return nil, fmt.Errorf("%w: engine %s writes through the operating system (bbolt maps its file into memory) and cannot use the file system %T; leave Options.FS nil", raftlog.ErrBadOption, Name, o.FS)
	}
	if err := durable.MkdirAll(vfs.Default, o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftlog/bbolt: %w", err)
	}
	path := filepath.Join(o.Dir, FileName)
	closedAt, strict, err := checkCloseRecord(o.Dir)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	if !created {
		if _, err := boltcheck.Check(path, closedAt); err != nil {
			if errors.Is(err, boltcheck.ErrCorrupt) {
				err = fmt.Errorf("%w: %w", raftlog.ErrCorrupt, err)
			}
			return nil, fmt.Errorf("raftlog/bbolt: open %s: %w", path, err)
		}
	}

	db, err := openBolt(path, noSync)
	if err != nil {
		return nil, fmt.Errorf("raftlog/bbolt: open %s: %w", path, err)
	}
	fails := &kvlog.Failure{}
	kv := &store{db: db, dir: o.Dir, fails: fails}
	if err := kv.init(o.Dir, created, strict); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftlog/bbolt: open %s: %w", path, err)
	}
	s, err := kvlog.Open(kv, kvlog.Config{
		Name:         "raftlog/bbolt",
		Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: !noSync, UsesFS: false},
		Failure:      fails,
	})
	if err == nil && strict {
		// Everything checked out against the record; the first write
		// changes the file, so the record goes first.
		err = cleanclose.Remove(vfs.Default, o.Dir)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftlog/bbolt: open %s: %w", path, err)
	}
	return &Engine{Store: s}, nil
}

// checkCloseRecord reads the record of the last clean close in dir, if
// any, and checks the file's size against it; it returns the transaction
// the file closed at, which its newest meta page must hold.
func checkCloseRecord(dir string) (closedAt uint64, found bool, err error) {
	rec, found, err := cleanclose.Check(vfs.Default, dir)
	if errors.Is(err, cleanclose.ErrMismatch) {
		return 0, true, fmt.Errorf("raftlog/bbolt: %w: %w", raftlog.ErrCorrupt, err)
	}
	if err != nil || !found {
		return 0, false, err
	}
	if len(rec.Extra) == 8 {
		closedAt = binary.LittleEndian.Uint64(rec.Extra)
	}
	return closedAt, true, nil
}

// openBolt opens the database file, which boltcheck.Check has verified.
// A panic of bbolt's in this goroutine, or a fault on its mapping, becomes
// an error wrapping raftlog.ErrCorrupt.
func openBolt(path string, noSync bool) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %s: bbolt: %v", raftlog.ErrCorrupt, path, r)
		}
	}()
	return bolt.Open(path, 0o644, &bolt.Options{
		Timeout:         lockTimeout,
		NoSync:          noSync,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
	})
}

var _ kvlog.Backend = (*store)(nil)

// store is the kvlog.Backend of a bbolt database. Each batch is one Update
// transaction, fsynced unless the database was opened with NoSync; deletions
// go key by key with a cursor, and one that empties the log drops the bucket
// instead.
type store struct {
	db    *bolt.DB
	dir   string
	fails *kvlog.Failure
}

// init creates the buckets of a new file. A file without them that closed
// cleanly (strict) lost them.
func (s *store) init(dir string, created, strict bool) error {
	var fresh bool
	err := s.view(func(tx *bolt.Tx) error {
		fresh = tx.Bucket(logBucket) == nil && tx.Bucket(metaBucket) == nil
		return nil
	})
	if err != nil {
		return err
	}
	if fresh && strict {
		return fmt.Errorf("%w: the file closed cleanly but holds no buckets", raftlog.ErrCorrupt)
	}
	if fresh {
		err := s.db.Update(func(tx *bolt.Tx) error {
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
		if err := s.db.Sync(); err != nil {
			return err
		}
	}
	if created {
		// bbolt does not sync the directory entry of the file it creates.
		return durable.SyncDir(vfs.Default, dir)
	}
	return nil
}

func buckets(tx *bolt.Tx) (log, meta *bolt.Bucket, err error) {
	log, meta = tx.Bucket(logBucket), tx.Bucket(metaBucket)
	if log == nil || meta == nil {
		return nil, nil, fmt.Errorf("%w: bucket %q or %q is missing", raftlog.ErrCorrupt, logBucket, metaBucket)
	}
	return log, meta, nil
}

// view runs fn in a read transaction. bbolt panics on some damage to its
// pages, and reads through its mapping; a panic or a fault is corruption
// too.
func (s *store) view(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt: %v", raftlog.ErrCorrupt, r)
		}
	}()
	return s.db.View(fn)
}

// Apply runs b in one write transaction. Whether the commit is synced was
// decided at open (bbolt's NoSync), to match the Store's sync argument. The
// transaction fails only on damage or a storage error, and the Store fails
// on any.
func (s *store) Apply(b *kvlog.Batch, _ bool) (err error) {
	// bbolt keeps the key and value slices until the commit: one buffer
	// each, sized up front so that appending never moves them.
	var keys, values []byte
	if len(b.Append) > 0 {
		size := 0
		for _, ent := range b.Append {
			size += kvcodec.EntryLen(ent)
		}
		keys = make([]byte, 0, logKeyLen*len(b.Append))
		values = make([]byte, 0, size)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt panicked: %v", r)
		}
	}()
	return s.db.Update(func(tx *bolt.Tx) error {
		log, meta, err := buckets(tx)
		if err != nil {
			return err
		}
		if d := b.Delete; d != nil {
			if d.Empties {
				log, err = emptyLog(tx)
			} else {
				err = deleteFrom(log, d.From, d.To)
			}
			if err != nil {
				return err
			}
		}
		if len(b.Append) > 0 {
			log.FillPercent = logFillPercent
		}
		for _, ent := range b.Append {
			k := len(keys)
			keys = binary.BigEndian.AppendUint64(keys, ent.Index)
			v := len(values)
			values = kvcodec.AppendEntry(values, ent)
			if err := log.Put(keys[k:len(keys):len(keys)], values[v:len(values):len(values)]); err != nil {
				return err
			}
		}
		for _, m := range b.Meta {
			key, err := metaKeys.Key(m.Key)
			if err == nil && m.Value == nil {
				err = meta.Delete(key)
			} else if err == nil {
				err = meta.Put(key, m.Value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
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
			return notLogKey(k)
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

// Sync fdatasyncs the file.
func (s *store) Sync() error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

func (s *store) GetEntry(index uint64, fn func(v []byte) error) (found bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		log, _, err := buckets(tx)
		if err != nil {
			return err
		}
		v := log.Get(logKey(index))
		if found = v != nil; !found {
			return nil
		}
		return fn(v)
	})
	return found, err
}

func (s *store) GetMeta(key kvlog.MetaKey, fn func(v []byte) error) (found bool, err error) {
	k, err := metaKeys.Key(key)
	if err != nil {
		return false, err
	}
	err = s.view(func(tx *bolt.Tx) error {
		_, meta, err := buckets(tx)
		if err != nil {
			return err
		}
		v := meta.Get(k)
		if found = v != nil; !found {
			return nil
		}
		return fn(v)
	})
	return found, err
}

func (s *store) ScanLog(lo, hi uint64, fn func(index uint64, v []byte) error) error {
	return s.view(func(tx *bolt.Tx) error {
		log, _, err := buckets(tx)
		if err != nil {
			return err
		}
		c := log.Cursor()
		for k, v := c.Seek(logKey(lo)); k != nil; k, v = c.Next() {
			index, ok := keyIndex(k)
			if !ok {
				return notLogKey(k)
			}
			if index > hi {
				return nil
			}
			if err := fn(index, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *store) LogBounds() (first, last uint64, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		log, _, err := buckets(tx)
		if err != nil {
			return err
		}
		c := log.Cursor()
		k, _ := c.First()
		if k == nil {
			return nil
		}
		if first, ok = keyIndex(k); !ok {
			return notLogKey(k)
		}
		k, _ = c.Last()
		if last, ok = keyIndex(k); !ok {
			return notLogKey(k)
		}
		return nil
	})
	return first, last, ok && err == nil, err
}

func notLogKey(k []byte) error {
	return fmt.Errorf("%w: key %x in the log bucket is not an index", raftlog.ErrCorrupt, k)
}

// Close closes the file and, unless the engine failed, leaves the record
// of a clean close: the file's size and the transaction it closed at. The
// file is synced first (with the nosync parameter nothing else did), so
// that the record never names what a power loss could take back.
func (s *store) Close() error {
	var txid uint64
	verr := s.view(func(tx *bolt.Tx) error {
		txid = uint64(tx.ID())
		return nil
	})
	healthy := verr == nil && s.fails.Cause() == nil
	if healthy {
		healthy = s.db.Sync() == nil
	}
	if err := s.db.Close(); err != nil {
		return err
	}
	if !healthy {
		return nil
	}
	files, err := cleanclose.Snapshot(vfs.Default, s.dir, func(rel string) bool { return rel != FileName })
	if err != nil {
		return err
	}
	return cleanclose.Write(vfs.Default, s.dir, cleanclose.Record{Files: files, Extra: binary.LittleEndian.AppendUint64(nil, txid)})
}
