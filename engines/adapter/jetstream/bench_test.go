package jetstream_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/jetstream"
)

// BenchmarkBatchWrite appends batches of 1 KiB records to one shard, per
// engine and batch size.
func BenchmarkBatchWrite(b *testing.B) {
	for _, batch := range []int{1, 100} {
		for _, engine := range []string{jetstream.StorageType, jetstream.SyncAlways} {
			b.Run(fmt.Sprintf("batch=%d/engine=%s", batch, engine), func(b *testing.B) {
				ctx := context.Background()
				a, err := adapter.Open(engine, adapter.Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer a.Close()
				if err := a.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
					b.Fatal(err)
				}
				rs := make([]adapter.Record, batch)
				for i := range rs {
					rs[i] = adapter.Record{Key: fmt.Sprintf("key-%d", i%16), Tags: []string{"t"}, Data: make([]byte, 1024)}
				}
				b.SetBytes(int64(batch * 1024))
				for b.Loop() {
					if _, err := a.BatchWrite(ctx, "s", rs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
