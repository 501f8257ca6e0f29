// Package memory is the reference adapter engine: shards kept in process
// memory. It keeps nothing across Close, and every mutation is "durable" the
// moment it returns (there is nothing to sync), which makes it the
// executable statement of the adapter contracts.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// StorageType is the name the engine registers under.
const StorageType = "memory"

func init() {
	adapter.Register(StorageType, func(o adapter.Options) (adapter.StorageAdapter, error) { return Open(o) })
}

// Engine is an in-memory adapter engine.
type Engine struct {
	mu     sync.RWMutex
	closed bool
	shards map[string]*shard
}

type slot struct {
	rec  adapter.Record
	live bool
}

type tsMark struct {
	ts     int64
	offset uint64
}

type shard struct {
	cfg    adapter.ShardConfig
	recs   []slot // recs[i].rec.Offset == i
	tags   map[string][]uint64
	keys   map[string][]uint64
	marks  []tsMark // records that raised the running maximum timestamp
	groups map[string]uint64
}

var _ adapter.StorageAdapter = (*Engine)(nil)

// Open returns an empty engine. It takes no parameters.
func Open(o adapter.Options) (*Engine, error) {
	if err := adapter.CheckParams(StorageType, o.Params); err != nil {
		return nil, err
	}
	return &Engine{shards: map[string]*shard{}}, nil
}

// Capabilities: nothing persists, every mutation is complete on return, no
// files.
func (e *Engine) Capabilities() adapter.Capabilities {
	return adapter.Capabilities{Persistent: false, SyncOnWrite: true, UsesFS: false}
}

// Close drops every shard.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return adapter.ErrClosed
	}
	e.closed = true
	e.shards = nil
	return nil
}

func (e *Engine) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.closed {
		return adapter.ErrClosed
	}
	return nil
}

func (e *Engine) shard(ctx context.Context, name string) (*shard, error) {
	if err := e.check(ctx); err != nil {
		return nil, err
	}
	s, ok := e.shards[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", adapter.ErrShardNotFound, name)
	}
	return s, nil
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
	e.shards[cfg.Name] = &shard{cfg: cfg, tags: map[string][]uint64{}, keys: map[string][]uint64{}, groups: map[string]uint64{}}
	return nil
}

func (e *Engine) DeleteShard(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.shard(ctx, name); err != nil {
		return err
	}
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
		if f.Match(s.cfg) {
			out = append(out, adapter.ShardInfo{Config: s.cfg, NextOffset: uint64(len(s.recs))})
		}
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
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.shard(ctx, name)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	offs := make([]uint64, len(rs))
	for i, r := range rs {
		r = r.Clone()
		r.Offset = uint64(len(s.recs))
		offs[i] = r.Offset
		s.recs = append(s.recs, slot{rec: r, live: true})
		for _, t := range uniq(r.Tags) {
			s.tags[t] = append(s.tags[t], r.Offset)
		}
		if r.Key != "" {
			s.keys[r.Key] = append(s.keys[r.Key], r.Offset)
		}
		if n := len(s.marks); n == 0 || r.Timestamp > s.marks[n-1].ts {
			s.marks = append(s.marks, tsMark{ts: r.Timestamp, offset: r.Offset})
		}
	}
	return offs, nil
}

func uniq(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (e *Engine) ReadByOffset(ctx context.Context, name string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckLimit(limit); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []adapter.Record
	for o := offset; o < uint64(len(s.recs)) && len(out) < limit; o++ {
		if s.recs[o].live {
			out = append(out, s.recs[o].rec.Clone())
		}
	}
	return out, nil
}

func (e *Engine) ReadByTag(ctx context.Context, name, tag string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckTagRead(tag, limit); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []adapter.Record
	offs := s.tags[tag]
	i, _ := slices.BinarySearch(offs, offset)
	for ; i < len(offs) && len(out) < limit; i++ {
		if sl := s.recs[offs[i]]; sl.live {
			out = append(out, sl.rec.Clone())
		}
	}
	return out, nil
}

func (e *Engine) ReadByKey(ctx context.Context, name, key string) (adapter.Record, error) {
	if err := adapter.CheckKey(key); err != nil {
		return adapter.Record{}, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return adapter.Record{}, err
	}
	offs := s.keys[key]
	for i := len(offs) - 1; i >= 0; i-- {
		if sl := s.recs[offs[i]]; sl.live {
			return sl.rec.Clone(), nil
		}
	}
	return adapter.Record{}, fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, name)
}

func (e *Engine) DeleteByOffset(ctx context.Context, name string, offset uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return err
	}
	if offset >= uint64(len(s.recs)) || !s.recs[offset].live {
		return fmt.Errorf("%w: offset %d in shard %q", adapter.ErrNotFound, offset, name)
	}
	s.kill(offset)
	return nil
}

// kill marks a record deleted and drops it from the key index. The tag index
// keeps dead offsets and skips them on read.
func (s *shard) kill(offset uint64) {
	sl := &s.recs[offset]
	sl.live = false
	if k := sl.rec.Key; k != "" {
		s.keys[k] = slices.DeleteFunc(s.keys[k], func(o uint64) bool { return o == offset })
		if len(s.keys[k]) == 0 {
			delete(s.keys, k)
		}
	}
	sl.rec = adapter.Record{Offset: offset}
}

func (e *Engine) DeleteByKey(ctx context.Context, name, key string) error {
	if err := adapter.CheckKey(key); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return err
	}
	offs := slices.Clone(s.keys[key])
	if len(offs) == 0 {
		return fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, name)
	}
	for _, o := range offs {
		s.kill(o)
	}
	return nil
}

func (e *Engine) OffsetByTimestamp(ctx context.Context, name string, ts int64) (uint64, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return 0, err
	}
	// The first record with Timestamp >= ts is the one that raised the
	// running maximum to >= ts; live ones can only come at or after it.
	i := sort.Search(len(s.marks), func(i int) bool { return s.marks[i].ts >= ts })
	if i < len(s.marks) {
		for o := s.marks[i].offset; o < uint64(len(s.recs)); o++ {
			if sl := s.recs[o]; sl.live && sl.rec.Timestamp >= ts {
				return o, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: no record at or after timestamp %d in shard %q", adapter.ErrNotFound, ts, name)
}

func (e *Engine) OffsetByGroup(ctx context.Context, group, name string) (uint64, error) {
	if err := adapter.CheckGroup(group); err != nil {
		return 0, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return 0, err
	}
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
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.shard(ctx, name)
	if err != nil {
		return err
	}
	s.groups[group] = offset
	return nil
}
