// Package pebble is a raftlog engine on pebble v2, the LSM key-value store
// (the Go analog of the RocksDB engine of d-engine).
//
// Entries live under big-endian index keys, so the log is one contiguous key
// span; the hard state and the purge boundary live under meta keys. Every
// mutation is one pebble batch: an append is a batch of Sets committed with
// one WAL fsync, Truncate, Purge and Reset are range deletions (Purge and
// Reset together with the boundary key). The log rules and the cached bounds
// are kvlog's; this package lays out the keys and runs pebble.
//
// Every file goes through Options.FS, so in-process power loss and fsync
// faults reach the engine. Parameters:
//
//	sync  "true" (default): each mutation is durable on return.
//	      "false": batches are committed without a WAL sync and only Flush
//	      makes them durable.
//
// On a storage error the engine reports the error, stops pebble from being
// written again and refuses every later mutation with raftlog.ErrFailed until
// it is reopened (see failure.go for how pebble's fatal errors are caught).
//
// Damage to the files is raftlog.ErrCorrupt: pebble's checksum errors and
// a file its metadata names that is missing, at open or on the read that
// meets them, and what package internal/pebblecheck finds around pebble.
// Close, unless the engine failed, writes a mark (a count of clean closes,
// under a meta key) as its last synced write and then leaves the record of
// a clean close: the size of every file and the mark. Open checks them
// before writing anything: a file cut, grown or deleted, or a write-ahead
// log whose end (the mark) is gone, fails the open at every attempt, where
// pebble would read the damaged end of its newest log as the tail a crash
// tore and serve the log and hard state of before. After a crash there is
// no record; the newest log's unsynced tail may then be lost, as it may,
// and so may a damaged end of it: pebble cannot tell them apart.
package pebble

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
	"github.com/ordeal-dev/ordeal/internal/durable"
	"github.com/ordeal-dev/ordeal/internal/pebblecheck"
)

// Name is the name the engine registers under.
const Name = "pebble"

func init() {
	raftlog.Register(Name, kvlog.Factory(Open))
}

// Tuning. A Raft log is appended at its tail, read near its tail and deleted
// from its head, so most entries are purged while still in a memtable or in
// young tables: a modest cache, large-enough memtables to absorb bursts, no
// bloom filters (every read is a point or a range in index order, and the
// default FilterPolicy is none), and no compression (it would spend CPU on
// tables that are soon deleted).
const (
	cacheSize       = 8 << 20
	memTableSize    = 16 << 20
	memTableStops   = 4
	blockSize       = 32 << 10
	maxOpenFiles    = 256
	closeWaitWedged = 5 * time.Second
)

// Engine is the pebble engine: a kvlog.Store, which is its own LogStore and
// MetaStore, over the keys of one pebble database.
type Engine struct {
	*kvlog.Store
}

var _ raftlog.Engine = (*Engine)(nil)

// Open opens the database in o.Dir through o.FS, creating it if needed, and
// recovers the log it holds.
func Open(o raftlog.Options) (*Engine, error) {
	syncOnWrite, err := kvlog.ParseOptions(Name, o, "sync", true)
	if err != nil {
		return nil, err
	}

	fails := &kvlog.Failure{}
	wfs := &watchFS{FS: o.FSOrDefault(), f: fails}
	opts := &pebbledb.Options{
		FS:                          wfs,
		Logger:                      fatalLogger{f: fails},
		CacheSize:                   cacheSize,
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: memTableStops,
		MaxOpenFiles:                maxOpenFiles,
		FormatMajorVersion:          pebbledb.FormatNewest,
		EventListener: &pebbledb.EventListener{
			// Reads report corruption as raftlog.ErrCorrupt; the default
			// listener would call Fatalf.
			DataCorruption:  func(pebbledb.DataCorruptionInfo) {},
			BackgroundError: func(error) {},
		},
	}
	opts.ApplyCompressionSettings(func() pebbledb.DBCompressionSettings { return pebbledb.DBCompressionNone })
	for i := range opts.Levels {
		opts.Levels[i].BlockSize = blockSize
	}

	// pebble creates a missing directory without syncing its parent.
	if err := durable.MkdirAll(o.FSOrDefault(), o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftlog/pebble: %w", err)
	}
	// A failed change while pebble opens is reported to pebble as done and
	// diverts the changes after it (see failure.go), until the database is
	// closed again below.
	wfs.opening.Store(true)
	db, err := pebblecheck.Open(o.Dir, opts, markKey)
	if err != nil {
		return nil, openError(o.Dir, err)
	}
	failed := func() error {
		cause := fails.Cause()
		if cause == nil {
			return nil
		}
		_ = closeRecovering(db, o.FSOrDefault(), o.Dir, func() bool { return false })
		return fmt.Errorf("raftlog/pebble: open %s: %w", o.Dir, cause)
	}
	if err := failed(); err != nil {
		return nil, err
	}
	wfs.opening.Store(false)
	if err := failed(); err != nil { // recorded just before opening was cleared
		return nil, err
	}
	s, err := kvlog.Open(&store{db: db, fs: o.FSOrDefault(), dir: o.Dir, fails: fails}, kvlog.Config{
		Name:         "raftlog/pebble",
		Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: syncOnWrite, UsesFS: true},
		Failure:      fails,
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftlog/pebble: open %s: %w", o.Dir, err)
	}
	return &Engine{Store: s}, nil
}

var _ kvlog.Backend = (*store)(nil)

// store is the kvlog.Backend of a pebble database. Every batch is one pebble
// batch: appends are Sets committed with one WAL fsync (or none without
// sync), deletions are range deletions.
type store struct {
	db    *pebbledb.DB
	fs    vfs.FS
	dir   string
	fails *kvlog.Failure
	// wedged is set when pebble panicked during a commit, which leaves its
	// commit pipeline locked: Close must not wait on it forever.
	wedged atomic.Bool
}

