// Package memory is the reference streams.Store: every record in maps, one
// lock, nothing persisted. It is registered as "memory".
package memory

import (
	"sort"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
)

func init() {
	streams.Register("memory", func(o streams.Options) (streams.Store, error) { return Open(o) })
}

// Open returns an empty in-memory store. It takes no parameters.
func Open(o streams.Options) (*core.Store, error) {
	if err := streams.CheckParams("memory", o.Params); err != nil {
		return nil, err
	}
	b := &backend{metas: map[string]*core.Meta{}, msgs: map[string][]streams.Message{}}
	return core.New(b, core.Options{
		Clock: o.Clock, MaxTotalBytes: o.MaxTotalBytes, MaxStreamBytes: o.MaxStreamBytes,
	})
}

type backend struct {
	mu    sync.RWMutex
	metas map[string]*core.Meta
	msgs  map[string][]streams.Message
}

func (b *backend) Shards() int                                { return 1 }
func (b *backend) ShardOf(string) int                         { return 0 }
func (b *backend) Close() error                               { return nil }
func (b *backend) Append(_ int, fn func(core.Tx) error) error { return b.Update(0, fn) }

func (b *backend) Update(_ int, fn func(core.Tx) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	tx := &tx{b: b, metas: map[string]*core.Meta{}, deleted: map[string]bool{}, msgs: map[string][]streams.Message{}}
	if err := fn(tx); err != nil {
		return err
	}
	for name := range tx.deleted {
		delete(b.metas, name)
		delete(b.msgs, name)
	}
	for name, m := range tx.metas {
		b.metas[name] = m
	}
	for name, ms := range tx.msgs {
		b.msgs[name] = append(b.msgs[name], ms...)
	}
	return nil
}

func (b *backend) View(_ int, fn func(core.Tx) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return fn(&tx{b: b})
}

// tx stages the writes of an update until it commits.
type tx struct {
	b       *backend
	metas   map[string]*core.Meta
	deleted map[string]bool
	msgs    map[string][]streams.Message
}

func (t *tx) Meta(name string) (*core.Meta, error) {
	if m, ok := t.metas[name]; ok {
		return m.Clone(), nil
	}
	if t.deleted[name] {
		return nil, nil
	}
	if m, ok := t.b.metas[name]; ok {
		return m.Clone(), nil
	}
	return nil, nil
}

func (t *tx) PutMeta(name string, m *core.Meta) error {
	t.metas[name] = m.Clone()
	return nil
}

func (t *tx) Delete(name string) error {
	t.deleted[name] = true
	delete(t.metas, name)
	delete(t.msgs, name)
	return nil
}

func (t *tx) PutMsg(name string, at streams.Offset, data []byte) error {
	t.msgs[name] = append(t.msgs[name], streams.Message{Offset: at, Data: append([]byte(nil), data...)})
	return nil
}

func (t *tx) Msgs(name string, from streams.Offset, upTo *streams.Offset) ([]streams.Message, error) {
	var all []streams.Message
	if !t.deleted[name] {
		all = t.b.msgs[name]
	}
	i := sort.Search(len(all), func(i int) bool { return all[i].Offset.Compare(from) >= 0 })
	var out []streams.Message
	for _, m := range append(all[i:len(all):len(all)], t.msgs[name]...) {
		if m.Offset.Compare(from) < 0 {
			continue
		}
		if upTo != nil && m.Offset.Compare(*upTo) >= 0 {
			break
		}
		out = append(out, streams.Message{Offset: m.Offset, Data: append([]byte(nil), m.Data...)})
	}
	return out, nil
}

func (t *tx) ForEach(fn func(string, *core.Meta) error) error {
	for name, m := range t.b.metas {
		if err := fn(name, m.Clone()); err != nil {
			return err
		}
	}
	return nil
}
