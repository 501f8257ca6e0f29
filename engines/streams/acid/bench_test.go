package acid_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
)

// BenchmarkAppend measures durable appends (every commit fsyncs) of 100
// bytes, each appender on its own stream, all in one shard so that the
// appenders contend for one file. group_commit=false commits each append
// alone, for comparison.
//
//	go test ./engines/streams/acid -run '^$' -bench Append -benchtime 2000x
func BenchmarkAppend(b *testing.B) {
	for _, group := range []bool{true, false} {
		for _, n := range []int{1, 16} {
			b.Run(fmt.Sprintf("group_commit=%v/appenders=%d", group, n), func(b *testing.B) {
				benchAppend(b, n, map[string]string{"shards": "1", "group_commit": fmt.Sprint(group)})
			})
		}
	}
}

func benchAppend(b *testing.B, appenders int, params map[string]string) {
	s, err := acid.Open(streams.Options{Dir: b.TempDir(), Params: params})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < appenders; i++ {
		if _, err := s.Create(fmt.Sprint("s", i), streams.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	data := make([]byte, 100)
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.SetBytes(int64(len(data)))
	acid.GroupStats()
	b.ResetTimer()
	for i := 0; i < appenders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("s", i)
			for left.Add(-1) >= 0 {
				if _, err := s.Append(name, data, streams.AppendOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	if batches, appends := acid.GroupStats(); batches > 0 {
		b.ReportMetric(float64(appends)/float64(batches), "appends/commit")
	}
}
