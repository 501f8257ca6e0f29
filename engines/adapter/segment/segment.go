// Package segment is a segmented file log engine for the adapter SPI, in the
// manner of RobustMQ's file segment storage, written over pebble's vfs.FS so
// that every fault ordeal injects reaches it.
//
// # Layout
//
// Each shard is a directory under <Dir>/shards holding:
//   - config: the shard configuration, in one checksummed frame, written to a
//     temporary file, synced and renamed into place; a shard exists exactly
//     when its config does;
//   - <base>.seg: the segments, named by the first offset they may hold
//     (twenty decimal digits). Each is a sequence of frames: a length, a
//     CRC-32C and a payload that is either a batch of records at consecutive
//     offsets or a tombstone listing deleted offsets;
//   - groups: the group offsets, one frame per commit, the last one for a
//     group winning; it is compacted at open.
//
// # Writes and durability
//
// Every Write, BatchWrite, DeleteByOffset, DeleteByKey and CommitOffset is
// made durable with at most one fsync before it returns
// (Capabilities().SyncOnWrite). Writes to one shard commit in groups: the
// batches that arrive while a sync is under way are gathered into one frame,
// written with one call and synced once by the next writer in line, and
// each batch keeps consecutive offsets. A frame survives a crash whole or not
// at all, so a batch does too. Readers never wait for a sync: they see a
// frame once it is synced. A segment rolls before a batch
// would take it past ShardConfig.SegmentSize (the default comes from the
// segment_size parameter); the new file's directory entry is synced before
// anything is written to it. Deletes write tombstones; the records stay in
// their segments until retention drops them.
//
// # Indexes
//
// The indexes live in memory and are rebuilt at open by reading every
// segment, which is also how recovery validates the log: a sparse index per
// segment (a frame position every index_interval bytes, with the first
// offset of the frame and the running maximum timestamp before it), a tag
// index and a key index (tag or key to ascending offsets), and the set of
// deleted offsets. Rebuilding costs a full read at open and keeps nothing
// on disk that could disagree with the log.
//
// # Recovery
//
// A frame that is incomplete or fails its checksum at the end of a shard's
// last segment, with no valid frame after it, is a torn write: the file is
// cut before it (by copying the good prefix to a new file and renaming it
// over the old one, since vfs.File cannot truncate). Anywhere else it is
// corruption, and Open fails with an error wrapping adapter.ErrCorrupt.
//
// Close, unless the engine failed, leaves the record of a clean close
// (package internal/cleanclose) in Dir: the size of every file of every
// shard. Open reads it first. A listed file that is missing or of another
// size fails the open with adapter.ErrCorrupt; and as nothing was in
// flight at a clean close, a bad frame at the end of a last segment or of
// a groups file, or a shard directory without its config, is corruption
// too, not a write a crash tore. Without this a cut of a shard's newest
// segment at a frame boundary would drop the tombstones and records
// written last, bring deleted records back and hand their offsets out
// again. The record goes once every shard has been read and checked,
// before the groups files are rewritten. After a crash there is no record:
// a torn tail is then cut, and so is damage that looks like one; losing
// synced data is detected as far as the checksums and the offsets reach.
//
// # Retention
//
// Retain(ctx, now) drops, oldest first, the sealed segments of a shard whose
// newest record is older than now minus the shard's Retention; the active
// segment is never dropped, so NextOffset survives. The engine never reads
// the wall clock.
//
// # Failures
//
// After a failed write or sync the engine refuses every call but Close with
// adapter.ErrFailed; reopening recovers what was synced.
package segment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

// StorageType is the name the engine registers under.
const StorageType = "segment"

// Defaults for the parameters.
const (
	DefaultSegmentSize   = 64 << 20
	DefaultIndexInterval = 4 << 10
)

func init() {
	adapter.Register(StorageType, func(o adapter.Options) (adapter.StorageAdapter, error) { return Open(o) })
}