func (s *store) Apply(b *kvlog.Batch, sync bool) error {
	size := 0
	for _, ent := range b.Append {
		size += logKeyLen + kvcodec.EntryLen(ent) + 16
	}
	pb := s.db.NewBatchWithSize(size)
	defer pb.Close()
	if d := b.Delete; d != nil {
		end := logEnd
		if d.To < math.MaxUint64 {
			end = logKey(d.To + 1)
		}
		if err := pb.DeleteRange(logKey(d.From), end, nil); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	for _, ent := range b.Append {
		op := pb.SetDeferred(logKeyLen, kvcodec.EntryLen(ent))
		putLogKey(op.Key, ent.Index)
		kvcodec.AppendEntry(op.Value[:0], ent)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	for _, m := range b.Meta {
		key, err := metaKeys.Key(m.Key)
		if err == nil && m.Value == nil {
			err = pb.Delete(key, nil)
		} else if err == nil {
			err = pb.Set(key, m.Value, nil)
		}
		if err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	wo := pebbledb.NoSync
	if sync {
		wo = pebbledb.Sync
	}
	return s.commit(pb, wo)
}

// Sync syncs the WAL, which holds every batch: an empty LogData record is a
// batch pebble will not skip as empty, committed with a WAL sync that covers
// everything written before it.
func (s *store) Sync() error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.LogData(nil, nil); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return s.commit(b, pebbledb.Sync)
}

// commit applies b. Storage errors pebble meets meanwhile reach the engine's
// kvlog.Failure through fatalLogger and watchFS, which the Store checks after
// every batch; a panic is returned as an error and leaves pebble wedged.
func (s *store) commit(b *pebbledb.Batch, wo *pebbledb.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.wedged.Store(true)
			err = panicError(r)
		}
	}()
	if err := s.db.Apply(b, wo); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *store) GetEntry(index uint64, fn func(v []byte) error) (bool, error) {
	return s.get(logKey(index), func() string { return fmt.Sprintf("entry %d", index) }, fn)
}

func (s *store) GetMeta(key kvlog.MetaKey, fn func(v []byte) error) (bool, error) {
	k, err := metaKeys.Key(key)
	if err != nil {
		return false, err
	}
	return s.get(k, key.String, fn)
}

func (s *store) get(key []byte, what func() string, fn func(v []byte) error) (bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebbledb.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, readError(what(), err)
	}
	defer closer.Close()
	return true, fn(v)
}

func (s *store) ScanLog(lo, hi uint64, fn func(index uint64, v []byte) error) error {
	upper := logEnd
	if hi < math.MaxUint64 {
		upper = logKey(hi + 1)
	}
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: logKey(lo), UpperBound: upper})
	if err != nil {
		return readError("log", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		index, isLog := keyIndex(it.Key())
		if !isLog {
			return notLogKey(it.Key())
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return readError(fmt.Sprintf("entry %d", index), err)
		}
		if err := fn(index, v); err != nil {
			return err
		}
	}
	return readError("log", it.Error())
}

func (s *store) LogBounds() (first, last uint64, ok bool, err error) {
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: logKey(0), UpperBound: logEnd})
	if err != nil {
		return 0, 0, false, readError("log", err)
	}
	defer it.Close()
	if !it.First() {
		return 0, 0, false, readError("log", it.Error())
	}
	if first, ok = keyIndex(it.Key()); !ok {
		return 0, 0, false, notLogKey(it.Key())
	}
	if !it.Last() {
		return 0, 0, false, readError("log", it.Error())
	}
	if last, ok = keyIndex(it.Key()); !ok {
		return 0, 0, false, notLogKey(it.Key())
	}
	return first, last, true, nil
}

func notLogKey(k []byte) error {
	return fmt.Errorf("%w: key %x in the log span is not a log key", raftlog.ErrCorrupt, k)
}

// readError wraps an error from a pebble read; corruption pebble detects
// (a bad block checksum, say) is raftlog.ErrCorrupt.
func readError(what string, err error) error {
	if err == nil {
		return nil
	}
	if pebblecheck.IsCorrupt(err) {
		return fmt.Errorf("%w: %s: %w", raftlog.ErrCorrupt, what, err)
	}
	return fmt.Errorf("raftlog/pebble: read %s: %w", what, err)
}

// openError wraps an error of pebble.Open; damage is raftlog.ErrCorrupt.
func openError(dir string, err error) error {
	if pebblecheck.IsCorrupt(err) {
		return fmt.Errorf("raftlog/pebble: open %s: %w: %w", dir, raftlog.ErrCorrupt, err)
	}
	return fmt.Errorf("raftlog/pebble: open %s: %w", dir, err)
}

func (s *store) Close() error {
	if !s.wedged.Load() {
		return closeRecovering(s.db, s.fs, s.dir, func() bool { return s.fails.Cause() == nil })
	}
	// pebble's commit pipeline is locked and DB.Close waits on it: give it
	// a bounded chance, then abandon the handle.
	done := make(chan error, 1)
	go func() { done <- closeRecovering(s.db, s.fs, s.dir, func() bool { return false }) }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeWaitWedged):
		return errors.New("pebble is wedged after a panic; the database handle was abandoned")
	}
}

// closeRecovering closes db, healthy or not (see pebblecheck.Close),
// turning a panic into an error.
func closeRecovering(db *pebbledb.DB, fs vfs.FS, dir string, healthy func() bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
	}()
	return pebblecheck.Close(db, fs, dir, markKey, healthy)
}
