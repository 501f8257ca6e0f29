package adapterwl

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// goMap is the in-memory floor: a map of shards, each a slice of records
// with a key map, a tag map and a group map, under one lock per shard. It
// copies a record's data on write (any store must) but validates nothing,
// keeps no tombstones and returns records that share their data with it.
// It serves the family's driver only; it is not in the adapter registry and
// does not pass the conformance suite.
type goMap struct {
	mu     sync.RWMutex
	shards map[string]*goShard
}

type goShard struct {
	mu     sync.RWMutex
	cfg    adapter.ShardConfig
	recs   []adapter.Record
	keys   map[string][]uint64
	tags   map[string][]uint64
	groups map[string]uint64
}

var _ adapter.StorageAdapter = (*goMap)(nil)

func newGoMap() *goMap { return &goMap{shards: map[string]*goShard{}} }

func (m *goMap) shard(name string) (*goShard, error) {
	m.mu.RLock()
	s, ok := m.shards[name]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", adapter.ErrShardNotFound, name)
	}
	return s, nil
}

func (m *goMap) CreateShard(_ context.Context, cfg adapter.ShardConfig) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.shards[cfg.Name]; ok {
		return fmt.Errorf("%w: %s", adapter.ErrShardExists, cfg.Name)
	}
	m.shards[cfg.Name] = &goShard{cfg: cfg, keys: map[string][]uint64{}, tags: map[string][]uint64{}, groups: map[string]uint64{}}
	return nil
}

func (m *goMap) DeleteShard(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.shards[name]; !ok {
		return fmt.Errorf("%w: %s", adapter.ErrShardNotFound, name)
	}
	delete(m.shards, name)
	return nil
}

func (m *goMap) ListShards(_ context.Context, f adapter.ShardFilter) ([]adapter.ShardInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []adapter.ShardInfo
	for _, s := range m.shards {
		if f.Match(s.cfg) {
			s.mu.RLock()
			out = append(out, adapter.ShardInfo{Config: s.cfg, NextOffset: uint64(len(s.recs))})
			s.mu.RUnlock()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Config.Name < out[j].Config.Name })
	return out, nil
}

func (m *goMap) Write(ctx context.Context, shard string, r adapter.Record) (uint64, error) {
	offs, err := m.BatchWrite(ctx, shard, []adapter.Record{r})
	if err != nil {
		return 0, err
	}
	return offs[0], nil
}

func (m *goMap) BatchWrite(_ context.Context, shard string, rs []adapter.Record) ([]uint64, error) {
	s, err := m.shard(shard)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	offs := make([]uint64, len(rs))
	for i, r := range rs {
		off := uint64(len(s.recs))
		r.Offset = off
		r.Data = slices.Clone(r.Data)
		s.recs = append(s.recs, r)
		if r.Key != "" {
			s.keys[r.Key] = append(s.keys[r.Key], off)
		}
		for _, t := range r.Tags {
			s.tags[t] = append(s.tags[t], off)
		}
		offs[i] = off
	}
	return offs, nil
}

func (m *goMap) ReadByOffset(_ context.Context, shard string, offset uint64, limit int) ([]adapter.Record, error) {
	s, err := m.shard(shard)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := uint64(len(s.recs))
	if offset >= n {
		return nil, nil
	}
	return slices.Clone(s.recs[offset:min(n, offset+uint64(max(0, limit)))]), nil
}

func (m *goMap) ReadByTag(_ context.Context, shard, tag string, offset uint64, limit int) ([]adapter.Record, error) {
	s, err := m.shard(shard)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	offs := s.tags[tag]
	i, _ := slices.BinarySearch(offs, offset)
	var out []adapter.Record
	for ; i < len(offs) && len(out) < limit; i++ {
		out = append(out, s.recs[offs[i]])
	}
	return out, nil
}

func (m *goMap) ReadByKey(_ context.Context, shard, key string) (adapter.Record, error) {
	s, err := m.shard(shard)
	if err != nil {
		return adapter.Record{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	offs := s.keys[key]
	if len(offs) == 0 {
		return adapter.Record{}, fmt.Errorf("%w: key %q", adapter.ErrNotFound, key)
	}
	return s.recs[offs[len(offs)-1]], nil
}

// DeleteByOffset and DeleteByKey are not part of what the baseline
// measures: it keeps no tombstones.
func (m *goMap) DeleteByOffset(context.Context, string, uint64) error {
	return fmt.Errorf("%w: the gomap baseline does not delete", adapter.ErrInvalidArgument)
}

func (m *goMap) DeleteByKey(context.Context, string, string) error {
	return fmt.Errorf("%w: the gomap baseline does not delete", adapter.ErrInvalidArgument)
}

// OffsetByTimestamp binary-searches the records by timestamp: the family
// writes growing timestamps per shard, which is what makes a plain slice
// enough.
func (m *goMap) OffsetByTimestamp(_ context.Context, shard string, ts int64) (uint64, error) {
	s, err := m.shard(shard)
	if err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.recs), func(i int) bool { return s.recs[i].Timestamp >= ts })
	if i == len(s.recs) {
		return 0, fmt.Errorf("%w: timestamp %d", adapter.ErrNotFound, ts)
	}
	return uint64(i), nil
}

func (m *goMap) OffsetByGroup(_ context.Context, group, shard string) (uint64, error) {
	s, err := m.shard(shard)
	if err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	off, ok := s.groups[group]
	if !ok {
		return 0, fmt.Errorf("%w: group %q", adapter.ErrNotFound, group)
	}
	return off, nil
}

func (m *goMap) CommitOffset(_ context.Context, group, shard string, offset uint64) error {
	s, err := m.shard(shard)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.groups[group] = offset
	s.mu.Unlock()
	return nil
}

func (m *goMap) Capabilities() adapter.Capabilities { return adapter.Capabilities{SyncOnWrite: true} }

func (m *goMap) Close() error { return nil }