// Bugs plants known bugs in the engine, to prove that the conformance suite
// catches them. The zero value is the correct engine.
type Bugs struct {
	// ReuseOffsets hands out the offset of a deleted last record again.
	ReuseOffsets bool
	// ForgetTags does not rebuild the tag index at open, as if it were an
	// index that was never persisted.
	ForgetTags bool
	// AckBeforeSync acknowledges writes without syncing them (while still
	// declaring SyncOnWrite).
	AckBeforeSync bool
	// ServeDeletedKeys lets ReadByKey return records deleted by key.
	ServeDeletedKeys bool
	// RetrySyncAfterEIO retries a failed segment sync and carries on if the
	// retry succeeds, which on Linux it does without the lost data.
	RetrySyncAfterEIO bool
	// TrustPageCache builds on the last segment as read at open, without
	// making it durable: after a failed fsync it may be in the page cache
	// only (caught on lazyfs, whose failed fsync leaves it readable).
	TrustPageCache bool
	// SkipChecksums reads frames without checking their CRC-32C.
	SkipChecksums bool
}

// Engine is the segmented file log engine.
type Engine struct {
	fs            vfs.FS
	dir           string // Options.Dir
	root          string // <Dir>/shards
	defaultSize   int64
	indexInterval int64
	bugs          Bugs

	// strict is set while opening a store that closed cleanly: nothing
	// was in flight, so no torn tail is cut (see "Recovery").
	strict bool

	failed     atomic.Bool
	closedFlag atomic.Bool  // closed, for writers that do not hold mu
	mu         sync.RWMutex // guards closed and shards
	closed     bool
	shards     map[string]*shard
}

var (
	_ adapter.StorageAdapter = (*Engine)(nil)
	_ adapter.Retainer       = (*Engine)(nil)
)

// Open opens or creates the engine in o.Dir and recovers every shard. It
// takes the parameters segment_size (the default ShardConfig.SegmentSize,
// in bytes) and index_interval (bytes between sparse index entries).
func Open(o adapter.Options) (*Engine, error) { return OpenWithBugs(o, Bugs{}) }

// OpenWithBugs opens the engine with planted bugs; see Bugs.
func OpenWithBugs(o adapter.Options, bugs Bugs) (*Engine, error) {
	if err := adapter.CheckParams(StorageType, o.Params, "segment_size", "index_interval"); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: segment needs a Dir", adapter.ErrBadOption)
	}
	e := &Engine{fs: o.FSOrDefault(), defaultSize: DefaultSegmentSize, indexInterval: DefaultIndexInterval, bugs: bugs, shards: map[string]*shard{}}
	for name, dst := range map[string]*int64{"segment_size": &e.defaultSize, "index_interval": &e.indexInterval} {
		if v, ok := o.Params[name]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%w: %s %q is not a positive integer", adapter.ErrBadOption, name, v)
			}
			*dst = n
		}
	}
	e.root = e.fs.PathJoin(o.Dir, "shards")
	if err := e.fs.MkdirAll(e.root, 0o755); err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", e.root, err)
	}
	for _, d := range []string{e.fs.PathDir(o.Dir), o.Dir, e.root} {
		if err := syncDir(e.fs, d); err != nil {
			return nil, err
		}
	}
	_, strict, err := cleanclose.Check(e.fs, o.Dir)
	if errors.Is(err, cleanclose.ErrMismatch) {
		return nil, fmt.Errorf("segment: %w: %w", adapter.ErrCorrupt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	e.dir, e.strict = o.Dir, strict
	names, err := e.fs.List(e.root)
	if err != nil {
		return nil, fmt.Errorf("segment: list %s: %w", e.root, err)
	}
	sort.Strings(names)
	for _, name := range names {
		s, err := e.recoverShard(name)
		if err != nil {
			e.closeFiles()
			return nil, fmt.Errorf("segment: shard %q: %w", name, err)
		}
		if s != nil {
			e.shards[name] = s
		}
	}
	// Everything is read and checked; the groups files are compacted
	// next, so the record of the clean close goes first.
	if strict {
		if err := cleanclose.Remove(e.fs, o.Dir); err != nil {
			e.closeFiles()
			return nil, fmt.Errorf("segment: %w", err)
		}
	}
	e.strict = false
	for _, name := range names {
		s := e.shards[name]
		if s == nil {
			continue
		}
		if err := s.openGroups(s.recovered); err != nil {
			e.closeFiles()
			return nil, fmt.Errorf("segment: shard %q: %w", name, err)
		}
		s.recovered = nil
	}
	return e, nil
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("segment: open directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("segment: sync directory %s: %w", dir, err)
	}
	return nil
}

// Capabilities: persistent, every mutation synced, all I/O through
// Options.FS.
func (e *Engine) Capabilities() adapter.Capabilities {
	return adapter.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: true}
}

