package faults

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// walWriter is a minimal write-ahead log: Append writes a record, syncs,
// and acknowledges it by returning nil; after a failure it refuses every
// append. With retrySync it has the planted bug of retrying a failed fsync,
// acknowledging when the retry passes, and carrying on.
type walWriter struct {
	f         vfs.File
	retrySync bool
	failed    error
	acked     []string
}

func (w *walWriter) Append(rec string) error {
	if w.failed != nil {
		return fmt.Errorf("wal failed earlier: %w", w.failed)
	}
	if err := w.append(rec); err != nil {
		w.failed = err
		return err
	}
	return nil
}

func (w *walWriter) append(rec string) error {
	if _, err := w.f.Write([]byte(rec + "\n")); err != nil {
		return err
	}
	err := w.f.Sync()
	if err != nil && w.retrySync {
		err = w.f.Sync()
	}
	if err != nil {
		return err
	}
	w.acked = append(w.acked, rec)
	return nil
}

// lostAcknowledged returns the acknowledged records missing from the log
// in fs after a power loss that keeps nothing unsynced.
func lostAcknowledged(t testing.TB, disk *Disk, w *walWriter, seed uint64) []string {
	t.Helper()
	after, err := disk.PowerLoss(seed, 0, nil)
	require.NoError(t, err)
	content := readFile(t, after.FS(), "wal")
	present := make(map[string]bool)
	for _, line := range strings.Split(content, "\n") {
		present[line] = true
	}
	var lost []string
	for _, rec := range w.acked {
		if !present[rec] {
			lost = append(lost, rec)
		}
	}
	return lost
}

