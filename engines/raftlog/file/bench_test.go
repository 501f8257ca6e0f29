package file

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// openBench opens the engine on the operating system's files.
func openBench(b *testing.B, params map[string]string) *Engine {
	b.Helper()
	e, err := Open(raftlog.Options{Dir: b.TempDir(), Params: params})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e
}

// BenchmarkPersist appends batches, each synced, and reports entries/s.
func BenchmarkPersist(b *testing.B) {
	for _, c := range []struct {
		size, batch int
		prealloc    string
	}{{128, 1, "auto"}, {1024, 64, "auto"}, {1024, 64, "off"}, {16384, 1024, "auto"}} {
		b.Run(fmt.Sprintf("size=%d/batch=%d/preallocate=%s/engine=file", c.size, c.batch, c.prealloc), func(b *testing.B) {
			e := openBench(b, map[string]string{ParamPreallocate: c.prealloc})
			batch := makeBatch(1, c.batch, 1, c.size)
			b.SetBytes(int64(c.size * c.batch))
			b.ReportAllocs()
			b.ResetTimer()
			next := uint64(1)
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j].Index = next + uint64(j)
				}
				if err := e.PersistEntries(batch); err != nil {
					b.Fatal(err)
				}
				next += uint64(c.batch)
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// fill appends n entries of size bytes in batches of 64.
func fill(b *testing.B, e *Engine, n, size int) {
	b.Helper()
	for lo := uint64(1); lo <= uint64(n); lo += 64 {
		if err := e.PersistEntries(makeBatch(lo, int(min(64, uint64(n)+1-lo)), 1, size)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	for _, size := range []int{128, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			e := openBench(b, nil)
			fill(b, e, 20000, size)
			b.Run("op=entry", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := e.Entry(uint64(1 + i%20000)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("op=entries/n=10000", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if got, err := e.Entries(5001, 15000); err != nil || len(got) != 10000 {
						b.Fatal(len(got), err)
					}
				}
			})
			b.Run("op=lastindex", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if e.LastIndex() != 20000 {
						b.Fatal("wrong last index")
					}
				}
			})
		})
	}
}

// BenchmarkMaintenance times purge of 10k entries, truncate and reset, each
// on a freshly filled log (the fill is not timed).
func BenchmarkMaintenance(b *testing.B) {
	for _, op := range []string{"purge", "truncate", "reset"} {
		b.Run("op="+op+"/n=10000", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e, err := Open(raftlog.Options{Dir: b.TempDir(), Params: map[string]string{ParamSegmentSize: "1MiB"}})
				if err != nil {
					b.Fatal(err)
				}
				fill(b, e, 20000, 1024)
				b.StartTimer()
				switch op {
				case "purge":
					err = e.Purge(raftlog.LogID{Index: 10000, Term: 1})
				case "truncate":
					err = e.Truncate(10001)
				case "reset":
					err = e.Reset()
				}
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				_ = e.Close()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSaveHardState saves a hard state per iteration, each durable on
// return, and reports the p99 latency alongside the mean.
func BenchmarkSaveHardState(b *testing.B) {
	e := openBench(b, nil)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hs := raftlog.HardState{Term: uint64(i/16 + 1), Vote: raftlog.Vote{Term: uint64(i/16 + 1), Candidate: "node-2"}, Commit: uint64(i)}
		start := time.Now()
		if err := e.SaveHardState(hs); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
