package adapter_test

import (
	"context"
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/memory"
)

// Example opens an engine from the registry, writes to a shard and reads
// it back by offset, tag, key and timestamp.
func Example() {
	ctx := context.Background()
	a, err := adapter.Open("memory", adapter.Options{})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	if err := a.CreateShard(ctx, adapter.ShardConfig{Name: "orders-0", StorageType: "memory"}); err != nil {
		panic(err)
	}
	offs, err := a.BatchWrite(ctx, "orders-0", []adapter.Record{
		{Key: "o1", Tags: []string{"eu"}, Timestamp: 1000, Data: []byte("created")},
		{Key: "o2", Tags: []string{"us"}, Timestamp: 2000, Data: []byte("created")},
		{Key: "o1", Tags: []string{"eu"}, Timestamp: 3000, Data: []byte("paid")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("offsets:", offs)

	eu, _ := a.ReadByTag(ctx, "orders-0", "eu", 0, 10)
	fmt.Println("tagged eu:", len(eu))
	latest, _ := a.ReadByKey(ctx, "orders-0", "o1")
	fmt.Printf("latest o1: %s at %d\n", latest.Data, latest.Offset)
	at, _ := a.OffsetByTimestamp(ctx, "orders-0", 1500)
	fmt.Println("first at or after 1500:", at)

	_ = a.DeleteByOffset(ctx, "orders-0", 2)
	o, _ := a.Write(ctx, "orders-0", adapter.Record{Key: "o3", Timestamp: 4000})
	fmt.Println("next offset after deleting the last record:", o)
	// Output:
	// offsets: [0 1 2]
	// tagged eu: 2
	// latest o1: paid at 2
	// first at or after 1500: 1
	// next offset after deleting the last record: 3
}
