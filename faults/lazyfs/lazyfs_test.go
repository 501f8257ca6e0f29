package lazyfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// createWriter creates name in dir, writes data and fsyncs the file, and
// fsyncs dir only if syncDir. It stands for an engine that makes a new
// file (a segment, a manifest, a checkpoint) and acknowledges it.
func createWriter(t testing.TB, dir, name string, data []byte, syncDir bool) {
	t.Helper()
	writeFile(t, filepath.Join(dir, name), data, true)
	if syncDir {
		syncPath(t, dir)
	}
}

// TestCreateNeedsDirectorySync is the lost-directory-entry bug: the file's
// data was fsynced, but its directory never was, so after a power loss no
// entry names it. LazyFS makes creates durable at once and would keep the
// file, missing the bug; lazyfs holds the entry until the directory sync.
func TestCreateNeedsDirectorySync(t *testing.T) {
	data := bytes.Repeat([]byte("acknowledged "), 1000)
	for _, tc := range []struct {
		name    string
		syncDir bool
		want    []byte
	}{
		{"no-dir-sync", false, nil},
		{"dir-sync", true, data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mountT(t, Options{})
			m := f.Mountpoint()
			createWriter(t, m, "segment", data, tc.syncDir)
			wantContent(t, filepath.Join(m, "segment"), data) // read-your-writes
			crashT(t, f, 0, 1)
			wantContent(t, filepath.Join(m, "segment"), tc.want)
			wantContent(t, filepath.Join(f.Backing(), "segment"), tc.want)
		})
	}
}

// TestExt4ProfileSyncsNames is the same writer under both profiles: under
// Ext4 the file's fsync also makes its entry durable, and the entries of
// the directories created on its way; under Strict neither survives. A
// profile that stopped syncing names (or synced them under Strict) fails.
func TestExt4ProfileSyncsNames(t *testing.T) {
	data := bytes.Repeat([]byte("acknowledged "), 100)
	for _, tc := range []struct {
		profile Profile
		want    []byte
	}{
		{Strict, nil},
		{Ext4, data},
	} {
		t.Run(string(tc.profile), func(t *testing.T) {
			f := mountT(t, Options{Profile: tc.profile})
			m := f.Mountpoint()
			if err := os.MkdirAll(filepath.Join(m, "a", "b"), 0o755); err != nil {
				t.Fatal(err)
			}
			createWriter(t, filepath.Join(m, "a", "b"), "segment", data, false)
			// A sibling written but never synced stays volatile under both.
			writeFile(t, filepath.Join(m, "a", "unsynced"), data, false)
			crashT(t, f, 0, 1)
			wantContent(t, filepath.Join(m, "a", "b", "segment"), tc.want)
			wantContent(t, filepath.Join(m, "a", "unsynced"), nil)
		})
	}
	if _, err := ParseProfile("btrfs"); !errors.Is(err, ErrBadOption) {
		t.Errorf("ParseProfile(btrfs) = %v, want ErrBadOption", err)
	}
}

