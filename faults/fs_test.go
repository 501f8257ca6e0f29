package faults

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// step is one operation of an overlay scenario on the file "f".
type step struct {
	op   string // write, writeAt, sync, failsync
	data string
	off  int64
}

func TestOverlay(t *testing.T) {
	block := strings.Repeat("x", BlockSize)
	cases := []struct {
		name    string
		steps   []step
		want    string // what reads see at the end
		durable string // what survives a power loss at the end
	}{
		{
			name:    "append and sync",
			steps:   []step{{op: "write", data: "hello"}, {op: "write", data: " world"}, {op: "sync"}},
			want:    "hello world",
			durable: "hello world",
		},
		{
			name:    "unsynced",
			steps:   []step{{op: "write", data: "abc"}},
			want:    "abc",
			durable: "",
		},
		{
			name:    "failed sync drops the writes since the last good sync",
			steps:   []step{{op: "write", data: "abc"}, {op: "sync"}, {op: "write", data: "def"}, {op: "failsync"}},
			want:    "abc",
			durable: "abc",
		},
		{
			name: "next sync succeeds without the dropped data",
			steps: []step{
				{op: "write", data: "abc"}, {op: "sync"}, {op: "write", data: "def"},
				{op: "failsync"}, {op: "sync"},
			},
			want:    "abc",
			durable: "abc",
		},
		{
			name: "writes after a failed sync continue at the handle position",
			steps: []step{
				{op: "write", data: "abc"}, {op: "sync"}, {op: "write", data: "def"},
				{op: "failsync"}, {op: "write", data: "gh"}, {op: "sync"},
			},
			want:    "abc\x00\x00\x00gh",
			durable: "abc\x00\x00\x00gh",
		},
		{
			name: "overwrite inside synced data then fail",
			steps: []step{
				{op: "write", data: "abcdef"}, {op: "sync"}, {op: "writeAt", data: "XY", off: 2},
				{op: "failsync"},
			},
			want:    "abcdef",
			durable: "abcdef",
		},
		{
			name:    "overwrite inside synced data",
			steps:   []step{{op: "write", data: "abcdef"}, {op: "sync"}, {op: "writeAt", data: "XY", off: 2}},
			want:    "abXYef",
			durable: "abcdef",
		},
		{
			name:    "writeAt past the end leaves zeros",
			steps:   []step{{op: "writeAt", data: "Z", off: 5}, {op: "sync"}},
			want:    "\x00\x00\x00\x00\x00Z",
			durable: "\x00\x00\x00\x00\x00Z",
		},
		{
			name: "overlapping writes merge",
			steps: []step{
				{op: "writeAt", data: "aaaa"}, {op: "writeAt", data: "bb", off: 6},
				{op: "writeAt", data: "cccc", off: 3},
			},
			want:    "aaaccccb",
			durable: "",
		},
		{
			name: "write covering several extents",
			steps: []step{
				{op: "writeAt", data: "a", off: 1}, {op: "writeAt", data: "b", off: 3},
				{op: "writeAt", data: "c", off: 5}, {op: "writeAt", data: "XXXXXX", off: 0},
				{op: "writeAt", data: "d", off: 9},
			},
			want:    "XXXXXX\x00\x00\x00d",
			durable: "",
		},
		{
			name: "failed sync after a good one keeps blocks",
			steps: []step{
				{op: "write", data: block + block}, {op: "sync"},
				{op: "writeAt", data: "yy", off: BlockSize - 1}, {op: "write", data: "tail"},
				{op: "failsync"},
			},
			want:    block + block,
			durable: block + block,
		},
		{
			name: "sync through a read-only handle",
			steps: []step{
				{op: "write", data: "abc"}, {op: "syncB"}, {op: "write", data: "d"},
			},
			want:    "abcd",
			durable: "abc",
		},
		{
			name:    "failed sync through a read-only handle",
			steps:   []step{{op: "write", data: "abc"}, {op: "syncB"}, {op: "write", data: "d"}, {op: "failsyncB"}},
			want:    "abc",
			durable: "abc",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			trig := NewTrigger(OpSync, syscall.EIO)
			disk := NewDisk(trig)
			fs := disk.FS()
			require.True(t, fs.Holding())
			a, err := fs.Create("f", vfs.WriteCategoryUnspecified)
			require.NoError(t, err)
			syncDir(t, fs, "")
			b, err := fs.Open("f")
			require.NoError(t, err)
			for i, s := range tc.steps {
				switch s.op {
				case "write":
					n, err := a.Write([]byte(s.data))
					require.NoError(t, err, "step %d", i)
					require.Equal(t, len(s.data), n)
				case "writeAt":
					n, err := a.WriteAt([]byte(s.data), s.off)
					require.NoError(t, err, "step %d", i)
					require.Equal(t, len(s.data), n)
				case "sync":
					require.NoError(t, a.Sync(), "step %d", i)
				case "syncB":
					require.NoError(t, b.Sync(), "step %d", i)
				case "failsync", "failsyncB":
					trig.Arm(1)
					h := a
					if s.op == "failsyncB" {
						h = b
					}
					err := h.Sync()
					require.ErrorIs(t, err, syscall.EIO, "step %d", i)
					require.ErrorIs(t, err, ErrInjected, "step %d", i)
				default:
					t.Fatalf("unknown step %q", s.op)
				}
			}
			requireContent(t, tc.want, readAllAt(t, a))
			requireContent(t, tc.want, readSequential(t, b))
			c, err := fs.Open("f")
			require.NoError(t, err)
			requireContent(t, tc.want, readSequential(t, c))
			require.NoError(t, c.Close())
			fi, err := fs.Stat("f")
			require.NoError(t, err)
			require.Equal(t, int64(len(tc.want)), fi.Size())
			fi, err = a.Stat()
			require.NoError(t, err)
			require.Equal(t, int64(len(tc.want)), fi.Size())

			after := PowerLoss(disk.Mem(), 1, 0)
			require.NotNil(t, after)
			requireContent(t, tc.durable, readFile(t, after, "f"))
			require.NoError(t, a.Close())
			require.NoError(t, b.Close())
		})
	}
}

