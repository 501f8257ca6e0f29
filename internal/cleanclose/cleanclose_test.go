package cleanclose_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

func put(t testing.TB, fs vfs.FS, name string, size int) {
	t.Helper()
	if err := fs.MkdirAll(fs.PathDir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i%251 + 1)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// store writes a small store and its record, and returns the file system.
func store(t testing.TB) vfs.FS {
	fs := vfs.NewCrashableMem()
	put(t, fs, "/db/log", 9000)
	put(t, fs, "/db/sub/seg", 5000)
	put(t, fs, "/db/spare.tmp", 100)
	for _, dir := range []string{"/", "/db", "/db/sub"} {
		d, err := fs.OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(); err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
	}
	files, err := cleanclose.Snapshot(fs, "/db", func(rel string) bool { return strings.HasSuffix(rel, ".tmp") })
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files["log"] != 9000 || files["sub/seg"] != 5000 {
		t.Fatalf("snapshot %v", files)
	}
	if err := cleanclose.Write(fs, "/db", cleanclose.Record{Files: files, Extra: []byte{7}}); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestRecordRoundTrip(t *testing.T) {
	fs := store(t)
	r, found, err := cleanclose.Check(fs, "/db")
	if err != nil || !found || string(r.Extra) != "\x07" {
		t.Fatalf("Check: %+v, %v, %v", r, found, err)
	}
	// A power loss right after Write keeps the record.
	clone := faults.PowerLoss(fs.(*vfs.MemFS), 1, 0)
	if _, found, err := cleanclose.Check(clone, "/db"); err != nil || !found {
		t.Fatalf("after a power loss: %v, %v", found, err)
	}
	if err := cleanclose.Remove(fs, "/db"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := cleanclose.Check(fs, "/db"); err != nil || found {
		t.Fatalf("after Remove: %v, %v", found, err)
	}
	// Removing none is no error, and a power loss keeps the removal.
	if err := cleanclose.Remove(fs, "/db"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := cleanclose.Check(faults.PowerLoss(fs.(*vfs.MemFS), 1, 0), "/db"); found {
		t.Fatal("the removal did not survive a power loss")
	}
}

func TestRecordCatchesLostData(t *testing.T) {
	for _, kind := range []faults.CorruptKind{faults.CorruptTruncate, faults.CorruptDelete, faults.CorruptGarbage} {
		for seed := uint64(0); seed < 6; seed++ {
			fs := store(t)
			d, err := faults.Corruption{Kind: kind, Seed: seed, Path: "log|seg"}.Apply(fs, "/db")
			if err != nil {
				t.Fatal(err)
			}
			_, found, err := cleanclose.Check(fs, "/db")
			if !found || !errors.Is(err, cleanclose.ErrMismatch) || !strings.Contains(err.Error(), d.Path) {
				t.Errorf("%s: %v, %v; want ErrMismatch naming %s", d, found, err, d.Path)
			}
		}
	}
	// A flip keeps the size: the files' own checksums must catch it.
	fs := store(t)
	if _, err := (faults.Corruption{Kind: faults.CorruptFlip, Path: "log"}).Apply(fs, "/db"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cleanclose.Check(fs, "/db"); err != nil {
		t.Errorf("a flip: %v", err)
	}
}

func TestDamagedRecordIsIgnored(t *testing.T) {
	for _, kind := range []faults.CorruptKind{faults.CorruptFlip, faults.CorruptZero, faults.CorruptTruncate, faults.CorruptGarbage} {
		fs := store(t)
		d, err := faults.Corruption{Kind: kind, Seed: 3, Path: cleanclose.FileName}.Apply(fs, "/db")
		if err != nil {
			t.Fatal(err)
		}
		if _, found, err := cleanclose.Read(fs, "/db"); found || !errors.Is(err, cleanclose.ErrDamaged) {
			t.Errorf("%s: Read: %v, %v; want ErrDamaged", d, found, err)
		}
		if _, found, err := cleanclose.Check(fs, "/db"); found || err != nil {
			t.Errorf("%s: Check: %v, %v; want no record and no error", d, found, err)
		}
	}
}
