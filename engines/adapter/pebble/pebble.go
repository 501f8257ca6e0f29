// Package pebble is the adapter engine on a pebble LSM store, the Go analog
// of RobustMQ's RocksDB engine. Each shard lives under key prefixes: its
// configuration, its next offset, its records by offset, and three indexes
// (tag, key, and the records that raised the shard's running maximum
// timestamp), plus the group offsets. Every mutation is one pebble batch
// committed with a synced WAL write, so it is atomic and durable on return.
//
// Pebble reports a failed WAL sync by calling its logger's Fatalf, which by
// default exits the process. The engine installs a logger whose Fatalf
// marks the engine failed instead: the mutation whose commit failed returns
// an error, and every later call returns adapter.ErrFailed until the engine
// is reopened.
//
// The database is in pebble's newest format. Damage to the files is
// adapter.ErrCorrupt: pebble's checksum errors and a file its metadata
// names that is missing, at open or on the read that meets them, and what
// package internal/pebblecheck finds around pebble. Close, unless the
// engine failed, writes a mark (a count of clean closes) as its last
// synced write and then leaves the record of a clean close: the size of
// every file and the mark. Open checks them before writing anything: a
// file cut, grown or deleted, or a write-ahead log whose end (the mark) is
// gone, fails the open at every attempt, where pebble would read the
// damaged end of its newest log as the tail a crash tore and drop the
// records and deletes written last, without a word. After a crash there is
// no record; the newest log's unsynced tail may then be lost, and a
// damaged end of it looks the same to pebble.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/internal/pebblecheck"
)

// StorageType is the name the engine registers under.
const StorageType = "pebble"

func init() {
	adapter.Register(StorageType, func(o adapter.Options) (adapter.StorageAdapter, error) { return Open(o) })
}

// Engine is the pebble-backed adapter engine.
type Engine struct {
	db     *pebbledb.DB
	fs     vfs.FS
	dir    string
	failed atomic.Bool
	log    *logger

	mu     sync.RWMutex // guards closed and shards
	closed bool
	shards map[string]*shard
}

type shard struct {
	cfg    adapter.ShardConfig
	mu     sync.Mutex // serializes the shard's log mutations
	gone   bool
	next   uint64
	runMax int64
}

var _ adapter.StorageAdapter = (*Engine)(nil)

// logger routes pebble's messages nowhere but keeps its fatal ones: a
// Fatalf marks the engine failed instead of exiting.
type logger struct {
	e     *Engine
	mu    sync.Mutex
	fatal string
}

func (l *logger) Infof(string, ...any)  {}
func (l *logger) Errorf(string, ...any) {}
func (l *logger) Fatalf(format string, args ...any) {
	l.mu.Lock()
	if l.fatal == "" {
		l.fatal = fmt.Sprintf(format, args...)
	}
	l.mu.Unlock()
	l.e.failed.Store(true)
}

func (l *logger) message() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

// Open opens or creates the engine in o.Dir. It takes the parameter
// memtable_size (bytes).
func Open(o adapter.Options) (*Engine, error) {
	if err := adapter.CheckParams(StorageType, o.Params, "memtable_size"); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: pebble needs a Dir", adapter.ErrBadOption)
	}
	e := &Engine{shards: map[string]*shard{}, fs: o.FSOrDefault(), dir: o.Dir}
	e.log = &logger{e: e}
	opts := &pebbledb.Options{
		FS:     o.FSOrDefault(),
		Logger: e.log,
		// The newest format: write-ahead log chunks that name their log,
		// so that a stale or damaged chunk in the middle is corruption,
		// not the end of the log.
		FormatMajorVersion: pebbledb.FormatNewest,
		EventListener: &pebbledb.EventListener{
			// Reads report corruption as adapter.ErrCorrupt; the default
			// listener would call Fatalf.
			DataCorruption:  func(pebbledb.DataCorruptionInfo) {},
			BackgroundError: func(error) {},
		},
	}
	if v, ok := o.Params["memtable_size"]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < 1<<20 {
			return nil, fmt.Errorf("%w: memtable_size %q is not a size of at least 1MiB", adapter.ErrBadOption, v)
		}
		opts.MemTableSize = n
	}
	db, err := pebblecheck.Open(o.Dir, opts, markKey)
	if err != nil {
		return nil, fmt.Errorf("pebble: open %s: %w", o.Dir, corrupt(err))
	}
	e.db = db
	if err := e.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return e, nil
}