// TestPassThroughWithoutSyncFaults checks that an injector that cannot fail
// a sync leaves the underlying file system's view and durability alone.
func TestPassThroughWithoutSyncFaults(t *testing.T) {
	mem := vfs.NewCrashableMem()
	fs := Wrap(mem, NewTrigger(OpRead, syscall.EIO))
	require.False(t, fs.Holding())
	f, err := fs.Create("f", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = f.Write([]byte("abc"))
	require.NoError(t, err)
	requireContent(t, "abc", readFile(t, mem, "f"))
	require.NoError(t, f.Sync())
	_, err = f.Write([]byte("def"))
	require.NoError(t, err)
	syncDir(t, fs, "")
	requireContent(t, "abcdef", readFile(t, mem, "f"))
	requireContent(t, "abc", readFile(t, PowerLoss(mem, 1, 0), "f"))
	requireContent(t, "abcdef", readFile(t, PowerLoss(mem, 1, 100), "f"))
	require.NoError(t, f.Close())
}

func TestHeldStateFollowsNames(t *testing.T) {
	trig := NewTrigger(OpSync, syscall.EIO)
	disk := NewDisk(trig)
	fs := disk.FS()
	require.NoError(t, fs.MkdirAll("d", 0o755))
	f, err := fs.Create("d/a", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = f.Write([]byte("one"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, int64(3), fs.Unsynced())

	// The unsynced data follows a rename and survives the close of the
	// only handle, as in a page cache.
	require.NoError(t, fs.Rename("d/a", "d/b"))
	requireContent(t, "one", readFile(t, fs, "d/b"))
	_, err = fs.Stat("//a")
	require.Error(t, err)

	// Syncing through a new read-only handle writes it through.
	g, err := fs.Open("d/b")
	require.NoError(t, err)
	require.NoError(t, g.Sync())
	require.NoError(t, g.Close())
	require.Equal(t, int64(0), fs.Unsynced())
	syncDir(t, fs, "d")
	syncDir(t, fs, "")
	requireContent(t, "one", readFile(t, PowerLoss(disk.Mem(), 1, 0), "d/b"))

	// Create over an existing name starts a new empty file.
	h, err := fs.Create("d/b", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = h.Write([]byte("two"))
	require.NoError(t, err)
	requireContent(t, "two", readFile(t, fs, "d/b"))

	// Remove forgets the held data, except for the handles still open;
	// RemoveAll forgets it too.
	require.NoError(t, fs.Remove("d/b"))
	require.Equal(t, int64(0), fs.Unsynced(), "no name holds the data")
	requireContent(t, "two", readAllAt(t, h))
	require.NoError(t, h.Close())
	k, err := fs.Create("d/c", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = k.Write([]byte("three"))
	require.NoError(t, err)
	require.NoError(t, k.Close())
	require.NoError(t, fs.RemoveAll("d"))
	fs.mu.Lock()
	require.Empty(t, fs.files)
	fs.mu.Unlock()
}

func TestLinkSharesHeldData(t *testing.T) {
	disk := NewDisk(NewTrigger(OpSync, syscall.EIO))
	fs := disk.FS()
	f, err := fs.Create("a", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = f.Write([]byte("xyz"))
	require.NoError(t, err)
	require.NoError(t, fs.Link("a", "b"))
	requireContent(t, "xyz", readFile(t, fs, "b"))
	require.NoError(t, fs.Remove("a"))
	g, err := fs.Open("b")
	require.NoError(t, err)
	require.NoError(t, g.Sync())
	require.NoError(t, g.Close())
	require.NoError(t, f.Close())
	requireContent(t, "xyz", readFile(t, disk.Mem(), "b"))
}

func TestReadOnlyHandleRefusesWrites(t *testing.T) {
	disk := NewDisk(NewTrigger(OpSync, syscall.EIO))
	fs := disk.FS()
	f, err := fs.Create("a", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	g, err := fs.Open("a")
	require.NoError(t, err)
	_, err = g.Write([]byte("x"))
	require.ErrorIs(t, err, ErrNotWritable)
	_, err = g.WriteAt([]byte("x"), 0)
	require.ErrorIs(t, err, ErrNotWritable)
	require.NoError(t, g.Close())
	require.ErrorIs(t, g.Close(), os.ErrClosed, "double close")
	_, err = g.ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorIs(t, g.Sync(), os.ErrClosed)
	_, err = g.Stat()
	require.ErrorIs(t, err, os.ErrClosed)
}

func TestSyncToIsFullSyncWhenHolding(t *testing.T) {
	trig := NewTrigger(OpSync, syscall.EIO)
	disk := NewDisk(trig)
	fs := disk.FS()
	f, err := fs.Create("a", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	syncDir(t, fs, "")
	_, err = f.Write([]byte("abc"))
	require.NoError(t, err)
	full, err := f.SyncTo(3)
	require.NoError(t, err)
	require.True(t, full)
	_, err = f.Write([]byte("def"))
	require.NoError(t, err)
	trig.Arm(1)
	full, err = f.SyncTo(6)
	require.ErrorIs(t, err, syscall.EIO)
	require.False(t, full)
	require.NoError(t, f.Close())
	requireContent(t, "abc", readFile(t, PowerLoss(disk.Mem(), 1, 0), "a"))
	require.Equal(t, 1, trig.Fired())
}

func TestFailedDirectorySyncLeavesEntriesVolatile(t *testing.T) {
	trig := NewTrigger(OpSync, syscall.EIO)
	disk := NewDisk(trig)
	fs := disk.FS()
	f, err := fs.Create("a", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	d, err := fs.OpenDir("")
	require.NoError(t, err)
	trig.Arm(1)
	require.ErrorIs(t, d.Sync(), syscall.EIO)
	_, err = PowerLoss(disk.Mem(), 1, 0).Stat("a")
	require.Error(t, err, "the entry was never synced")
	require.NoError(t, d.Sync())
	require.NoError(t, d.Close())
	_, err = PowerLoss(disk.Mem(), 1, 0).Stat("a")
	require.NoError(t, err)
}

func TestPowerLossNeedsCrashableMem(t *testing.T) {
	require.Nil(t, PowerLoss(vfs.NewMem(), 1, 0))
	require.Nil(t, PowerLoss(nil, 1, 0))
	_, err := powerLoss(vfs.NewMem(), newRand(1), 0)
	require.ErrorIs(t, err, ErrNotCrashable)
}

func syncDir(t testing.TB, fs vfs.FS, dir string) {
	t.Helper()
	d, err := fs.OpenDir(dir)
	require.NoError(t, err)
	require.NoError(t, d.Sync())
	require.NoError(t, d.Close())
}

// readFile returns the content of name in fs, or "" when it does not exist.
func readFile(t testing.TB, fs vfs.FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	return readWith(t, f, 64<<10)
}

// readSequential reads f to its end in small pieces that cross extent
// boundaries.
func readSequential(t testing.TB, f vfs.File) string {
	t.Helper()
	return readWith(t, f, 3)
}

func readWith(t testing.TB, f vfs.File, size int) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, size)
	for {
		n, err := f.Read(buf)
		out.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return out.String()
		}
		require.NoError(t, err)
		require.NotZero(t, n)
	}
}

func readAllAt(t testing.TB, f vfs.File) string {
	t.Helper()
	buf := make([]byte, 3*BlockSize)
	n, err := f.ReadAt(buf, 0)
	require.ErrorIs(t, err, io.EOF)
	return string(buf[:n])
}

func requireContent(t testing.TB, want, got string) {
	t.Helper()
	if want != got {
		t.Fatalf("content: got %d bytes %q, want %d bytes %q", len(got), abbrev(got), len(want), abbrev(want))
	}
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:20] + "..." + s[len(s)-20:]
	}
	return s
}

// crashAt cuts the power from inside the injector at the n-th write, as a
// nemesis does, and fails that write.
type crashAt struct {
	disk  *Disk
	n     int
	mu    sync.Mutex
	seen  int
	clone *Disk
}

func (c *crashAt) String() string      { return "crash-at" }
func (c *crashAt) MayFail(OpKind) bool { return true }
func (c *crashAt) MaybeError(op Op) error {
	if op.Kind != OpWrite {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen++; c.seen != c.n {
		return nil
	}
	clone, err := c.disk.PowerLoss(3, 0, nil)
	if err != nil {
		return err
	}
	c.clone = clone
	return Inject(op, syscall.EIO, c.String())
}

// TestPowerLossFromInsideAnInjector cuts the power from inside one
// operation while others run: nothing that reports success may be missing
// from the clone, and every operation after the cut fails.
func TestPowerLossFromInsideAnInjector(t *testing.T) {
	for seed := range 8 {
		c := &crashAt{n: 20 + seed*5}
		disk := NewDisk(c)
		c.disk = disk
		syncDir(t, disk.FS(), "")
		acked := make([][]string, 4)
		var wg sync.WaitGroup
		for w := range acked {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("f%d", w)
				f, err := disk.FS().Create(name, vfs.WriteCategoryUnspecified)
				if err != nil {
					if !errors.Is(err, ErrInjected) {
						t.Errorf("create: %v", err)
					}
					return
				}
				defer f.Close()
				if err := syncDirErr(disk.FS(), ""); err != nil {
					return
				}
				for i := range 20 {
					rec := fmt.Sprintf("<%s-%d>", name, i)
					if _, err := f.Write([]byte(rec)); err != nil {
						return
					}
					if err := f.Sync(); err != nil {
						return
					}
					acked[w] = append(acked[w], rec)
				}
			}()
		}
		wg.Wait()
		c.mu.Lock()
		clone := c.clone
		c.mu.Unlock()
		require.NotNil(t, clone)
		require.True(t, disk.FS().PoweredOff())
		_, err := disk.FS().Stat("f0")
		require.ErrorIs(t, err, syscall.EIO, "no power, no operation")
		for w, recs := range acked {
			content := readFile(t, clone.FS(), fmt.Sprintf("f%d", w))
			for _, rec := range recs {
				require.Contains(t, content, rec, "seed %d: acknowledged but lost", seed)
			}
		}
	}
}

func syncDirErr(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// TestHeldOnDisk runs the held writes over the operating system's file
// system: the file on disk holds exactly what was synced.
func TestHeldOnDisk(t *testing.T) {
	dir := t.TempDir()
	trig := NewTrigger(OpSync, syscall.EIO)
	fs := Wrap(vfs.Default, trig)
	name := fs.PathJoin(dir, "wal")
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = f.Write([]byte("abc"))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	_, err = f.Write([]byte("def"))
	require.NoError(t, err)
	requireContent(t, "abcdef", readFile(t, fs, name))
	requireContent(t, "abc", readFile(t, vfs.Default, name))
	trig.Arm(1)
	require.ErrorIs(t, f.Sync(), syscall.EIO)
	requireContent(t, "abc", readFile(t, fs, name))
	_, err = f.WriteAt([]byte("XYZ"), 1)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	requireContent(t, "aXYZ", readFile(t, vfs.Default, name))
	require.Equal(t, vfs.InvalidFd, mustOpen(t, fs, name).Fd())
}

func mustOpen(t testing.TB, fs vfs.FS, name string) vfs.File {
	t.Helper()
	f, err := fs.Open(name)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	return f
}

// TestMemNamesAreOneFile checks that "/a" and "a" on a MemFS share one
// held state, as they name one file there.
func TestMemNamesAreOneFile(t *testing.T) {
	disk := NewDisk(NewTrigger(OpSync, syscall.EIO))
	fs := disk.FS()
	f, err := fs.Create("/a", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = f.Write([]byte("held"))
	require.NoError(t, err)
	requireContent(t, "held", readFile(t, fs, "a"))
	fi, err := fs.Stat("//a")
	require.NoError(t, err)
	require.Equal(t, int64(4), fi.Size())
	require.NoError(t, f.Close())
}

func TestDeadDiskKeepsHeldData(t *testing.T) {
	disk := NewDisk(NewTrigger(OpSync, syscall.EIO))
	f, err := disk.FS().Create("f", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	syncDir(t, disk.FS(), "")
	_, err = f.Write([]byte("held"))
	require.NoError(t, err)
	first, err := disk.PowerLoss(1, 100, nil)
	require.NoError(t, err)
	requireContent(t, "held", readFile(t, first.FS(), "f"))
	require.ErrorIs(t, f.Sync(), syscall.EIO)
	_, err = f.Write([]byte("more"))
	require.ErrorIs(t, err, syscall.EIO)
	second, err := disk.PowerLoss(1, 100, nil)
	require.NoError(t, err)
	requireContent(t, "held", readFile(t, second.FS(), "f"))
	none, err := disk.PowerLoss(1, 0, nil)
	require.NoError(t, err)
	requireContent(t, "", readFile(t, none.FS(), "f"))
	require.NoError(t, f.Close(), "closing needs no power")
}
