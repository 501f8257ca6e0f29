// Package pebble is a raftlog engine on pebble v2, the LSM key-value store
// (the Go analog of the RocksDB engine of d-engine).
//
// Entries live under big-endian index keys, so the log is one contiguous key
// span; the hard state and the purge boundary live under meta keys. Every
// mutation is one pebble batch: an append is a batch of Sets committed with
// one WAL fsync, Truncate, Purge and Reset are range deletions (Purge and
// Reset together with the boundary key). FirstIndex, LastIndex and the purge
// boundary are cached in memory and rebuilt at open.
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
package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
)

// Name is the name the engine registers under.
const Name = "pebble"

func init() {
	raftlog.Register(Name, func(o raftlog.Options) (raftlog.Engine, error) { return Open(o) })
}

// Engine is a raftlog engine on a pebble database. It is its own LogStore and
// MetaStore.
type Engine struct {
	db          *pebbledb.DB
	fails       *failures
	wo          *pebbledb.WriteOptions
	syncOnWrite bool

	// logMu serializes the log's mutations and metaMu the hard state's;
	// Close takes both.
	logMu  sync.Mutex
	metaMu sync.Mutex

	// mu guards the cached bounds. Readers hold it shared for the whole read,
	// and Truncate, Purge and Reset hold it exclusively across their commit,
	// so that no reader finds the keys it expects deleted under it. Appends
	// write only above LastIndex, where no reader looks, and take it only to
	// publish the new LastIndex.
	mu     sync.RWMutex
	purged raftlog.LogID
	last   uint64

	closed atomic.Bool
	// wedged is set when pebble panicked during a commit, which leaves its
	// commit pipeline locked: Close must not wait on it forever.
	wedged atomic.Bool
}

var (
	_ raftlog.Engine    = (*Engine)(nil)
	_ raftlog.LogStore  = (*Engine)(nil)
	_ raftlog.MetaStore = (*Engine)(nil)
)

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

// Open opens (creating if needed) the engine in o.Dir.
func Open(o raftlog.Options) (*Engine, error) {
	if err := raftlog.CheckParams(Name, o.Params, "sync"); err != nil {
		return nil, err
	}
	syncOnWrite := true
	if v, ok := o.Params["sync"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w: engine %s: parameter sync=%q is not a boolean", raftlog.ErrBadOption, Name, v)
		}
		syncOnWrite = b
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: engine %s needs a directory", raftlog.ErrBadOption, Name)
	}

	fails := &failures{}
	opts := &pebbledb.Options{
		FS:                          &watchFS{FS: o.FSOrDefault(), f: fails},
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

	db, err := pebbledb.Open(o.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("raftlog/pebble: open %s: %w", o.Dir, err)
	}
	if cause := fails.cause(); cause != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftlog/pebble: open %s: %w", o.Dir, cause)
	}
	e := &Engine{db: db, fails: fails, syncOnWrite: syncOnWrite, wo: pebbledb.Sync}
	if !syncOnWrite {
		e.wo = pebbledb.NoSync
	}
	if err := e.loadBounds(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("raftlog/pebble: open %s: %w", o.Dir, err)
	}
	return e, nil
}

// loadBounds rebuilds the cached bounds from the purge boundary and the last
// log key.
func (e *Engine) loadBounds() error {
	v, closer, err := e.db.Get(purgedKey)
	switch {
	case errors.Is(err, pebbledb.ErrNotFound):
	case err != nil:
		return readError("purge boundary", err)
	default:
		e.purged, err = kvcodec.DecodeLogID(v)
		_ = closer.Close()
		if err != nil {
			return err
		}
	}
	e.last = e.purged.Index

	it, err := e.db.NewIter(&pebbledb.IterOptions{LowerBound: logKey(0), UpperBound: logEnd})
	if err != nil {
		return readError("log", err)
	}
	defer it.Close()
	if !it.First() {
		return readError("log", it.Error())
	}
	first, ok := keyIndex(it.Key())
	if !ok {
		return fmt.Errorf("%w: key %x in the log span is not a log key", raftlog.ErrCorrupt, it.Key())
	}
	if first != e.purged.Index+1 {
		return fmt.Errorf("%w: first entry is %d, purge boundary is %s", raftlog.ErrCorrupt, first, e.purged)
	}
	if !it.Last() {
		return readError("log", it.Error())
	}
	last, ok := keyIndex(it.Key())
	if !ok {
		return fmt.Errorf("%w: key %x in the log span is not a log key", raftlog.ErrCorrupt, it.Key())
	}
	e.last = last
	return nil
}

