package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/faults"
)

// dataDir is the engine directory on the suite's in-memory file system.
const dataDir = "/data"

// env is one engine under test on its own crashable in-memory file system.
type env struct {
	t    testing.TB
	h    Harness
	mem  *vfs.MemFS
	fs   vfs.FS // mem, or a wrapper around it; nil with Harness.RealDir
	dir  string // the engine's directory
	a    adapter.StorageAdapter
	caps adapter.Capabilities
	ctx  context.Context
}

func newEnv(t testing.TB, h Harness) *env {
	t.Helper()
	e := &env{t: t, h: h, dir: dataDir, ctx: context.Background()}
	if h.RealDir {
		e.dir = t.TempDir()
	} else {
		e.mem = vfs.NewCrashableMem()
		e.fs = e.mem
		prepareDir(t, e.mem)
	}
	e.open()
	t.Cleanup(func() {
		if e.a != nil {
			_ = e.a.Close()
		}
	})
	return e
}

// prepareDir creates dataDir and makes its directory entry durable, so that
// a crash never loses the engine's directory itself.
func prepareDir(t testing.TB, fs vfs.FS) {
	t.Helper()
	if err := fs.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", dataDir, err)
	}
	d, err := fs.OpenDir("/")
	if err != nil {
		t.Fatalf("open /: %v", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatalf("sync /: %v", err)
	}
}

func (e *env) open() {
	e.t.Helper()
	a, err := e.h.Open(adapter.Options{Dir: e.dir, FS: e.fs, Params: e.h.Params})
	if err != nil {
		e.t.Fatalf("%s: open: %v", e.h.Name, err)
	}
	e.a, e.caps = a, a.Capabilities()
}

// reopen closes the engine and opens it again on the same file system.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.a.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.a = nil
	e.open()
}

// crash simulates a power loss: the engine is abandoned (closed, but after
// the clone is taken) and reopened on what the disk kept.
func (e *env) crash(unsyncedPercent int, seed uint64) {
	e.t.Helper()
	e.crashTo(faults.PowerLoss(e.mem, seed, unsyncedPercent))
}

func (e *env) crashTo(clone *vfs.MemFS) {
	e.t.Helper()
	if e.a != nil {
		_ = e.a.Close()
		e.a = nil
	}
	e.mem, e.fs = clone, clone
	e.open()
}

func (e *env) persistent() bool { return e.caps.Persistent }

// skipCrash skips a crash case, saying why, unless power loss and fsync
// failure can reach the engine in process: it is persistent, writes
// through Options.FS, and the harness gives it the in-memory one.
func skipCrash(t testing.TB, h Harness, caps adapter.Capabilities) {
	t.Helper()
	switch {
	case h.RealDir:
		t.Skipf("engine %s runs on the real file system (Harness.RealDir): power loss and fsync failure reach it only from outside its process", h.Name)
	case !caps.Persistent || !caps.UsesFS:
		t.Skipf("engine %s is not persistent through Options.FS", h.Name)
	}
}

// cfg returns the configuration of the i-th shard the case creates.
func (e *env) cfg(name string, i int) adapter.ShardConfig {
	c := adapter.ShardConfig{Name: name}
	if n := len(e.h.StorageTypes); n > 0 {
		c.StorageType = e.h.StorageTypes[i%n]
	}
	return c
}

func (e *env) create(name string, i int) adapter.ShardConfig {
	e.t.Helper()
	c := e.cfg(name, i)
	if err := e.a.CreateShard(e.ctx, c); err != nil {
		e.t.Fatalf("create shard %q: %v", name, err)
	}
	return c
}

func (e *env) write(shard string, r adapter.Record) uint64 {
	e.t.Helper()
	o, err := e.a.Write(e.ctx, shard, r)
	if err != nil {
		e.t.Fatalf("write to %q: %v", shard, err)
	}
	return o
}

func (e *env) batch(shard string, rs []adapter.Record) []uint64 {
	e.t.Helper()
	offs, err := e.a.BatchWrite(e.ctx, shard, rs)
	if err != nil {
		e.t.Fatalf("batch write to %q: %v", shard, err)
	}
	if len(offs) != len(rs) {
		e.t.Fatalf("batch write of %d records returned %d offsets", len(rs), len(offs))
	}
	return offs
}

func (e *env) readAll(shard string) []adapter.Record {
	e.t.Helper()
	rs, err := e.a.ReadByOffset(e.ctx, shard, 0, 1<<30)
	if err != nil {
		e.t.Fatalf("read %q from 0: %v", shard, err)
	}
	return rs
}

func (e *env) info(shard string) adapter.ShardInfo {
	e.t.Helper()
	infos, err := e.a.ListShards(e.ctx, adapter.ShardFilter{Name: shard})
	if err != nil {
		e.t.Fatalf("list shard %q: %v", shard, err)
	}
	if len(infos) != 1 {
		e.t.Fatalf("list shard %q: got %d shards", shard, len(infos))
	}
	return infos[0]
}

// rec makes a record whose content is determined by i and tag.
func rec(i int, key string, tags ...string) adapter.Record {
	return adapter.Record{
		Key:       key,
		Tags:      tags,
		Timestamp: 1_700_000_000_000 + int64(i),
		Headers:   []adapter.Header{{Name: "n", Value: fmt.Appendf(nil, "%d", i)}},
		Data:      fmt.Appendf(nil, "payload-%d-%s", i, key),
	}
}

// same reports whether two records are equal, nil and empty slices alike.
func same(a, b adapter.Record) bool { return reflect.DeepEqual(a.Clone(), b.Clone()) }

func wantRecord(t testing.TB, what string, got, want adapter.Record) {
	t.Helper()
	if !same(got, want) {
		t.Fatalf("%s: got %+v, want %+v", what, got.Clone(), want.Clone())
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func wantOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func offsetsOf(rs []adapter.Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Offset
	}
	return out
}

func withOffset(r adapter.Record, o uint64) adapter.Record {
	r = r.Clone()
	r.Offset = o
	return r
}