// load reads every shard's configuration and next offset.
func (e *Engine) load() error {
	it, err := e.db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{pConfig}, UpperBound: []byte{pConfig + 1}})
	if err != nil {
		return fmt.Errorf("pebble: list shards: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		cfg, err := decodeConfig(it.Value())
		if err != nil {
			return fmt.Errorf("pebble: shard %q: %w", it.Key()[1:], err)
		}
		if cfg.Name != string(it.Key()[1:]) {
			return fmt.Errorf("%w: config under %q names shard %q", adapter.ErrCorrupt, it.Key()[1:], cfg.Name)
		}
		v, err := e.get(e.db, nextKey(cfg.Name))
		if err != nil {
			return fmt.Errorf("pebble: shard %q next offset: %w", cfg.Name, err)
		}
		next, runMax, err := decodeNext(v)
		if err != nil {
			return fmt.Errorf("pebble: shard %q: %w", cfg.Name, err)
		}
		e.shards[cfg.Name] = &shard{cfg: cfg, next: next, runMax: runMax}
	}
	return corrupt(it.Error())
}

// get returns a copy of the value at key, or an error wrapping
// pebbledb.ErrNotFound.
func (e *Engine) get(rd pebbledb.Reader, key []byte) ([]byte, error) {
	v, closer, err := rd.Get(key)
	if err != nil {
		return nil, corrupt(err)
	}
	out := slices.Clone(v)
	return out, corrupt(closer.Close())
}

// Capabilities: persistent, every mutation synced, all I/O through
// Options.FS.
func (e *Engine) Capabilities() adapter.Capabilities {
	return adapter.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: true}
}

// Close closes the store. After a storage failure the store's own error on
// close is not reported: the failure already was.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return adapter.ErrClosed
	}
	e.closed = true
	e.shards = nil
	err := pebblecheck.Close(e.db, e.fs, e.dir, markKey, func() bool { return !e.failed.Load() })
	if e.failed.Load() {
		return nil
	}
	return err
}

func (e *Engine) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.closed {
		return adapter.ErrClosed
	}
	if e.failed.Load() {
		return adapter.ErrFailed
	}
	return nil
}

func (e *Engine) lookup(ctx context.Context, name string) (*shard, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.check(ctx); err != nil {
		return nil, err
	}
	s, ok := e.shards[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", adapter.ErrShardNotFound, name)
	}
	return s, nil
}

// lockShard returns the named shard with its write lock held.
func (e *Engine) lockShard(ctx context.Context, name string) (*shard, error) {
	s, err := e.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", adapter.ErrShardNotFound, name)
	}
	return s, nil
}

// commit applies a batch with a synced WAL write. A commit that pebble
// reported through Fatalf fails the engine.
func (e *Engine) commit(b *pebbledb.Batch) error {
	defer b.Close()
	if e.failed.Load() {
		return adapter.ErrFailed
	}
	if err := e.db.Apply(b, pebbledb.Sync); err != nil {
		e.failed.Store(true)
		return fmt.Errorf("pebble: commit: %w", err)
	}
	if e.failed.Load() {
		return fmt.Errorf("pebble: commit: %s: %w", e.log.message(), adapter.ErrFailed)
	}
	return nil
}

