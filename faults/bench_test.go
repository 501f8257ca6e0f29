package faults

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkWriteSync measures a write-ahead log's append and sync through
// FS, passing writes through or holding them, against the bare MemFS.
func BenchmarkWriteSync(b *testing.B) {
	modes := []struct {
		name string
		fs   func(mem *vfs.MemFS) vfs.FS
	}{
		{"bare", func(mem *vfs.MemFS) vfs.FS { return mem }},
		{"pass", func(mem *vfs.MemFS) vfs.FS { return Wrap(mem, ReadEIO(0, 1)) }},
		{"held", func(mem *vfs.MemFS) vfs.FS { return Wrap(mem, NewTrigger(OpSync, syscall.EIO)) }},
	}
	for _, size := range []int{128, 4096} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("size=%d/fs=%s", size, m.name), func(b *testing.B) {
				fs := m.fs(vfs.NewCrashableMem())
				f, err := fs.Create("wal", vfs.WriteCategoryUnspecified)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				rec := make([]byte, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := f.Write(rec); err != nil {
						b.Fatal(err)
					}
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
