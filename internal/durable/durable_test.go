package durable

import (
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestMkdirAllSurvivesPowerLoss(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mkdir   func(fs vfs.FS, dir string) error
		survive bool
	}{
		{"durable.MkdirAll", func(fs vfs.FS, dir string) error { return MkdirAll(fs, dir, 0o755) }, true},
		{"plain MkdirAll (the bug it prevents)", func(fs vfs.FS, dir string) error { return fs.MkdirAll(dir, 0o755) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			if err := mem.MkdirAll("/data", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := SyncDir(mem, "/"); err != nil {
				t.Fatal(err)
			}
			if err := tc.mkdir(mem, "/data/a/b/c"); err != nil {
				t.Fatal(err)
			}
			crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0, RNG: rand.New(rand.NewPCG(1, 2))})
			_, err := crashed.Stat("/data/a/b/c")
			if survived := err == nil; survived != tc.survive {
				t.Fatalf("after a power loss, /data/a/b/c exists = %v (%v), want %v", survived, err, tc.survive)
			}
		})
	}
}

func TestMkdirAllExisting(t *testing.T) {
	mem := vfs.NewMem()
	if err := MkdirAll(mem, "/x/y", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(mem, "/x/y", 0o755); err != nil {
		t.Fatalf("second MkdirAll of an existing directory: %v", err)
	}
	if err := SyncDir(mem, "/missing"); err == nil {
		t.Fatal("SyncDir of a missing directory returned no error")
	}
}

func TestSyncDir(t *testing.T) {
	fs := vfs.NewCrashableMem()
	if err := fs.MkdirAll("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(fs, ""); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create("d/x", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.CrashClone(vfs.CrashCloneCfg{}).Stat("d/x"); err == nil {
		t.Fatal("d/x survived a crash before its directory was synced")
	}
	if err := SyncDir(fs, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.CrashClone(vfs.CrashCloneCfg{}).Stat("d/x"); err != nil {
		t.Fatalf("d/x lost in a crash after SyncDir: %v", err)
	}
	if err := SyncDir(fs, "missing"); err == nil {
		t.Fatal("SyncDir of a missing directory returned no error")
	}
}