func (e *Engine) CreateShard(ctx context.Context, cfg adapter.ShardConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.check(ctx); err != nil {
		return err
	}
	if _, ok := e.shards[cfg.Name]; ok {
		return fmt.Errorf("%w: %q", adapter.ErrShardExists, cfg.Name)
	}
	b := e.db.NewBatch()
	_ = b.Set(configKey(cfg.Name), encodeConfig(cfg), nil)
	_ = b.Set(nextKey(cfg.Name), encodeNext(0, math.MinInt64), nil)
	if err := e.commit(b); err != nil {
		return err
	}
	e.shards[cfg.Name] = &shard{cfg: cfg, runMax: math.MinInt64}
	return nil
}

func (e *Engine) DeleteShard(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.check(ctx); err != nil {
		return err
	}
	s, ok := e.shards[name]
	if !ok {
		return fmt.Errorf("%w: %q", adapter.ErrShardNotFound, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := e.db.NewBatch()
	_ = b.Delete(configKey(name), nil)
	_ = b.Delete(nextKey(name), nil)
	for _, p := range []byte{pRecord, pTag, pKey, pTime, pGroup} {
		pre := shardPrefix(p, name)
		_ = b.DeleteRange(pre, successor(pre), nil)
	}
	if err := e.commit(b); err != nil {
		return err
	}
	s.gone = true
	delete(e.shards, name)
	return nil
}

func (e *Engine) ListShards(ctx context.Context, f adapter.ShardFilter) ([]adapter.ShardInfo, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if err := e.check(ctx); err != nil {
		return nil, err
	}
	var out []adapter.ShardInfo
	for _, s := range e.shards {
		if !f.Match(s.cfg) {
			continue
		}
		s.mu.Lock()
		out = append(out, adapter.ShardInfo{Config: s.cfg, NextOffset: s.next})
		s.mu.Unlock()
	}
	adapter.SortShardInfos(out)
	return out, nil
}

func (e *Engine) Write(ctx context.Context, shard string, r adapter.Record) (uint64, error) {
	return adapter.FirstOffset(e.BatchWrite(ctx, shard, []adapter.Record{r}))
}

func (e *Engine) BatchWrite(ctx context.Context, name string, rs []adapter.Record) ([]uint64, error) {
	if err := adapter.CheckRecords(rs); err != nil {
		return nil, err
	}
	s, err := e.lockShard(ctx, name)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if len(rs) == 0 {
		return nil, nil
	}
	b := e.db.NewBatch()
	next, runMax := s.next, s.runMax
	offs := make([]uint64, len(rs))
	for i, r := range rs {
		o := next
		next++
		offs[i] = o
		_ = b.Set(recordKey(name, o), encodeRecord(r), nil)
		for j, t := range r.Tags {
			if !slices.Contains(r.Tags[:j], t) {
				_ = b.Set(indexKey(pTag, name, t, o), nil, nil)
			}
		}
		if r.Key != "" {
			_ = b.Set(indexKey(pKey, name, r.Key, o), nil, nil)
		}
		if r.Timestamp > runMax {
			runMax = r.Timestamp
			_ = b.Set(timeKey(name, r.Timestamp, o), nil, nil)
		}
	}
	_ = b.Set(nextKey(name), encodeNext(next, runMax), nil)
	if err := e.commit(b); err != nil {
		return nil, err
	}
	s.next, s.runMax = next, runMax
	return offs, nil
}

// iter opens an iterator over [lo, hi).
func (e *Engine) iter(rd pebbledb.Reader, lo, hi []byte) (*pebbledb.Iterator, error) {
	it, err := rd.NewIter(&pebbledb.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("pebble: iterator: %w", corrupt(err))
	}
	return it, nil
}

// scanRecords calls fn for each live record with offset >= from until fn
// returns false.
func (e *Engine) scanRecords(rd pebbledb.Reader, name string, from uint64, fn func(adapter.Record) bool) error {
	pre := shardPrefix(pRecord, name)
	it, err := e.iter(rd, recordKey(name, from), successor(pre))
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		r, err := decodeRecord(lastOffset(it.Key()), it.Value())
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("pebble: shard %q: %w", name, err)
		}
		if !fn(r) {
			break
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return corrupt(err)
	}
	return corrupt(it.Close())
}

// record reads the live record at offset o; ok is false if there is none.
func (e *Engine) record(rd pebbledb.Reader, name string, o uint64) (adapter.Record, bool, error) {
	v, err := e.get(rd, recordKey(name, o))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return adapter.Record{}, false, nil
	}
	if err != nil {
		return adapter.Record{}, false, fmt.Errorf("pebble: read %q at %d: %w", name, o, err)
	}
	rec, err := decodeRecord(o, v)
	if err != nil {
		return adapter.Record{}, false, fmt.Errorf("pebble: shard %q: %w", name, err)
	}
	return rec, true, nil
}