// TestDurabilityModel walks the rules one at a time: each case prepares a
// durable state, makes changes, syncs some, crashes and checks each path.
func TestDurabilityModel(t *testing.T) {
	old, nu := []byte("old content"), []byte("new content, longer")
	type want = map[string][]byte
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, m string) // made durable before the run
		run   func(t *testing.T, m string)
		want  want
	}{
		{
			name: "unsynced-write-lost",
			setup: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "f"), old, true)
			},
			run: func(t *testing.T, m string) {
				fh, err := os.OpenFile(filepath.Join(m, "f"), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer fh.Close()
				if _, err := fh.WriteAt([]byte("NEW"), 0); err != nil {
					t.Fatal(err)
				}
			},
			want: want{"f": old},
		},
		{
			name: "fdatasync-keeps-write",
			setup: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "f"), old, true)
			},
			run: func(t *testing.T, m string) {
				fh, err := os.OpenFile(filepath.Join(m, "f"), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer fh.Close()
				if _, err := fh.WriteAt([]byte("NEW"), 0); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Fdatasync(int(fh.Fd())); err != nil {
					t.Fatal(err)
				}
			},
			want: want{"f": []byte("NEW content")},
		},
		{
			name: "unlink-without-dir-sync-comes-back",
			setup: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "f"), old, true)
			},
			run: func(t *testing.T, m string) {
				if err := os.Remove(filepath.Join(m, "f")); err != nil {
					t.Fatal(err)
				}
			},
			want: want{"f": old},
		},
		{
			name: "rename-over-without-dir-sync-keeps-old",
			setup: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "CURRENT"), old, true)
			},
			run: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "CURRENT.tmp"), nu, true)
				if err := os.Rename(filepath.Join(m, "CURRENT.tmp"), filepath.Join(m, "CURRENT")); err != nil {
					t.Fatal(err)
				}
			},
			want: want{"CURRENT": old, "CURRENT.tmp": nil},
		},
		{
			name: "rename-over-with-dir-sync",
			setup: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "CURRENT"), old, true)
			},
			run: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "CURRENT.tmp"), nu, true)
				if err := os.Rename(filepath.Join(m, "CURRENT.tmp"), filepath.Join(m, "CURRENT")); err != nil {
					t.Fatal(err)
				}
				syncPath(t, m)
			},
			want: want{"CURRENT": nu, "CURRENT.tmp": nil},
		},
		{
			name: "rename-without-file-sync-is-empty",
			run: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "f.tmp"), nu, false)
				if err := os.Rename(filepath.Join(m, "f.tmp"), filepath.Join(m, "f")); err != nil {
					t.Fatal(err)
				}
				syncPath(t, m)
			},
			want: want{"f": {}},
		},
		{
			name: "subdirectory-needs-parent-sync",
			run: func(t *testing.T, m string) {
				d := filepath.Join(m, "d")
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
				createWriter(t, d, "f", nu, true)
			},
			want: want{"d/f": nil, "d": nil},
		},
		{
			name: "subdirectory-with-parent-sync",
			run: func(t *testing.T, m string) {
				d := filepath.Join(m, "d")
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
				createWriter(t, d, "f", nu, true)
				syncPath(t, m)
			},
			want: want{"d/f": nu},
		},
		{
			name: "directory-rename-moves-synced-tree",
			setup: func(t *testing.T, m string) {
				for _, d := range []string{"a", "b", "a/x"} {
					if err := os.Mkdir(filepath.Join(m, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				createWriter(t, filepath.Join(m, "a/x"), "f", old, true)
			},
			run: func(t *testing.T, m string) {
				if err := os.Rename(filepath.Join(m, "a/x"), filepath.Join(m, "b/x")); err != nil {
					t.Fatal(err)
				}
				syncPath(t, filepath.Join(m, "b"))
			},
			want: want{"b/x/f": old, "a/x/f": nil},
		},
		{
			name: "removed-directory-keeps-moved-file",
			setup: func(t *testing.T, m string) {
				if err := os.Mkdir(filepath.Join(m, "d"), 0o755); err != nil {
					t.Fatal(err)
				}
				createWriter(t, filepath.Join(m, "d"), "f", old, true)
			},
			run: func(t *testing.T, m string) {
				if err := os.Rename(filepath.Join(m, "d/f"), filepath.Join(m, "f")); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(m, "d")); err != nil {
					t.Fatal(err)
				}
				syncPath(t, m)
			},
			want: want{"f": old, "d": nil},
		},
		{
			name: "hard-link-shares-synced-data",
			setup: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "f"), old, true)
			},
			run: func(t *testing.T, m string) {
				if err := os.Link(filepath.Join(m, "f"), filepath.Join(m, "g")); err != nil {
					t.Fatal(err)
				}
				syncPath(t, m)
				writeFile(t, filepath.Join(m, "g"), nu, true)
			},
			want: want{"f": nu, "g": nu},
		},
		{
			name: "truncate-then-extend-reads-zeros",
			setup: func(t *testing.T, m string) {
				writeFile(t, filepath.Join(m, "f"), bytes.Repeat([]byte{'x'}, 3*blockSize), true)
			},
			run: func(t *testing.T, m string) {
				p := filepath.Join(m, "f")
				if err := os.Truncate(p, 10); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, 2*blockSize); err != nil {
					t.Fatal(err)
				}
				want := append(bytes.Repeat([]byte{'x'}, 10), make([]byte, 2*blockSize-10)...)
				wantContent(t, p, want)
				syncPath(t, p)
			},
			want: want{"f": append(bytes.Repeat([]byte{'x'}, 10), make([]byte, 2*blockSize-10)...)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mountT(t, Options{})
			m := f.Mountpoint()
			if tc.setup != nil {
				tc.setup(t, m)
				syncTree(t, m)
			}
			tc.run(t, m)
			crashT(t, f, 0, 1)
			for p, w := range tc.want {
				if len(w) == 0 && w != nil {
					wantContent(t, filepath.Join(m, p), []byte{})
					continue
				}
				if st, err := os.Stat(filepath.Join(m, p)); err == nil && st.IsDir() {
					if w == nil {
						t.Errorf("directory %s survived, want it gone", p)
					}
					continue
				}
				wantContent(t, filepath.Join(m, p), w)
			}
		})
	}
}

