// Package manager is the storage driver manager, after RobustMQ's
// StorageDriverManager: an adapter.StorageAdapter that routes each shard to
// the engine named by its ShardConfig.StorageType, so one broker mixes
// storage engines (memory, pebble, segment, or any registered third-party
// engine).
//
// # Drivers
//
// A driver is one engine instance per storage type, opened through the
// adapter registry in its own subdirectory <Dir>/<type> on Options.FS. A
// driver is opened on first use, once: concurrent first uses wait for the
// same open, and a failed open is not remembered (the next use tries again).
// Every request for that type then shares the instance.
//
// # Routing across restarts
//
// The shard-to-type routing is not stored by the manager: at open it asks
// every storage type whose subdirectory exists (so every engine that ever
// kept something on disk) for its shards. The drivers are the single source
// of truth, so a crash can never leave a routing table that disagrees with
// them; the cost is that drivers with data on disk are opened eagerly. A
// shard name found in two drivers is reported as adapter.ErrCorrupt.
// Shards of engines that keep nothing across Close (memory) are gone after a
// restart, as they would be without the manager.
//
// # Parameters
//
// storage_types is a comma-separated list of the types shards may use
// (default: every registered type but the manager itself); a shard of any
// other type is refused with adapter.ErrUnknownStorageType. A parameter
// named <type>.<name> is passed to that type's driver as <name>.
//
// # Capabilities
//
// The manager promises what every allowed type promises, so Capabilities
// opens every allowed driver to ask it.
package manager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// StorageType is the name the manager registers under.
const StorageType = "manager"

func init() {
	adapter.Register(StorageType, func(o adapter.Options) (adapter.StorageAdapter, error) { return Open(o) })
}

// Manager routes shards to drivers by storage type.
type Manager struct {
	dir     string
	fs      vfs.FS
	allowed []string
	params  map[string]map[string]string

	mu      sync.RWMutex // guards closed, drivers, routes, pending
	closed  bool
	drivers map[string]*driver
	routes  map[string]string // shard -> storage type
	pending map[string]bool   // shards being created
}

type driver struct {
	mu sync.Mutex // held while opening
	a  adapter.StorageAdapter
}

var (
	_ adapter.StorageAdapter = (*Manager)(nil)
	_ adapter.Retainer       = (*Manager)(nil)
)

// Open opens the manager in o.Dir and rebuilds the routing from the drivers
// that have data there.
func Open(o adapter.Options) (*Manager, error) {
	m := &Manager{dir: o.Dir, fs: o.FSOrDefault(), params: map[string]map[string]string{},
		drivers: map[string]*driver{}, routes: map[string]string{}, pending: map[string]bool{}}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: manager needs a Dir", adapter.ErrBadOption)
	}
	registered := adapter.Engines()
	m.allowed = slices.DeleteFunc(slices.Clone(registered), func(t string) bool { return t == StorageType })
	for k, v := range o.Params {
		if k == "storage_types" {
			m.allowed = nil
			for _, t := range strings.Split(v, ",") {
				t = strings.TrimSpace(t)
				if t == StorageType || !slices.Contains(registered, t) {
					return nil, fmt.Errorf("%w: storage_types names %q (registered: %v)", adapter.ErrUnknownStorageType, t, registered)
				}
				m.allowed = append(m.allowed, t)
			}
			continue
		}
		typ, name, ok := strings.Cut(k, ".")
		if !ok || !slices.Contains(registered, typ) {
			return nil, fmt.Errorf("%w: manager has no parameter %q (want storage_types or <type>.<name>)", adapter.ErrBadOption, k)
		}
		if m.params[typ] == nil {
			m.params[typ] = map[string]string{}
		}
		m.params[typ][name] = v
	}
	sort.Strings(m.allowed)
	if err := m.makeDir(o.Dir); err != nil {
		return nil, err
	}
	for _, typ := range m.allowed {
		if _, err := m.fs.Stat(m.fs.PathJoin(o.Dir, typ)); err != nil {
			continue
		}
		if err := m.adopt(typ); err != nil {
			_ = m.Close()
			return nil, err
		}
	}
	return m, nil
}

