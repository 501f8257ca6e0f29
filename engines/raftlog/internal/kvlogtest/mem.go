package kvlogtest

import (
	"maps"
	"slices"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvcodec"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
)

// MemBackend is a kvlog.Backend in memory: the reference the tests of kvlog
// and of these test bodies run against. Every batch is durable once
// applied. Its data is a MemData, which outlives it, so that a Store
// reopened over the same MemData finds what the last one left.
type MemBackend struct {
	d *MemData
}

var _ kvlog.Backend = (*MemBackend)(nil)

// NewMemBackend returns a backend over d.
func NewMemBackend(d *MemData) *MemBackend { return &MemBackend{d: d} }

// MemData is what a MemBackend stores, with faults to inject and a record of
// the batches applied. Its methods may be called concurrently.
type MemData struct {
	mu   sync.RWMutex
	log  map[uint64][]byte
	meta map[kvlog.MetaKey][]byte

	applyErr, syncErr, closeErr error
	applied                     []Applied
	syncs                       int
}

// Applied is a batch a MemBackend was given, with its sync argument.
type Applied struct {
	Batch kvlog.Batch
	Sync  bool
}

// NewMemData returns empty data.
func NewMemData() *MemData {
	return &MemData{log: map[uint64][]byte{}, meta: map[kvlog.MetaKey][]byte{}}
}

// Fail makes later calls of Apply, Sync and Close return these errors; nil
// lets them succeed.
func (d *MemData) Fail(apply, sync, close error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applyErr, d.syncErr, d.closeErr = apply, sync, close
}

// Applied returns the batches applied since the last call, failed or not,
// and forgets them.
func (d *MemData) Applied() []Applied {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.applied
	d.applied = nil
	return out
}

// Syncs returns how many times Sync was called.
func (d *MemData) Syncs() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.syncs
}

// Put stores value at a place behind any Store, or deletes it if value is
// nil.
func (d *MemData) Put(at Place, value []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case at.Entry != 0 && value == nil:
		delete(d.log, at.Entry)
	case at.Entry != 0:
		d.log[at.Entry] = slices.Clone(value)
	case value == nil:
		delete(d.meta, at.Meta)
	default:
		d.meta[at.Meta] = slices.Clone(value)
	}
}

func (m *MemBackend) Apply(b *kvlog.Batch, sync bool) error {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	rec := *b
	rec.Append = slices.Clone(b.Append)
	d.applied = append(d.applied, Applied{Batch: rec, Sync: sync})
	if d.applyErr != nil {
		return d.applyErr
	}
	if r := b.Delete; r != nil {
		maps.DeleteFunc(d.log, func(i uint64, _ []byte) bool { return i >= r.From && i <= r.To })
	}
	for _, ent := range b.Append {
		d.log[ent.Index] = kvcodec.AppendEntry(nil, ent)
	}
	for _, mv := range b.Meta {
		if mv.Value == nil {
			delete(d.meta, mv.Key)
		} else {
			d.meta[mv.Key] = slices.Clone(mv.Value)
		}
	}
	return nil
}

func (m *MemBackend) Sync() error {
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	m.d.syncs++
	return m.d.syncErr
}

func (m *MemBackend) GetEntry(index uint64, fn func(v []byte) error) (bool, error) {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	v, ok := m.d.log[index]
	if !ok {
		return false, nil
	}
	return true, fn(v)
}

func (m *MemBackend) GetMeta(key kvlog.MetaKey, fn func(v []byte) error) (bool, error) {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	v, ok := m.d.meta[key]
	if !ok {
		return false, nil
	}
	return true, fn(v)
}

func (m *MemBackend) ScanLog(lo, hi uint64, fn func(index uint64, v []byte) error) error {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	for _, i := range slices.Sorted(maps.Keys(m.d.log)) {
		if i < lo || i > hi {
			continue
		}
		if err := fn(i, m.d.log[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *MemBackend) LogBounds() (first, last uint64, ok bool, err error) {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	if len(m.d.log) == 0 {
		return 0, 0, false, nil
	}
	ix := slices.Sorted(maps.Keys(m.d.log))
	return ix[0], ix[len(ix)-1], true, nil
}

func (m *MemBackend) Close() error {
	m.d.mu.RLock()
	defer m.d.mu.RUnlock()
	return m.d.closeErr
}
