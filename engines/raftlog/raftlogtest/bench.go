package raftlogtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// benchLog is the size of the log the read, purge, truncate and reset
// benchmarks work on.
const benchLog = 10_000

// persistBudget bounds what one persist benchmark writes into one engine
// before it replaces it (outside the timer) with a fresh one in a new
// directory, so that large entries in large batches do not fill the disk.
const persistBudget = 64 << 20

// benchCase is one benchmark of the shared body. Its name is the key=value
// part before engine=.
type benchCase struct {
	name string
	run  func(b *testing.B, h Harness)
}

func benchCases() []benchCase {
	var out []benchCase
	for _, size := range []int{128, 1 << 10, 16 << 10} {
		for _, batch := range []int{1, 64, 1024} {
			out = append(out, benchCase{
				name: fmt.Sprintf("op=persist/entry=%s/batch=%d", sizeName(size), batch),
				run:  func(b *testing.B, h Harness) { benchPersist(b, h, size, batch) },
			})
		}
	}
	return append(out,
		benchCase{"op=entry/log=10k/entry=1KiB", benchEntry},
		benchCase{"op=entries/log=10k/entry=128B", func(b *testing.B, h Harness) { benchEntries(b, h, 128) }},
		benchCase{"op=entries/log=10k/entry=1KiB", func(b *testing.B, h Harness) { benchEntries(b, h, 1<<10) }},
		benchCase{"op=purge/log=10k/entry=128B", benchPurge},
		benchCase{"op=truncate/log=10k/entries=1000/entry=128B", benchTruncate},
		benchCase{"op=reset/log=10k/entry=128B", benchReset},
		benchCase{"op=last_index/log=10k/entry=128B", benchLastIndex},
	)
}

// Benchmark runs the shared benchmark body over every harness: each
// sub-benchmark is named op=.../engine=Name so that benchstat can slice the
// results by any key. Every engine runs on a fresh directory of the
// operating system's file system (b.TempDir, vfs.Default). A benchmark of a
// mutation on an engine without SyncOnWrite flushes after each operation, so
// that every engine is measured making its changes durable.
//
// The persist benchmarks report bytes/s (b.SetBytes) and entries/s. The
// purge, truncate and reset benchmarks rebuild their log between operations
// and report as ns/op the time of the operation alone.
func Benchmark(b *testing.B, hs ...Harness) {
	for _, bc := range benchCases() {
		for _, h := range hs {
			b.Run(bc.name+"/engine="+h.Name, func(b *testing.B) { bc.run(b, h) })
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// benchEngine opens h on a fresh directory and closes it after the
// benchmark.
func benchEngine(b *testing.B, h Harness) (raftlog.Engine, bool) {
	b.Helper()
	e := openBench(b, h, b.TempDir())
	b.Cleanup(func() {
		if err := e.Close(); err != nil {
			b.Errorf("close engine %s: %v", h.Name, err)
		}
	})
	return e, e.Capabilities().SyncOnWrite
}

func openBench(b *testing.B, h Harness, dir string) raftlog.Engine {
	b.Helper()
	e, err := h.Open(raftlog.Options{Dir: dir, FS: vfs.Default})
	if err != nil {
		b.Fatalf("open engine %s: %v", h.Name, err)
	}
	return e
}

// benchData is the payload every benchmark entry of a size carries.
func benchData(size int) []byte {
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	out := make([]byte, size)
	for i := range out {
		out[i] = byte(rng.Uint32())
	}
	return out
}

// fill appends n entries of size bytes from index lo in batches, and makes
// them durable.
func fill(b *testing.B, e raftlog.Engine, lo uint64, n, size int) {
	b.Helper()
	data := benchData(size)
	const batch = 1000
	ents := make([]raftlog.Entry, 0, batch)
	for i := 0; i < n; i += batch {
		ents = ents[:0]
		for k := i; k < min(i+batch, n); k++ {
			ents = append(ents, raftlog.Entry{Index: lo + uint64(k), Term: 1, Data: data})
		}
		if err := e.Log().PersistEntries(ents); err != nil {
			b.Fatalf("fill the log at %d: %v", ents[0].Index, err)
		}
	}
	if err := e.Log().Flush(); err != nil {
		b.Fatalf("flush the filled log: %v", err)
	}
}

// durable flushes after a mutation on an engine without SyncOnWrite.
func durable(b *testing.B, ls raftlog.LogStore, syncOnWrite bool) {
	if syncOnWrite {
		return
	}
	if err := ls.Flush(); err != nil {
		b.Fatalf("flush: %v", err)
	}
}

func benchPersist(b *testing.B, h Harness, size, batch int) {
	base := b.TempDir()
	gen := 0
	open := func() raftlog.Engine {
		gen++
		return openBench(b, h, filepath.Join(base, strconv.Itoa(gen)))
	}
	e := open()
	defer func() {
		if err := e.Close(); err != nil {
			b.Errorf("close engine %s: %v", h.Name, err)
		}
	}()
	syncOnWrite := e.Capabilities().SyncOnWrite
	data := benchData(size)
	ents := make([]raftlog.Entry, batch)
	next, written := uint64(1), 0
	b.SetBytes(int64(size * batch))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if written > 0 && written+size*batch > persistBudget {
			b.StopTimer()
			if err := e.Close(); err != nil {
				b.Fatalf("close engine %s after %d bytes: %v", h.Name, written, err)
			}
			if err := os.RemoveAll(filepath.Join(base, strconv.Itoa(gen))); err != nil {
				b.Fatalf("remove the full engine directory: %v", err)
			}
			e = open()
			next, written = 1, 0
			b.StartTimer()
		}
		for k := range ents {
			ents[k] = raftlog.Entry{Index: next + uint64(k), Term: 1, Data: data}
		}
		if err := e.Log().PersistEntries(ents); err != nil {
			b.Fatalf("persist %d entries at %d: %v", batch, next, err)
		}
		durable(b, e.Log(), syncOnWrite)
		next += uint64(batch)
		written += size * batch
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)*float64(batch)/s, "entries/s")
	}
}