func (e *Engine) ReadByOffset(ctx context.Context, name string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckLimit(limit); err != nil {
		return nil, err
	}
	if _, err := e.lookup(ctx, name); err != nil {
		return nil, err
	}
	// One snapshot for the whole read, so that an index entry and the
	// record it names are seen at the same moment.
	snap := e.db.NewSnapshot()
	defer snap.Close()
	var out []adapter.Record
	err := e.scanRecords(snap, name, offset, func(r adapter.Record) bool {
		out = append(out, r)
		return len(out) < limit
	})
	return out, e.readErr(err)
}

// readErr turns any error into ErrFailed once the engine failed, so that a
// read racing a failure never serves state that may not be durable.
func (e *Engine) readErr(err error) error {
	if e.failed.Load() {
		return adapter.ErrFailed
	}
	return corrupt(err)
}

// corrupt wraps adapter.ErrCorrupt around an error of pebble's that means
// damage (see pebblecheck.IsCorrupt); others pass as they are.
func corrupt(err error) error {
	if pebblecheck.IsCorrupt(err) && !errors.Is(err, adapter.ErrCorrupt) {
		return fmt.Errorf("%w: %w", adapter.ErrCorrupt, err)
	}
	return err
}

func (e *Engine) ReadByTag(ctx context.Context, name, tag string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckTagRead(tag, limit); err != nil {
		return nil, err
	}
	if _, err := e.lookup(ctx, name); err != nil {
		return nil, err
	}
	// One snapshot for the whole read, so that an index entry and the
	// record it names are seen at the same moment.
	snap := e.db.NewSnapshot()
	defer snap.Close()
	it, err := e.iter(snap, indexKey(pTag, name, tag, offset), successor(namePrefix(pTag, name, tag)))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []adapter.Record
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		r, ok, err := e.record(snap, name, lastOffset(it.Key()))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, e.readErr(it.Error())
}

func (e *Engine) ReadByKey(ctx context.Context, name, key string) (adapter.Record, error) {
	if err := adapter.CheckKey(key); err != nil {
		return adapter.Record{}, err
	}
	if _, err := e.lookup(ctx, name); err != nil {
		return adapter.Record{}, err
	}
	// One snapshot for the whole read, so that an index entry and the
	// record it names are seen at the same moment.
	snap := e.db.NewSnapshot()
	defer snap.Close()
	pre := namePrefix(pKey, name, key)
	it, err := e.iter(snap, pre, successor(pre))
	if err != nil {
		return adapter.Record{}, err
	}
	defer it.Close()
	for it.Last(); it.Valid(); it.Prev() {
		r, ok, err := e.record(snap, name, lastOffset(it.Key()))
		if err != nil {
			return adapter.Record{}, err
		}
		if ok {
			return r, e.readErr(nil)
		}
	}
	if err := e.readErr(it.Error()); err != nil {
		return adapter.Record{}, err
	}
	return adapter.Record{}, fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, name)
}