// adopt opens the driver of typ and routes its shards.
func (m *Manager) adopt(typ string) error {
	a, err := m.driver(typ)
	if err != nil {
		return err
	}
	infos, err := a.ListShards(context.Background(), adapter.ShardFilter{})
	if err != nil {
		return fmt.Errorf("manager: list shards of %s: %w", typ, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, in := range infos {
		name := in.Config.Name
		if other, dup := m.routes[name]; dup {
			return fmt.Errorf("%w: shard %q is in both %s and %s", adapter.ErrCorrupt, name, other, typ)
		}
		m.routes[name] = typ
	}
	return nil
}

// driver returns the driver of typ, opening it on first use.
func (m *Manager) driver(typ string) (adapter.StorageAdapter, error) {
	if !slices.Contains(m.allowed, typ) {
		return nil, fmt.Errorf("%w %q (allowed: %v)", adapter.ErrUnknownStorageType, typ, m.allowed)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, adapter.ErrClosed
	}
	d, ok := m.drivers[typ]
	if !ok {
		d = &driver{}
		m.drivers[typ] = d
	}
	m.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.a == nil {
		sub := m.fs.PathJoin(m.dir, typ)
		if err := m.makeDir(sub); err != nil {
			return nil, err
		}
		a, err := adapter.Open(typ, adapter.Options{Dir: sub, FS: m.fs, Params: m.params[typ]})
		if err != nil {
			return nil, fmt.Errorf("manager: open driver %s: %w", typ, err)
		}
		d.a = a
	}
	return d.a, nil
}

// makeDir creates dir and makes its entry in its parent durable, so that a
// power loss never loses a driver's directory whatever the driver does.
func (m *Manager) makeDir(dir string) error {
	if err := m.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("manager: create %s: %w", dir, err)
	}
	d, err := m.fs.OpenDir(m.fs.PathDir(dir))
	if err != nil {
		return fmt.Errorf("manager: open directory %s: %w", m.fs.PathDir(dir), err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("manager: sync directory %s: %w", m.fs.PathDir(dir), err)
	}
	return nil
}

// route returns the driver holding shard.
func (m *Manager) route(ctx context.Context, shard string) (adapter.StorageAdapter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, adapter.ErrClosed
	}
	typ, ok := m.routes[shard]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", adapter.ErrShardNotFound, shard)
	}
	return m.driver(typ)
}

// Capabilities is what every allowed storage type promises.
func (m *Manager) Capabilities() adapter.Capabilities {
	c := adapter.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: true}
	for _, typ := range m.allowed {
		a, err := m.driver(typ)
		if err != nil {
			return adapter.Capabilities{}
		}
		dc := a.Capabilities()
		c.Persistent = c.Persistent && dc.Persistent
		c.SyncOnWrite = c.SyncOnWrite && dc.SyncOnWrite
		c.UsesFS = c.UsesFS && (dc.UsesFS || !dc.Persistent)
	}
	return c
}

// Close closes every open driver.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return adapter.ErrClosed
	}
	m.closed = true
	drivers := m.drivers
	m.drivers = nil
	m.mu.Unlock()
	var errs []error
	for _, typ := range sortedKeys(drivers) {
		d := drivers[typ]
		d.mu.Lock()
		if d.a != nil {
			if err := d.a.Close(); err != nil {
				errs = append(errs, fmt.Errorf("manager: close %s: %w", typ, err))
			}
		}
		d.mu.Unlock()
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (m *Manager) CreateShard(ctx context.Context, cfg adapter.ShardConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !slices.Contains(m.allowed, cfg.StorageType) {
		return fmt.Errorf("%w %q for shard %q (allowed: %v)", adapter.ErrUnknownStorageType, cfg.StorageType, cfg.Name, m.allowed)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return adapter.ErrClosed
	}
	if _, taken := m.routes[cfg.Name]; taken || m.pending[cfg.Name] {
		m.mu.Unlock()
		return fmt.Errorf("%w: %q", adapter.ErrShardExists, cfg.Name)
	}
	m.pending[cfg.Name] = true
	m.mu.Unlock()

	err := func() error {
		a, err := m.driver(cfg.StorageType)
		if err != nil {
			return err
		}
		return a.CreateShard(ctx, cfg)
	}()
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, cfg.Name)
	if err != nil {
		return err
	}
	m.routes[cfg.Name] = cfg.StorageType
	return nil
}

