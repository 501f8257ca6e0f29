package faults

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// TestOverlayAgainstModel drives one file through random writes, positioned
// writes, good and failed syncs, and checks every read, Stat and power loss
// against a model that keeps two byte slices: the content reads should see,
// and the content as of the last good sync.
func TestOverlayAgainstModel(t *testing.T) {
	seeds, steps := 40, 150
	if testing.Short() {
		seeds = 10
	}
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 1))
		trig := NewTrigger(OpSync, syscall.EIO)
		disk := NewDisk(trig)
		fs := disk.FS()
		w, err := fs.Create("f", vfs.WriteCategoryUnspecified)
		require.NoError(t, err)
		syncDir(t, fs, "")
		r, err := fs.Open("f")
		require.NoError(t, err)

		var cur, synced []byte
		var pos int64
		put := func(p []byte, off int64) {
			if end := off + int64(len(p)); end > int64(len(cur)) {
				cur = append(cur, make([]byte, end-int64(len(cur)))...)
			}
			copy(cur[off:], p)
		}
		for step := range steps {
			data := make([]byte, rng.IntN(2*BlockSize)+1)
			for i := range data {
				data[i] = byte(rng.IntN(255) + 1)
			}
			switch op := rng.IntN(10); {
			case op < 3:
				_, err := w.Write(data)
				require.NoError(t, err)
				put(data, pos)
				pos += int64(len(data))
			case op < 6:
				off := rng.Int64N(int64(len(cur)) + BlockSize)
				_, err := w.WriteAt(data, off)
				require.NoError(t, err)
				put(data, off)
			case op < 7:
				require.NoError(t, w.Sync())
				synced = bytes.Clone(cur)
			case op < 8:
				trig.Arm(1)
				require.ErrorIs(t, w.Sync(), syscall.EIO)
				cur = bytes.Clone(synced)
			default:
				off := rng.Int64N(int64(len(cur)) + 10)
				buf := make([]byte, rng.IntN(3*BlockSize)+1)
				n, err := r.ReadAt(buf, off)
				want := []byte{}
				if off < int64(len(cur)) {
					want = cur[off:min(int64(len(cur)), off+int64(len(buf)))]
				}
				require.Equal(t, len(want), n, "seed %d step %d", seed, step)
				require.True(t, bytes.Equal(want, buf[:n]), "seed %d step %d: read at %d", seed, step, off)
				if n < len(buf) {
					require.ErrorIs(t, err, io.EOF)
				} else {
					require.NoError(t, err)
				}
			}
			fi, err := r.Stat()
			require.NoError(t, err)
			require.Equal(t, int64(len(cur)), fi.Size(), "seed %d step %d", seed, step)
			if step%25 == 0 {
				after := PowerLoss(disk.Mem(), seed, 0)
				require.True(t, bytes.Equal(synced, []byte(readFile(t, after, "f"))), "seed %d step %d: power loss", seed, step)
			}
		}
		require.True(t, bytes.Equal(cur, []byte(readFile(t, fs, "f"))), "seed %d", seed)
		require.NoError(t, w.Close())
		require.NoError(t, r.Close())
	}
}

// TestPowerLossReplays: a power loss of a disk whose FS holds unsynced
// data gives the same disk for the same seed, however many unsynced
// entries and blocks it has; a disk outcome drawn in map order would not.
func TestPowerLossReplays(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		d := NewDisk(&Slot{})
		fs := d.FS()
		for i := range 12 {
			dir := fmt.Sprintf("/d%d", i%3)
			if err := fs.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := fs.Create(fmt.Sprintf("%s/f%d", dir, i), vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(bytes.Repeat([]byte{byte(i)}, 3*BlockSize)); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.Write(bytes.Repeat([]byte{byte(i + 100)}, 2*BlockSize)); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}
		var first string
		for try := range 8 {
			clone, err := d.PowerLoss(seed, 50, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := describeDisk(t, clone.Mem())
			if try == 0 {
				first = got
			} else if got != first {
				t.Fatalf("seed %d: power loss %d differs from the first:\n%s\nvs\n%s", seed, try, got, first)
			}
		}
	}
}

// describeDisk lists every file of mem with a checksum of its content.
func describeDisk(t *testing.T, mem *vfs.MemFS) string {
	t.Helper()
	var b strings.Builder
	var walk func(dir string)
	walk = func(dir string) {
		names, err := mem.List(dir)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(names)
		for _, n := range names {
			p := mem.PathJoin(dir, n)
			st, err := mem.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.IsDir() {
				fmt.Fprintf(&b, "%s/\n", p)
				walk(p)
				continue
			}
			f, err := mem.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %d %x\n", p, len(data), crc32.ChecksumIEEE(data))
		}
	}
	walk("/")
	return b.String()
}
