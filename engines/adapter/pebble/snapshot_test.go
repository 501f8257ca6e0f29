package pebble_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/pebble"
)

// TestReadByTagSeesDeleteByKeyWhole deletes keys while readers scan a tag
// that every record carries: DeleteByKey removes all of a key's records at
// once, so a reader sees each key's records all or none. Reads that followed
// the tag index into the live store, rather than one snapshot, saw a delete
// half applied.
func TestReadByTagSeesDeleteByKeyWhole(t *testing.T) {
	ctx := context.Background()
	e, err := pebble.Open(adapter.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const shard, keys, perKey = "s", 40, 5
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: shard, StorageType: pebble.StorageType}); err != nil {
		t.Fatal(err)
	}
	var batch []adapter.Record
	for i := range perKey {
		for k := range keys {
			batch = append(batch, adapter.Record{Key: fmt.Sprintf("k%02d", k), Tags: []string{"t"}, Timestamp: int64(i), Data: []byte("x")})
		}
	}
	if _, err := e.BatchWrite(ctx, shard, batch); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				rs, err := e.ReadByTag(ctx, shard, "t", 0, keys*perKey)
				if err != nil {
					errs <- err
					return
				}
				count := map[string]int{}
				for _, r := range rs {
					count[r.Key]++
				}
				for k, n := range count {
					if n != perKey {
						errs <- fmt.Errorf("ReadByTag saw %d of the %d records of key %s: a DeleteByKey half applied", n, perKey, k)
						return
					}
				}
			}
		}()
	}
	for k := range keys {
		if err := e.DeleteByKey(ctx, shard, fmt.Sprintf("k%02d", k)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