func runWAL(t testing.TB, retrySync bool) (*Disk, *walWriter, []error) {
	t.Helper()
	trig := NewTrigger(OpSync, syscall.EIO)
	disk := NewDisk(trig)
	f, err := disk.FS().Create("wal", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	syncDir(t, disk.FS(), "")
	w := &walWriter{f: f, retrySync: retrySync}
	var errs []error
	for i := range 6 {
		if i == 3 {
			trig.Arm(1)
		}
		if err := w.Append(fmt.Sprintf("record-%d", i)); err != nil {
			errs = append(errs, err)
		}
	}
	require.Equal(t, 1, trig.Fired())
	return disk, w, errs
}

// TestMutantRetrySyncAfterEIO is the planted bug "retry fsync after EIO":
// the retry succeeds without the dropped data, so an acknowledged record is
// gone after a power loss. The injector must make that loss observable.
func TestMutantRetrySyncAfterEIO(t *testing.T) {
	disk, w, errs := runWAL(t, true)
	require.Empty(t, errs, "the buggy writer hides the failure")
	require.Len(t, w.acked, 6)
	// The loss is visible before any power loss: reads see the file as of
	// the last good sync.
	live := readFile(t, disk.FS(), "wal")
	require.Contains(t, live, "record-2")
	require.NotContains(t, live, "record-3")
	lost := lostAcknowledged(t, disk, w, 1)
	require.Contains(t, lost, "record-3", "the dropped record must be missing")
}

// TestCorrectWALLosesNothingAcknowledged is the reference: a writer that
// fails on EIO acknowledges nothing it could lose.
func TestCorrectWALLosesNothingAcknowledged(t *testing.T) {
	for seed := range uint64(8) {
		disk, w, errs := runWAL(t, false)
		require.Len(t, errs, 3, "record-3 fails, then the writer refuses the rest")
		require.ErrorIs(t, errs[0], syscall.EIO)
		require.ErrorIs(t, errs[0], ErrInjected)
		require.Empty(t, lostAcknowledged(t, disk, w, seed))
		require.Equal(t, []string{"record-0", "record-1", "record-2"}, w.acked)
	}
}

// writeFileWith creates name in fs, writes data, and syncs the file and
// the directory as asked.
func writeFileWith(t testing.TB, fs vfs.FS, name, data string, syncFile, syncDirectory bool) {
	t.Helper()
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	_, err = f.Write([]byte(data))
	require.NoError(t, err)
	if syncFile {
		require.NoError(t, f.Sync())
	}
	require.NoError(t, f.Close())
	if syncDirectory {
		syncDir(t, fs, fs.PathDir(name))
	}
}

func TestMutantsDurability(t *testing.T) {
	cases := []struct {
		name                    string
		syncFile, syncDirectory bool
		wantExists              bool
		want                    string
	}{
		{name: "never syncs", wantExists: false},
		{name: "syncs the directory but not the file", syncDirectory: true, wantExists: true, want: ""},
		{name: "forgets the directory sync after create", syncFile: true, wantExists: false},
		{name: "syncs file and directory", syncFile: true, syncDirectory: true, wantExists: true, want: "payload"},
	}
	injectors := []Injector{nil, NewTrigger(OpSync, syscall.EIO)}
	for _, tc := range cases {
		for _, inj := range injectors {
			t.Run(fmt.Sprintf("%s/holding=%v", tc.name, inj != nil), func(t *testing.T) {
				for seed := range uint64(16) {
					disk := NewDisk(inj)
					require.NoError(t, disk.FS().MkdirAll("db", 0o755))
					syncDir(t, disk.FS(), "")
					writeFileWith(t, disk.FS(), "db/f", "payload", tc.syncFile, tc.syncDirectory)
					after, err := disk.PowerLoss(seed, 0, nil)
					require.NoError(t, err)
					_, err = after.FS().Stat("db/f")
					require.Equal(t, tc.wantExists, err == nil, "seed %d: exists", seed)
					if tc.wantExists {
						requireContent(t, tc.want, readFile(t, after.FS(), "db/f"))
					}
				}
			})
		}
	}
}

// TestTornWrites overwrites a synced multi-block file without syncing and
// cuts the power keeping each unsynced block with probability 1/2: some
// seed must leave a mix of old and new blocks, and every seed must leave
// only whole old or new blocks.
func TestTornWrites(t *testing.T) {
	const blocks = 6
	oldData := bytes.Repeat([]byte{'o'}, blocks*BlockSize)
	newData := bytes.Repeat([]byte{'n'}, blocks*BlockSize)
	for _, inj := range []Injector{nil, NewTrigger(OpSync, syscall.EIO)} {
		t.Run(fmt.Sprintf("holding=%v", inj != nil), func(t *testing.T) {
			disk := NewDisk(inj)
			writeFileWith(t, disk.FS(), "f", string(oldData), true, true)
			f, err := disk.FS().OpenReadWrite("f", vfs.WriteCategoryUnspecified)
			require.NoError(t, err)
			_, err = f.WriteAt(newData, 0)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			torn := 0
			for seed := range uint64(32) {
				after, err := disk.PowerLoss(seed, 50, nil)
				require.NoError(t, err)
				got := readFile(t, after.FS(), "f")
				require.Len(t, got, len(oldData))
				var olds, news int
				for b := range blocks {
					blk := got[b*BlockSize : (b+1)*BlockSize]
					switch blk {
					case string(oldData[:BlockSize]):
						olds++
					case string(newData[:BlockSize]):
						news++
					default:
						t.Fatalf("seed %d: block %d is neither old nor new", seed, b)
					}
				}
				if olds > 0 && news > 0 {
					torn++
				}
			}
			require.Positive(t, torn, "no seed tore the write")
		})
	}
}

// TestPowerLossIsSeeded checks that one seed always gives one outcome.
func TestPowerLossIsSeeded(t *testing.T) {
	mem := vfs.NewCrashableMem()
	writeFileWith(t, mem, "f", "", true, true)
	f, err := mem.OpenReadWrite("f", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	for b := range 16 {
		_, err := f.Write(bytes.Repeat([]byte{byte('a' + b)}, BlockSize))
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	for seed := range uint64(4) {
		a := readFile(t, PowerLoss(mem, seed, 50), "f")
		b := readFile(t, PowerLoss(mem, seed, 50), "f")
		require.Equal(t, a, b, "seed %d", seed)
	}
}
