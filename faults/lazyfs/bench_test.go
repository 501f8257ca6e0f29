package lazyfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchDir makes the directory a benchmark runs in: on the plain disk
// under the test's temporary directory, or through lazyfs over a backing
// directory on that same disk.
func benchDir(b *testing.B, fsName string) string {
	b.Helper()
	switch fsName {
	case "disk":
		return b.TempDir()
	case "lazyfs":
		return mountT(b, Options{}).Mountpoint()
	case "lazyfs-nocache":
		return mountT(b, Options{NoKernelCache: true}).Mountpoint()
	case "lazyfs-syncbacking":
		return mountT(b, Options{SyncBacking: true}).Mountpoint()
	}
	b.Fatalf("unknown fs %q", fsName)
	return ""
}

// benchBoltChild puts n 256-byte values into a bbolt file in dir, one
// fsynced Update each, and prints the time the puts took.
func benchBoltChild(dir, n string) int { return benchBolt(dir, n, false) }

// benchBoltNoSyncChild is benchBoltChild with bbolt's NoSync.
func benchBoltNoSyncChild(dir, n string) int { return benchBolt(dir, n, true) }

func benchBolt(dir, n string, noSync bool) int {
	count, err := strconv.Atoi(n)
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 2
	}
	db, err := bolt.Open(filepath.Join(dir, "bench.db"), 0o644, &bolt.Options{Timeout: time.Second, NoSync: noSync})
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	val := make([]byte, 256)
	start := time.Now()
	for i := range count {
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(boltBucket)
			if err != nil {
				return err
			}
			return bk.Put(key(i), val)
		})
		if err != nil {
			fmt.Printf("error %v\n", err)
			return 1
		}
	}
	elapsed := time.Since(start)
	if err := db.Close(); err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	fmt.Printf("elapsed %d\n", elapsed.Nanoseconds())
	return 0
}

// BenchmarkBboltPut is one bbolt Update of one 256-byte value per
// operation, fsynced (bbolt's default) or not (NoSync), on the disk and
// through lazyfs: as it is, and fsyncing its backing copies at each sync
// as the disk run does. bbolt runs in a child process, since it faults on
// its mapping of the file, which the serving process must never do (see
// mmapRead); ns/op includes starting it, ops/s is timed inside it.
func BenchmarkBboltPut(b *testing.B) {
	for _, mode := range []string{"sync", "nosync"} {
		for _, fsName := range []string{"disk", "lazyfs", "lazyfs-syncbacking"} {
			if mode == "nosync" && fsName == "lazyfs-syncbacking" {
				continue
			}
			b.Run("mode="+mode+"/fs="+fsName, func(b *testing.B) {
				dir := benchDir(b, fsName)
				tool := "bench-bolt"
				if mode == "nosync" {
					tool = "bench-bolt-nosync"
				}
				b.ResetTimer()
				out, err := child(tool, dir, b.N).Output()
				if err != nil {
					b.Fatalf("bench child: %v: %s", err, out)
				}
				rest, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "elapsed ")
				ns, perr := strconv.ParseInt(rest, 10, 64)
				if !ok || perr != nil || ns <= 0 {
					b.Fatalf("bench child: %q", out)
				}
				b.ReportMetric(float64(b.N)/time.Duration(ns).Seconds(), "ops/s")
			})
		}
	}
}

// BenchmarkAppendSync appends 4 KiB and fdatasyncs per operation, the
// pattern of a write-ahead log, with the kernel caches on and off.
func BenchmarkAppendSync(b *testing.B) {
	for _, fsName := range []string{"disk", "lazyfs", "lazyfs-syncbacking", "lazyfs-nocache"} {
		b.Run("fs="+fsName, func(b *testing.B) {
			dir := benchDir(b, fsName)
			fh, err := os.Create(filepath.Join(dir, "wal"))
			if err != nil {
				b.Fatal(err)
			}
			defer fh.Close()
			buf := make([]byte, blockSize)
			b.SetBytes(blockSize)
			b.ResetTimer()
			for range b.N {
				if _, err := fh.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := fh.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