// readError wraps an error from a pebble read; corruption pebble detects
// (a bad block checksum, say) is raftlog.ErrCorrupt.
func readError(what string, err error) error {
	if err == nil {
		return nil
	}
	if pebbledb.IsCorruptionError(err) {
		return fmt.Errorf("%w: %s: %w", raftlog.ErrCorrupt, what, err)
	}
	return fmt.Errorf("raftlog/pebble: read %s: %w", what, err)
}

func (e *Engine) Log() raftlog.LogStore   { return e }
func (e *Engine) Meta() raftlog.MetaStore { return e }

func (e *Engine) Capabilities() raftlog.Capabilities {
	return raftlog.Capabilities{Persistent: true, SyncOnWrite: e.syncOnWrite, UsesFS: true}
}

// writable returns why a mutation must be refused, if it must.
func (e *Engine) writable() error {
	if e.closed.Load() {
		return raftlog.ErrClosed
	}
	if cause := e.fails.cause(); cause != nil {
		return fmt.Errorf("raftlog/pebble: %w: %w", raftlog.ErrFailed, cause)
	}
	return nil
}

// commit applies b with the engine's write options and reports any storage
// error pebble met meanwhile, which fails the engine.
func (e *Engine) commit(b *pebbledb.Batch, wo *pebbledb.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e.wedged.Store(true)
			e.fails.record(panicError(r))
			err = e.writable()
		}
	}()
	if err := e.db.Apply(b, wo); err != nil {
		e.fails.record(fmt.Errorf("commit: %w", err))
	}
	return e.writable()
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
		size += logKeyLen + kvcodec.EntryHeaderLen + len(ent.Data) + 16
	}

	b := e.db.NewBatchWithSize(size)
	defer b.Close()
	for _, ent := range entries {
		op := b.SetDeferred(logKeyLen, kvcodec.EntryHeaderLen+len(ent.Data))
		op.Key[0] = logPrefix
		binary.BigEndian.PutUint64(op.Key[1:], ent.Index)
		kvcodec.AppendEntry(op.Value[:0], ent)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("raftlog/pebble: batch: %w", err)
		}
	}
	if err := e.commit(b, e.wo); err != nil {
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
	v, closer, err := e.db.Get(logKey(index))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return raftlog.Entry{}, e.missing(index)
	}
	if err != nil {
		return raftlog.Entry{}, readError(fmt.Sprintf("entry %d", index), err)
	}
	defer closer.Close()
	return kvcodec.DecodeEntry(index, v)
}

