package pebblecheck_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/internal/cleanclose"
	"github.com/ordeal-dev/ordeal/internal/pebblecheck"
)

var mark = []byte("\xffmark")

func opts(fs vfs.FS) *pebbledb.Options {
	return &pebbledb.Options{FS: fs, FormatMajorVersion: pebbledb.FormatNewest}
}

// written makes a database of 100 keys on a new MemFS and closes it with
// pebblecheck.Close.
func written(t *testing.T) vfs.FS {
	t.Helper()
	fs := vfs.NewMem()
	db, err := pebblecheck.Open("/db", opts(fs), mark)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := db.Set(fmt.Appendf(nil, "k%03d", i), []byte("v"), pebbledb.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := pebblecheck.Close(db, fs, "/db", mark, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	return fs
}

func reopen(fs vfs.FS) error {
	db, err := pebblecheck.Open("/db", opts(fs), mark)
	if err != nil {
		return err
	}
	return db.Close()
}

func TestCleanReopen(t *testing.T) {
	fs := written(t)
	if _, found, err := cleanclose.Read(fs, "/db"); err != nil || !found {
		t.Fatalf("no record after Close: %v", err)
	}
	// Twice: the mark counts the closes.
	for i := 0; i < 2; i++ {
		db, err := pebblecheck.Open("/db", opts(fs), mark)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if err := pebblecheck.Close(db, fs, "/db", mark, func() bool { return true }); err != nil {
			t.Fatal(err)
		}
	}
	// An unhealthy close leaves no record, and the next open goes as after
	// a crash.
	db, err := pebblecheck.Open("/db", opts(fs), mark)
	if err != nil {
		t.Fatal(err)
	}
	if err := pebblecheck.Close(db, fs, "/db", mark, func() bool { return false }); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := cleanclose.Read(fs, "/db"); found {
		t.Fatal("a record after an unhealthy close")
	}
	if err := reopen(fs); err != nil {
		t.Fatal(err)
	}
}

func TestDamageIsCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, fs vfs.FS)
		crash  bool // no record: as after a crash
	}{
		{"manifest marker deleted", func(t *testing.T, fs vfs.FS) {
			removeMatching(t, fs, "marker.manifest.")
		}, true},
		{"options damaged", func(t *testing.T, fs vfs.FS) {
			name := matching(t, fs, "OPTIONS-")
			f, err := fs.OpenReadWrite("/db/"+name, vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("\x00\x00\x00"), 40); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}, true},
		{"the mark lost", func(t *testing.T, fs vfs.FS) {
			// The mark was the last write: without it the log's end is gone.
			db, err := pebbledb.Open("/db", opts(fs))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Delete(mark, pebbledb.Sync); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			// Same sizes as recorded, but for the log: take a fresh record
			// of this state with the old mark.
			rec, _, err := cleanclose.Read(fs, "/db")
			if err != nil {
				t.Fatal(err)
			}
			files, err := cleanclose.Snapshot(fs, "/db", func(rel string) bool { return rel == "LOCK" })
			if err != nil {
				t.Fatal(err)
			}
			rec.Files = files
			if err := cleanclose.Write(fs, "/db", rec); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := written(t)
			if tc.crash {
				if err := cleanclose.Remove(fs, "/db"); err != nil {
					t.Fatal(err)
				}
			}
			tc.damage(t, fs)
			err := reopen(fs)
			if !errors.Is(err, pebblecheck.ErrCorrupt) || !pebblecheck.IsCorrupt(err) {
				t.Fatalf("reopen: %v; want pebblecheck.ErrCorrupt", err)
			}
		})
	}
}

// A crash while pebble creates the database leaves files and no marker:
// that is no damage.
func TestCrashWhileCreating(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/db", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create("/db/MANIFEST-000001", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := reopen(fs); errors.Is(err, pebblecheck.ErrCorrupt) {
		t.Fatalf("a database never made is damaged: %v", err)
	}
}

func matching(t *testing.T, fs vfs.FS, prefix string) string {
	t.Helper()
	names, err := fs.List("/db")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return n
		}
	}
	t.Fatalf("no %s* file", prefix)
	return ""
}

func removeMatching(t *testing.T, fs vfs.FS, prefix string) {
	t.Helper()
	if err := fs.Remove("/db/" + matching(t, fs, prefix)); err != nil {
		t.Fatal(err)
	}
}