func benchEntry(b *testing.B, h Harness) {
	e, _ := benchEngine(b, h)
	fill(b, e, 1, benchLog, 1<<10)
	ls := e.Log()
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(1 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := 1 + rng.Uint64N(benchLog)
		if _, err := ls.Entry(idx); err != nil {
			b.Fatalf("Entry(%d): %v", idx, err)
		}
	}
}

func benchEntries(b *testing.B, h Harness, size int) {
	e, _ := benchEngine(b, h)
	fill(b, e, 1, benchLog, size)
	ls := e.Log()
	b.SetBytes(benchLog * int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := ls.Entries(1, benchLog)
		if err != nil || len(got) != benchLog {
			b.Fatalf("Entries(1, %d) = %d entries, %v", benchLog, len(got), err)
		}
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)*benchLog/s, "entries/s")
	}
}

// reportOp replaces ns/op with the time of the measured operation alone.
func reportOp(b *testing.B, spent time.Duration, entriesPerOp int) {
	b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "ns/op")
	if entriesPerOp > 0 && spent > 0 {
		b.ReportMetric(float64(b.N)*float64(entriesPerOp)/spent.Seconds(), "entries/s")
	}
}

func benchPurge(b *testing.B, h Harness) {
	e, syncOnWrite := benchEngine(b, h)
	ls := e.Log()
	var spent time.Duration
	next := uint64(1)
	for i := 0; i < b.N; i++ {
		fill(b, e, next, benchLog, 128)
		next += benchLog
		start := time.Now()
		if err := ls.Purge(raftlog.LogID{Index: next - 1, Term: 1}); err != nil {
			b.Fatalf("Purge(%d): %v", next-1, err)
		}
		durable(b, ls, syncOnWrite)
		spent += time.Since(start)
	}
	reportOp(b, spent, benchLog)
}

func benchTruncate(b *testing.B, h Harness) {
	const cut = 1000
	e, syncOnWrite := benchEngine(b, h)
	ls := e.Log()
	fill(b, e, 1, benchLog, 128)
	var spent time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := ls.Truncate(benchLog - cut + 1); err != nil {
			b.Fatalf("Truncate(%d): %v", benchLog-cut+1, err)
		}
		durable(b, ls, syncOnWrite)
		spent += time.Since(start)
		fill(b, e, benchLog-cut+1, cut, 128)
	}
	reportOp(b, spent, cut)
}

func benchReset(b *testing.B, h Harness) {
	e, syncOnWrite := benchEngine(b, h)
	ls := e.Log()
	var spent time.Duration
	for i := 0; i < b.N; i++ {
		fill(b, e, 1, benchLog, 128)
		start := time.Now()
		if err := ls.Reset(); err != nil {
			b.Fatalf("Reset: %v", err)
		}
		durable(b, ls, syncOnWrite)
		spent += time.Since(start)
	}
	reportOp(b, spent, benchLog)
}

func benchLastIndex(b *testing.B, h Harness) {
	e, _ := benchEngine(b, h)
	fill(b, e, 1, benchLog, 128)
	ls := e.Log()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ls.LastIndex() != benchLog {
			b.Fatalf("LastIndex() = %d, want %d", ls.LastIndex(), benchLog)
		}
	}
}