// deleteRecords deletes records and their index entries in one batch. The
// time index keeps its entries: they only say where to start looking.
func (e *Engine) deleteRecords(name string, rs []adapter.Record) error {
	b := e.db.NewBatch()
	for _, r := range rs {
		_ = b.Delete(recordKey(name, r.Offset), nil)
		for _, t := range r.Tags {
			_ = b.Delete(indexKey(pTag, name, t, r.Offset), nil)
		}
		if r.Key != "" {
			_ = b.Delete(indexKey(pKey, name, r.Key, r.Offset), nil)
		}
	}
	return e.commit(b)
}

func (e *Engine) DeleteByOffset(ctx context.Context, name string, offset uint64) error {
	s, err := e.lockShard(ctx, name)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	r, ok, err := e.record(e.db, name, offset)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: offset %d in shard %q", adapter.ErrNotFound, offset, name)
	}
	return e.deleteRecords(name, []adapter.Record{r})
}

func (e *Engine) DeleteByKey(ctx context.Context, name, key string) error {
	if err := adapter.CheckKey(key); err != nil {
		return err
	}
	s, err := e.lockShard(ctx, name)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	pre := namePrefix(pKey, name, key)
	it, err := e.iter(e.db, pre, successor(pre))
	if err != nil {
		return err
	}
	var rs []adapter.Record
	for it.First(); it.Valid(); it.Next() {
		r, ok, err := e.record(e.db, name, lastOffset(it.Key()))
		if err != nil {
			_ = it.Close()
			return err
		}
		if ok {
			rs = append(rs, r)
		}
	}
	if err := it.Close(); err != nil {
		return corrupt(err)
	}
	if len(rs) == 0 {
		return fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, name)
	}
	return e.deleteRecords(name, rs)
}

func (e *Engine) OffsetByTimestamp(ctx context.Context, name string, ts int64) (uint64, error) {
	if _, err := e.lookup(ctx, name); err != nil {
		return 0, err
	}
	// One snapshot for the whole read, so that an index entry and the
	// record it names are seen at the same moment.
	snap := e.db.NewSnapshot()
	defer snap.Close()
	// The first record with Timestamp >= ts raised the running maximum to
	// its timestamp: the time index finds it, and live records that qualify
	// can only come at or after it.
	pre := shardPrefix(pTime, name)
	it, err := e.iter(snap, timeKey(name, max(ts, 0), 0), successor(pre))
	if err != nil {
		return 0, err
	}
	first := it.First()
	var from uint64
	if first {
		from = lastOffset(it.Key())
	}
	if err := it.Close(); err != nil {
		return 0, corrupt(err)
	}
	var found *uint64
	if first {
		err = e.scanRecords(snap, name, from, func(r adapter.Record) bool {
			if r.Timestamp >= ts {
				o := r.Offset
				found = &o
				return false
			}
			return true
		})
		if err != nil {
			return 0, e.readErr(err)
		}
	}
	if err := e.readErr(nil); err != nil {
		return 0, err
	}
	if found == nil {
		return 0, fmt.Errorf("%w: no record at or after timestamp %d in shard %q", adapter.ErrNotFound, ts, name)
	}
	return *found, nil
}

func (e *Engine) OffsetByGroup(ctx context.Context, group, name string) (uint64, error) {
	if err := adapter.CheckGroup(group); err != nil {
		return 0, err
	}
	if _, err := e.lookup(ctx, name); err != nil {
		return 0, err
	}
	v, err := e.get(e.db, groupKey(name, group))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return 0, fmt.Errorf("%w: group %q has no offset in shard %q", adapter.ErrNotFound, group, name)
	}
	if err != nil {
		return 0, fmt.Errorf("pebble: read group offset: %w", err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: group offset of %d bytes", adapter.ErrCorrupt, len(v))
	}
	return beUint64(v), e.readErr(nil)
}

func (e *Engine) CommitOffset(ctx context.Context, group, name string, offset uint64) error {
	if err := adapter.CheckGroup(group); err != nil {
		return err
	}
	s, err := e.lockShard(ctx, name)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	b := e.db.NewBatch()
	_ = b.Set(groupKey(name, group), beAppend(nil, offset), nil)
	return e.commit(b)
}
