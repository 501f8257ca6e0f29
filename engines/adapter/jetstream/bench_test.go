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

// BenchmarkScan reads a 20000-record shard from offset 0 in reads of 1000
// records, as a consumer catching up does, and seeks its last timestamp,
// which scans the whole shard.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	a, err := adapter.Open(jetstream.StorageType, adapter.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		b.Fatal(err)
	}
	const n = 20000
	rs := make([]adapter.Record, 1000)
	for i := 0; i < n; i += len(rs) {
		for j := range rs {
			rs[j] = adapter.Record{Key: fmt.Sprintf("key-%d", (i+j)%1000), Tags: []string{fmt.Sprintf("t%d", j%16)}, Timestamp: int64(i + j), Data: make([]byte, 1024)}
		}
		if _, err := a.BatchWrite(ctx, "s", rs); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("op=read", func(b *testing.B) {
		b.SetBytes(n * 1024)
		for b.Loop() {
			got := 0
			for off := uint64(0); ; {
				rs, err := a.ReadByOffset(ctx, "s", off, 1000)
				if err != nil {
					b.Fatal(err)
				}
				if len(rs) == 0 {
					break
				}
				got += len(rs)
				off = rs[len(rs)-1].Offset + 1
			}
			if got != n {
				b.Fatalf("read %d records, want %d", got, n)
			}
		}
	})
	b.Run("op=ts_seek", func(b *testing.B) {
		for b.Loop() {
			if o, err := a.OffsetByTimestamp(ctx, "s", n-1); err != nil || o != n-1 {
				b.Fatalf("seek: %d, %v", o, err)
			}
		}
	})
}