// Close releases every file. Nothing needs flushing: every acknowledged
// mutation is already synced.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return adapter.ErrClosed
	}
	e.closed = true
	e.closedFlag.Store(true)
	if err := e.closeFiles(); err != nil || e.failed.Load() {
		// After a failure the next open recovers as after a crash.
		return err
	}
	files, err := cleanclose.Snapshot(e.fs, e.dir, nil)
	if err == nil {
		err = cleanclose.Write(e.fs, e.dir, cleanclose.Record{Files: files})
	}
	if err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	return nil
}

func (e *Engine) closeFiles() error {
	var first error
	for _, s := range e.shards {
		s.wmu.Lock()
		s.mu.Lock()
		s.gone = true
		if err := s.closeFiles(); err != nil && first == nil {
			first = err
		}
		s.mu.Unlock()
		s.wmu.Unlock()
	}
	e.shards = nil
	return first
}

// fail marks the engine failed after a storage error and returns err.
func (e *Engine) fail(err error) error {
	e.failed.Store(true)
	return err
}

// lookup returns the named shard; it holds e.mu only while looking.
func (e *Engine) lookup(ctx context.Context, name string) (*shard, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, adapter.ErrClosed
	}
	if e.failed.Load() {
		return nil, adapter.ErrFailed
	}
	s, ok := e.shards[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", adapter.ErrShardNotFound, name)
	}
	return s, nil
}

// lockShard returns the named shard with its read lock held (or, for
// write, its writer lock), having checked that it was not deleted or
// closed while the caller waited for the lock.
func (e *Engine) lockShard(ctx context.Context, name string, write bool) (*shard, func(), error) {
	s, err := e.lookup(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	unlock := s.mu.RUnlock
	if write {
		s.wmu.Lock()
		unlock = s.wmu.Unlock
	} else {
		s.mu.RLock()
	}
	if err := s.usable(); err != nil {
		unlock()
		return nil, nil, err
	}
	return s, unlock, nil
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
	s, err := e.createShard(cfg)
	if err != nil {
		return e.fail(err)
	}
	e.shards[cfg.Name] = s
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
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(e.shards, name)
	s.gone = true
	if err := e.removeShard(s); err != nil {
		return e.fail(err)
	}
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
		s.mu.RLock()
		out = append(out, adapter.ShardInfo{Config: s.cfg, StartOffset: s.segs[0].base, NextOffset: s.next})
		s.mu.RUnlock()
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
	s, err := e.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil
	}
	return s.batchWrite(rs)
}