// syncTree fsyncs every file and directory under root, children first.
func syncTree(t testing.TB, root string) {
	t.Helper()
	var dirs []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		syncPath(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		syncPath(t, dirs[i])
	}
}

// TestTornWrites keeps a seeded share of the unsynced blocks: with 0 none
// survive, with 100 all do, in between some do and some do not, and the
// same seed tears the same way.
func TestTornWrites(t *testing.T) {
	const blocks = 64
	f := mountT(t, Options{})
	m := f.Mountpoint()
	p := filepath.Join(m, "f")
	writeFile(t, p, make([]byte, blocks*blockSize), true)
	syncPath(t, m)
	kept := func(keep int, seed uint64) int {
		fh, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteAt(bytes.Repeat([]byte{1}, blocks*blockSize), 0); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		if got := f.UnsyncedBytes(); got != blocks*blockSize {
			t.Errorf("UnsyncedBytes = %d, want %d", got, blocks*blockSize)
		}
		crashT(t, f, keep, seed)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for b := range blocks {
			blk := got[b*blockSize : (b+1)*blockSize]
			switch {
			case bytes.Count(blk, []byte{1}) == blockSize:
				n++
			case bytes.Count(blk, []byte{0}) != blockSize:
				t.Errorf("block %d is mixed: tearing is by whole 4 KiB blocks", b)
			}
		}
		writeFile(t, p, make([]byte, blocks*blockSize), true)
		return n
	}
	if n := kept(0, 7); n != 0 {
		t.Errorf("keep 0: %d blocks survived", n)
	}
	if n := kept(100, 7); n != blocks {
		t.Errorf("keep 100: %d of %d blocks survived", n, blocks)
	}
	a, b := kept(50, 7), kept(50, 7)
	if a == 0 || a == blocks {
		t.Errorf("keep 50: %d of %d blocks survived, want a torn file", a, blocks)
	}
	if a != b {
		t.Errorf("keep 50 with one seed kept %d then %d blocks", a, b)
	}
}

// TestUnsynced checks the report of what a crash would lose.
func TestUnsynced(t *testing.T) {
	f := mountT(t, Options{})
	m := f.Mountpoint()
	writeFile(t, filepath.Join(m, "f"), make([]byte, 10000), false)
	u, err := f.Unsynced()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Unsynced{Bytes: 3 * blockSize, Files: 1, Entries: 1}); u != want {
		t.Errorf("Unsynced = %+v, want %+v", u, want)
	}
	syncPath(t, filepath.Join(m, "f"))
	syncPath(t, m)
	if u, _ := f.Unsynced(); u != (Unsynced{}) {
		t.Errorf("after syncs Unsynced = %+v, want zero", u)
	}
}

// TestCrashBusy: a crash with a file still open is refused and changes
// nothing; after the close it goes ahead.
func TestCrashBusy(t *testing.T) {
	f := mountT(t, Options{})
	m := f.Mountpoint()
	fh, err := os.Create(filepath.Join(m, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Crash(0, 1); !errors.Is(err, ErrBusy) {
		t.Errorf("Crash with an open file: %v, want ErrBusy", err)
	}
	if _, err := fh.Write([]byte("still served")); err != nil {
		t.Errorf("write after refused crash: %v", err)
	}
	fh.Close()
	crashT(t, f, 0, 1)
	wantContent(t, filepath.Join(m, "f"), nil)
	if err := f.Crash(101, 1); !errors.Is(err, ErrBadOption) {
		t.Errorf("Crash(101): %v, want ErrBadOption", err)
	}
}

// TestForceUnmount tears down a mount with a file still open: the handle
// fails instead of hanging, and the durable state stays in the backing
// directory.
func TestForceUnmount(t *testing.T) {
	f := mountT(t, Options{})
	m := f.Mountpoint()
	writeFile(t, filepath.Join(m, "kept"), []byte("durable"), true)
	syncPath(t, m)
	fh, err := os.Create(filepath.Join(m, "open"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := f.Unmount(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Unmount with an open file: %v, want ErrBusy", err)
	}
	if err := f.ForceUnmount(); err != nil {
		t.Fatalf("ForceUnmount: %v", err)
	}
	if _, err := fh.Write([]byte("x")); err == nil {
		t.Errorf("write on a handle of a torn-down mount succeeded")
	}
	wantContent(t, filepath.Join(f.Backing(), "kept"), []byte("durable"))
	wantContent(t, filepath.Join(f.Backing(), "open"), nil)
	if _, err := f.Unsynced(); !errors.Is(err, ErrClosed) {
		t.Errorf("Unsynced after ForceUnmount: %v, want ErrClosed", err)
	}
}