// missing explains an entry absent from inside the cached bounds: after a
// failed mutation pebble may hold changes that were never reported, else the
// store is damaged.
func (e *Engine) missing(index uint64) error {
	if cause := e.fails.cause(); cause != nil {
		return fmt.Errorf("raftlog/pebble: entry %d: %w: %w", index, raftlog.ErrFailed, cause)
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
	upper := logEnd
	if hi < math.MaxUint64 {
		upper = logKey(hi + 1)
	}
	it, err := e.db.NewIter(&pebbledb.IterOptions{LowerBound: logKey(lo), UpperBound: upper})
	if err != nil {
		return nil, readError("log", err)
	}
	defer it.Close()
	out := make([]raftlog.Entry, 0, hi-lo+1)
	want := lo
	for ok := it.First(); ok; ok = it.Next() {
		index, isLog := keyIndex(it.Key())
		if !isLog {
			return nil, fmt.Errorf("%w: key %x in the log span is not a log key", raftlog.ErrCorrupt, it.Key())
		}
		if index != want {
			return nil, e.missing(want)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, readError(fmt.Sprintf("entry %d", index), err)
		}
		ent, err := kvcodec.DecodeEntry(index, v)
		if err != nil {
			return nil, err
		}
		out = append(out, ent)
		want++
	}
	if err := it.Error(); err != nil {
		return nil, readError("log", err)
	}
	if want <= hi {
		return nil, e.missing(want)
	}
	return out, nil
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
	end := logEnd
	if upTo.Index < e.last {
		end = logKey(upTo.Index + 1)
	}
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(logKey(e.purged.Index+1), end, nil); err != nil {
		return fmt.Errorf("raftlog/pebble: batch: %w", err)
	}
	if err := b.Set(purgedKey, kvcodec.EncodeLogID(upTo), nil); err != nil {
		return fmt.Errorf("raftlog/pebble: batch: %w", err)
	}
	if err := e.commit(b, e.wo); err != nil {
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
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(logKey(from), logEnd, nil); err != nil {
		return fmt.Errorf("raftlog/pebble: batch: %w", err)
	}
	if err := e.commit(b, e.wo); err != nil {
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
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(logKey(0), logEnd, nil); err != nil {
		return fmt.Errorf("raftlog/pebble: batch: %w", err)
	}
	if err := b.Delete(purgedKey, nil); err != nil {
		return fmt.Errorf("raftlog/pebble: batch: %w", err)
	}
	if err := e.commit(b, e.wo); err != nil {
		return err
	}
	e.purged, e.last = raftlog.LogID{}, 0
	return nil
}

// Flush syncs the WAL, which holds every mutation of the log and of the hard
// state. With sync=true there is nothing left to sync, but a failed engine
// still refuses.
func (e *Engine) Flush() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.writable(); err != nil {
		return err
	}
	if e.syncOnWrite {
		return nil
	}
	// An empty LogData record is a batch pebble will not skip as empty,
	// committed with a WAL sync that covers everything written before it.
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.LogData(nil, nil); err != nil {
		return fmt.Errorf("raftlog/pebble: batch: %w", err)
	}
	return e.commit(b, pebbledb.Sync)
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
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.Set(hardStateKey, kvcodec.EncodeHardState(hs), nil); err != nil {
		return fmt.Errorf("raftlog/pebble: batch: %w", err)
	}
	return e.commit(b, e.wo)
}

func (e *Engine) LoadHardState() (raftlog.HardState, bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed.Load() {
		return raftlog.HardState{}, false, raftlog.ErrClosed
	}
	v, closer, err := e.db.Get(hardStateKey)
	if errors.Is(err, pebbledb.ErrNotFound) {
		return raftlog.HardState{}, false, nil
	}
	if err != nil {
		return raftlog.HardState{}, false, readError("hard state", err)
	}
	defer closer.Close()
	hs, err := kvcodec.DecodeHardState(v)
	if err != nil {
		return raftlog.HardState{}, false, err
	}
	return hs, true, nil
}

// Close closes the database. After a storage error the error was reported
// already, and Close only releases what pebble can release.
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
	err := e.closeDB()
	if e.fails.cause() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("raftlog/pebble: close: %w", err)
	}
	return nil
}

func (e *Engine) closeDB() error {
	if !e.wedged.Load() {
		return closeRecovering(e.db)
	}
	// pebble's commit pipeline is locked and DB.Close waits on it: give it
	// a bounded chance, then abandon the handle.
	done := make(chan error, 1)
	go func() { done <- closeRecovering(e.db) }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeWaitWedged):
		return errors.New("pebble is wedged after a panic; the database handle was abandoned")
	}
}

func closeRecovering(db *pebbledb.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
	}()
	return db.Close()
}