func (e *Engine) ReadByOffset(ctx context.Context, name string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckLimit(limit); err != nil {
		return nil, err
	}
	s, unlock, err := e.lockShard(ctx, name, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []adapter.Record
	err = s.scan(offset, func(r adapter.Record) bool {
		if !s.isDeleted(r.Offset) {
			out = append(out, r)
		}
		return len(out) < limit
	})
	return out, err
}

func (e *Engine) ReadByTag(ctx context.Context, name, tag string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckTagRead(tag, limit); err != nil {
		return nil, err
	}
	s, unlock, err := e.lockShard(ctx, name, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	offs := s.tags[tag]
	i, _ := slices.BinarySearch(offs, max(offset, s.start()))
	var out []adapter.Record
	for ; i < len(offs) && len(out) < limit; i++ {
		if s.isDeleted(offs[i]) {
			continue
		}
		r, err := s.get(offs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (e *Engine) ReadByKey(ctx context.Context, name, key string) (adapter.Record, error) {
	if err := adapter.CheckKey(key); err != nil {
		return adapter.Record{}, err
	}
	s, unlock, err := e.lockShard(ctx, name, false)
	if err != nil {
		return adapter.Record{}, err
	}
	defer unlock()
	offs := s.keys[key]
	for i := len(offs) - 1; i >= 0; i-- {
		o := offs[i]
		if o < s.start() {
			break
		}
		if s.isDeleted(o) && !e.bugs.ServeDeletedKeys {
			continue
		}
		return s.get(o)
	}
	return adapter.Record{}, fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, name)
}

func (e *Engine) DeleteByOffset(ctx context.Context, name string, offset uint64) error {
	s, unlock, err := e.lockShard(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	if offset < s.start() || offset >= s.wnext || s.isDeleted(offset) {
		return fmt.Errorf("%w: offset %d in shard %q", adapter.ErrNotFound, offset, name)
	}
	if err := s.tombstone([]uint64{offset}); err != nil {
		return err
	}
	if e.bugs.ReuseOffsets && offset == s.wnext-1 {
		s.mu.Lock()
		s.wnext--
		s.next--
		s.mu.Unlock()
	}
	return nil
}

func (e *Engine) DeleteByKey(ctx context.Context, name, key string) error {
	if err := adapter.CheckKey(key); err != nil {
		return err
	}
	s, unlock, err := e.lockShard(ctx, name, true)
	if err != nil {
		return err
	}
	defer unlock()
	var live []uint64
	for _, o := range s.keys[key] {
		if o >= s.start() && !s.isDeleted(o) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, name)
	}
	return s.tombstone(live)
}

func (e *Engine) OffsetByTimestamp(ctx context.Context, name string, ts int64) (uint64, error) {
	s, unlock, err := e.lockShard(ctx, name, false)
	if err != nil {
		return 0, err
	}
	defer unlock()
	var found *uint64
	err = s.scanFrom(s.timeStart(ts), func(r adapter.Record) bool {
		if r.Timestamp >= ts && !s.isDeleted(r.Offset) {
			o := r.Offset
			found = &o
			return false
		}
		return true
	})
	if err != nil {
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
	s, unlock, err := e.lockShard(ctx, name, false)
	if err != nil {
		return 0, err
	}
	defer unlock()
	s.gmu.Lock()
	defer s.gmu.Unlock()
	o, ok := s.groups[group]
	if !ok {
		return 0, fmt.Errorf("%w: group %q has no offset in shard %q", adapter.ErrNotFound, group, name)
	}
	return o, nil
}

func (e *Engine) CommitOffset(ctx context.Context, group, name string, offset uint64) error {
	if err := adapter.CheckGroup(group); err != nil {
		return err
	}
	// Group commits take the shard's read lock (they do not touch the log)
	// and serialize among themselves on the groups file.
	s, unlock, err := e.lockShard(ctx, name, false)
	if err != nil {
		return err
	}
	defer unlock()
	return s.commitGroup(group, offset)
}

// Retain drops expired sealed segments; see the package documentation.
func (e *Engine) Retain(ctx context.Context, now time.Time) error {
	e.mu.RLock()
	if err := e.check(ctx); err != nil {
		e.mu.RUnlock()
		return err
	}
	shards := make([]*shard, 0, len(e.shards))
	for _, s := range e.shards {
		shards = append(shards, s)
	}
	e.mu.RUnlock()
	for _, s := range shards {
		if s.cfg.Retention <= 0 {
			continue
		}
		cutoff := now.UnixMilli() - s.cfg.Retention.Milliseconds()
		s.wmu.Lock()
		s.mu.Lock()
		var err error
		if !s.gone && !e.failed.Load() {
			err = s.retain(cutoff)
		}
		s.mu.Unlock()
		s.wmu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// segName is the file name of the segment whose first offset is base.
func segName(base uint64) string { return fmt.Sprintf("%020d.seg", base) }

func parseSegName(name string) (uint64, bool) {
	stem, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(stem) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(stem, 10, 64)
	return n, err == nil
}

// readAllFrames calls fn for every frame of a file up to size. A bad frame
// is reported with its position.
func readAllFrames(f vfs.File, size int64, trust bool, fn func(payload []byte, pos int64) error) (badAt int64, err error) {
	fr := newFrameReader(f, 0, size)
	fr.trust = trust
	for {
		p, pos, err := fr.next()
		if err == io.EOF {
			return -1, nil
		}
		if err != nil {
			return pos, err
		}
		if err := fn(p, pos); err != nil {
			return -1, err
		}
	}
}