func (m *Manager) DeleteShard(ctx context.Context, name string) error {
	a, err := m.route(ctx, name)
	if err != nil {
		return err
	}
	if err := a.DeleteShard(ctx, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.routes, name)
	return nil
}

func (m *Manager) ListShards(ctx context.Context, f adapter.ShardFilter) ([]adapter.ShardInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, adapter.ErrClosed
	}
	var types []string
	for _, typ := range sortedKeys(m.drivers) {
		if f.StorageType == "" || f.StorageType == typ {
			types = append(types, typ)
		}
	}
	m.mu.RUnlock()
	var out []adapter.ShardInfo
	for _, typ := range types {
		a, err := m.driver(typ)
		if err != nil {
			return nil, err
		}
		infos, err := a.ListShards(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("manager: list shards of %s: %w", typ, err)
		}
		out = append(out, infos...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Config.Name < out[j].Config.Name })
	return out, nil
}

func (m *Manager) Write(ctx context.Context, shard string, r adapter.Record) (uint64, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return 0, err
	}
	return a.Write(ctx, shard, r)
}

func (m *Manager) BatchWrite(ctx context.Context, shard string, rs []adapter.Record) ([]uint64, error) {
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, err
		}
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return nil, err
	}
	return a.BatchWrite(ctx, shard, rs)
}

func (m *Manager) ReadByOffset(ctx context.Context, shard string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckLimit(limit); err != nil {
		return nil, err
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return nil, err
	}
	return a.ReadByOffset(ctx, shard, offset, limit)
}

func (m *Manager) ReadByTag(ctx context.Context, shard, tag string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := adapter.CheckLimit(limit); err != nil {
		return nil, err
	}
	if tag == "" {
		return nil, fmt.Errorf("%w: empty tag", adapter.ErrInvalidArgument)
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return nil, err
	}
	return a.ReadByTag(ctx, shard, tag, offset, limit)
}

func (m *Manager) ReadByKey(ctx context.Context, shard, key string) (adapter.Record, error) {
	if key == "" {
		return adapter.Record{}, fmt.Errorf("%w: empty key", adapter.ErrInvalidArgument)
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return adapter.Record{}, err
	}
	return a.ReadByKey(ctx, shard, key)
}

func (m *Manager) DeleteByOffset(ctx context.Context, shard string, offset uint64) error {
	a, err := m.route(ctx, shard)
	if err != nil {
		return err
	}
	return a.DeleteByOffset(ctx, shard, offset)
}

func (m *Manager) DeleteByKey(ctx context.Context, shard, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", adapter.ErrInvalidArgument)
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return err
	}
	return a.DeleteByKey(ctx, shard, key)
}

func (m *Manager) OffsetByTimestamp(ctx context.Context, shard string, ts int64) (uint64, error) {
	a, err := m.route(ctx, shard)
	if err != nil {
		return 0, err
	}
	return a.OffsetByTimestamp(ctx, shard, ts)
}

func (m *Manager) OffsetByGroup(ctx context.Context, group, shard string) (uint64, error) {
	if group == "" {
		return 0, fmt.Errorf("%w: empty group", adapter.ErrInvalidArgument)
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return 0, err
	}
	return a.OffsetByGroup(ctx, group, shard)
}

func (m *Manager) CommitOffset(ctx context.Context, group, shard string, offset uint64) error {
	if group == "" {
		return fmt.Errorf("%w: empty group", adapter.ErrInvalidArgument)
	}
	a, err := m.route(ctx, shard)
	if err != nil {
		return err
	}
	return a.CommitOffset(ctx, group, shard, offset)
}

// Retain passes now to every open driver that implements adapter.Retainer.
func (m *Manager) Retain(ctx context.Context, now time.Time) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return adapter.ErrClosed
	}
	types := sortedKeys(m.drivers)
	m.mu.RUnlock()
	for _, typ := range types {
		a, err := m.driver(typ)
		if err != nil {
			return err
		}
		if r, ok := a.(adapter.Retainer); ok {
			if err := r.Retain(ctx, now); err != nil {
				return fmt.Errorf("manager: retain %s: %w", typ, err)
			}
		}
	}
	return nil
}
