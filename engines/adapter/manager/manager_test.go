package manager_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/manager"
	"github.com/ordeal-dev/ordeal/engines/adapter/memory"
)

// opened counts how often the "counting" engine was opened.
var opened atomic.Int64

func init() {
	adapter.Register("counting", func(o adapter.Options) (adapter.StorageAdapter, error) {
		opened.Add(1)
		return memory.Open(adapter.Options{})
	})
}

func TestDriverOpenedOnceUnderConcurrentFirstUse(t *testing.T) {
	opened.Store(0)
	m, err := manager.Open(adapter.Options{Dir: "/m", FS: vfs.NewMem(), Params: map[string]string{"storage_types": "counting,memory"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if n := opened.Load(); n != 0 {
		t.Fatalf("driver opened %d times before first use", n)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("s%d", i)
			if err := m.CreateShard(ctx, adapter.ShardConfig{Name: name, StorageType: "counting"}); err != nil {
				errs <- err
				return
			}
			if _, err := m.Write(ctx, name, adapter.Record{Data: []byte("x")}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("driver opened %d times by 16 concurrent first uses, want 1", n)
	}
	infos, err := m.ListShards(ctx, adapter.ShardFilter{StorageType: "counting"})
	if err != nil || len(infos) != 16 {
		t.Fatalf("list counting shards: %d, %v", len(infos), err)
	}
}

func TestUnknownStorageType(t *testing.T) {
	m, err := manager.Open(adapter.Options{Dir: "/m", FS: vfs.NewMem(), Params: map[string]string{"storage_types": "memory"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, typ := range []string{"", "nope", "manager", "counting"} {
		err := m.CreateShard(context.Background(), adapter.ShardConfig{Name: "s", StorageType: typ})
		if !errors.Is(err, adapter.ErrUnknownStorageType) {
			t.Fatalf("create with storage type %q: got %v, want ErrUnknownStorageType", typ, err)
		}
	}
	if _, err := manager.Open(adapter.Options{Dir: "/m2", FS: vfs.NewMem(), Params: map[string]string{"storage_types": "memory,nope"}}); !errors.Is(err, adapter.ErrUnknownStorageType) {
		t.Fatalf("open with an unknown storage type: %v", err)
	}
	if _, err := manager.Open(adapter.Options{Dir: "/m3", FS: vfs.NewMem(), Params: map[string]string{"bogus": "1"}}); !errors.Is(err, adapter.ErrBadOption) {
		t.Fatalf("open with an unknown parameter: %v", err)
	}
}

func TestRoutingSurvivesRestart(t *testing.T) {
	fs := vfs.NewMem()
	o := adapter.Options{Dir: "/m", FS: fs, Params: map[string]string{"storage_types": "segment,pebble,memory"}}
	m, err := manager.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []adapter.ShardConfig{{Name: "a", StorageType: "segment"}, {Name: "b", StorageType: "pebble"}, {Name: "c", StorageType: "memory"}} {
		if err := m.CreateShard(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Write(ctx, c.Name, adapter.Record{Data: []byte(c.StorageType)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = manager.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	infos, err := m.ListShards(ctx, adapter.ShardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, in := range infos {
		got[in.Config.Name] = in.Config.StorageType
	}
	if len(got) != 2 || got["a"] != "segment" || got["b"] != "pebble" {
		t.Fatalf("shards after restart: %v, want a on segment and b on pebble (memory keeps nothing)", got)
	}
	for _, name := range []string{"a", "b"} {
		rs, err := m.ReadByOffset(ctx, name, 0, 10)
		if err != nil || len(rs) != 1 || string(rs[0].Data) != got[name] {
			t.Fatalf("read %s after restart: %v, %v", name, rs, err)
		}
	}
	if _, err := m.ReadByOffset(ctx, "c", 0, 10); !errors.Is(err, adapter.ErrShardNotFound) {
		t.Fatalf("memory shard after restart: %v", err)
	}
	// The name of a shard lost with the memory engine can be taken again.
	if err := m.CreateShard(ctx, adapter.ShardConfig{Name: "c", StorageType: "pebble"}); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateShard(ctx, adapter.ShardConfig{Name: "a", StorageType: "pebble"}); !errors.Is(err, adapter.ErrShardExists) {
		t.Fatalf("create a shard that exists on another engine: %v", err)
	}
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	m, err := manager.Open(adapter.Options{Dir: "/m", FS: vfs.NewMem(), Params: map[string]string{"storage_types": "memory,counting"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			typ := []string{"memory", "counting"}[i%2]
			err := m.CreateShard(context.Background(), adapter.ShardConfig{Name: "x", StorageType: typ})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, adapter.ErrShardExists):
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d concurrent creates of one name succeeded, want 1", n)
	}
	infos, err := m.ListShards(context.Background(), adapter.ShardFilter{Name: "x"})
	if err != nil || len(infos) != 1 {
		t.Fatalf("shard x is listed %d times (%v), want once", len(infos), err)
	}
}
