package faults_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/faults"
)

// store lays out a small store: a log with data then preallocated zeros, a
// manifest, an empty lock file and a file in a subdirectory.
func store(t testing.TB, fs vfs.FS, dir string) map[string][]byte {
	t.Helper()
	logData := append(bytes.Repeat([]byte("record-"), 2000), make([]byte, 3*faults.BlockSize)...)
	files := map[string][]byte{
		"000001.log":   logData,
		"MANIFEST-001": []byte("manifest: tables 1 2 3\n"),
		"LOCK":         nil,
		"sub/data.seg": bytes.Repeat([]byte{0xAB}, 10000),
	}
	for name, data := range files {
		full := fs.PathJoin(dir, name)
		if err := fs.MkdirAll(fs.PathDir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := fs.Create(full, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"/", dir, fs.PathJoin(dir, "sub")} {
		df, err := fs.OpenDir(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := df.Sync(); err != nil {
			t.Fatal(err)
		}
		_ = df.Close()
	}
	return files
}

func readAll(t testing.TB, fs vfs.FS, name string) ([]byte, bool) {
	t.Helper()
	f, err := fs.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}

// filesystems are the two places a corruption applies: an in-memory
// crashable file system and a directory of the operating system's.
func filesystems(t *testing.T) map[string]func() (vfs.FS, string) {
	return map[string]func() (vfs.FS, string){
		"memfs": func() (vfs.FS, string) { return vfs.NewCrashableMem(), "/db" },
		"os":    func() (vfs.FS, string) { return vfs.Default, t.TempDir() },
	}
}

func TestCorruptionKinds(t *testing.T) {
	for fsName, mk := range filesystems(t) {
		for _, kind := range faults.CorruptKinds() {
			for seed := uint64(1); seed <= 8; seed++ {
				fs, dir := mk()
				want := store(t, fs, dir)
				c := faults.Corruption{Kind: kind, Seed: seed}
				d, err := c.Apply(fs, dir)
				if err != nil {
					t.Fatalf("%s: %s: %v", fsName, c, err)
				}
				if d.Path == "LOCK" {
					t.Fatalf("%s: %s chose the empty file LOCK", fsName, c)
				}
				before := want[d.Path]
				after, exists := readAll(t, fs, fs.PathJoin(dir, d.Path))
				dataEnd := int64(len(bytes.TrimRight(before, "\x00")))
				switch kind {
				case faults.CorruptFlip:
					if len(after) != len(before) || d.Len != 1 || d.Off >= dataEnd || before[d.Off] == 0 {
						t.Fatalf("%s: %s: %s: not a flip of a data byte", fsName, c, d)
					}
					diff := 0
					for i := range before {
						if before[i] != after[i] {
							diff++
						}
					}
					if diff != 1 || before[d.Off]^after[d.Off] != 1<<d.Bit {
						t.Fatalf("%s: %s: %s changed %d bytes", fsName, c, d, diff)
					}
				case faults.CorruptZero:
					if d.Off%faults.BlockSize != 0 || d.Off >= dataEnd || len(after) != len(before) {
						t.Fatalf("%s: %s: %s: not an aligned block of data", fsName, c, d)
					}
					if !bytes.Equal(after[d.Off:d.Off+d.Len], make([]byte, d.Len)) || bytes.Equal(before[d.Off:d.Off+d.Len], make([]byte, d.Len)) {
						t.Fatalf("%s: %s: %s: the block was not data turned to zeros", fsName, c, d)
					}
				case faults.CorruptTruncate:
					if int64(len(after)) != d.Off || d.Off >= dataEnd || !bytes.Equal(after, before[:d.Off]) {
						t.Fatalf("%s: %s: %s: file is %d bytes, data ends at %d", fsName, c, d, len(after), dataEnd)
					}
				case faults.CorruptDelete:
					if exists {
						t.Fatalf("%s: %s: %s: the file is still there", fsName, c, d)
					}
				case faults.CorruptGarbage:
					if int64(len(after)) != int64(len(before))+d.Len || d.Len < 1 || !bytes.Equal(after[:len(before)], before) {
						t.Fatalf("%s: %s: %s: file is %d bytes", fsName, c, d, len(after))
					}
				}
				// Nothing else changed.
				for name, data := range want {
					if name == d.Path {
						continue
					}
					if got, ok := readAll(t, fs, fs.PathJoin(dir, name)); !ok || !bytes.Equal(got, data) {
						t.Fatalf("%s: %s: %s also changed %s", fsName, c, d, name)
					}
				}
				if _, ok := readAll(t, fs, fs.PathJoin(dir, d.Path+".corrupt-tmp")); ok {
					t.Fatalf("%s: %s left a temporary file", fsName, c)
				}
			}
		}
	}
}

// The same corruption on the same files does the same damage, on either
// file system; another seed may choose elsewhere.
func TestCorruptionSeeded(t *testing.T) {
	for _, kind := range faults.CorruptKinds() {
		seen := map[string]bool{}
		for seed := uint64(1); seed <= 12; seed++ {
			c := faults.Corruption{Kind: kind, Seed: seed}
			var got []string
			for _, mk := range filesystems(t) {
				fs, dir := mk()
				store(t, fs, dir)
				d, err := c.Apply(fs, dir)
				if err != nil {
					t.Fatal(err)
				}
				if d.By != c.String() {
					t.Fatalf("damage By %q, want %q", d.By, c)
				}
				got = append(got, d.String())
			}
			if got[0] != got[1] {
				t.Fatalf("%s: %q on one file system, %q on the other", c, got[0], got[1])
			}
			seen[got[0]] = true
		}
		want := 5
		if kind == faults.CorruptDelete {
			want = 3 // one damage per non-empty file
		}
		if len(seen) < want {
			t.Errorf("%s: 12 seeds did only %d different damages: %v", kind, len(seen), seen)
		}
	}
}

func TestCorruptionTargets(t *testing.T) {
	cases := []struct {
		name      string
		c         faults.Corruption
		wantPaths []string // any of these
		maxOff    int64
	}{
		{"path on the base name", faults.Corruption{Kind: faults.CorruptFlip, Path: "MANIFEST-*"}, []string{"MANIFEST-001"}, 1 << 30},
		{"path on the relative path", faults.Corruption{Kind: faults.CorruptTruncate, Path: "sub/*"}, []string{"sub/data.seg"}, 1 << 30},
		{"alternatives", faults.Corruption{Kind: faults.CorruptDelete, Path: "*.log|*.seg"}, []string{"000001.log", "sub/data.seg"}, 1 << 30},
		{"head", faults.Corruption{Kind: faults.CorruptZero, Path: "*.log", At: faults.RegionHead}, []string{"000001.log"}, faults.HeadSize - 1},
		{"head cut", faults.Corruption{Kind: faults.CorruptTruncate, Path: "*.seg", At: faults.RegionHead}, []string{"sub/data.seg"}, faults.HeadSize - 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(0); seed < 10; seed++ {
				fs := vfs.NewCrashableMem()
				store(t, fs, "/db")
				c := tc.c
				c.Seed = seed
				d, err := c.Apply(fs, "/db")
				if err != nil {
					t.Fatal(err)
				}
				ok := false
				for _, p := range tc.wantPaths {
					ok = ok || p == d.Path
				}
				if !ok || d.Off > tc.maxOff {
					t.Fatalf("%s: %s; want a file of %v below offset %d", c, d, tc.wantPaths, tc.maxOff)
				}
			}
		})
	}
}

// A crashable file system keeps the damage across a power loss.
func TestCorruptionSurvivesPowerLoss(t *testing.T) {
	for _, kind := range faults.CorruptKinds() {
		mem := vfs.NewCrashableMem()
		store(t, mem, "/db")
		d, err := faults.Corruption{Kind: kind, Seed: 3}.Apply(mem, "/db")
		if err != nil {
			t.Fatal(err)
		}
		want, wantOK := readAll(t, mem, "/db/"+d.Path)
		clone := faults.PowerLoss(mem, 1, 0)
		got, gotOK := readAll(t, clone, "/db/"+d.Path)
		if wantOK != gotOK || !bytes.Equal(got, want) {
			t.Fatalf("%s: the power loss undid part of it (exists %v -> %v, %d -> %d bytes)", d, wantOK, gotOK, len(want), len(got))
		}
	}
}

func TestCorruptionNoTarget(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "zeros"), make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []faults.Corruption{
		{Kind: faults.CorruptFlip},
		{Kind: faults.CorruptZero},
		{Kind: faults.CorruptTruncate},
		{Kind: faults.CorruptDelete, Path: "empty"},
		{Kind: faults.CorruptGarbage, Path: "missing*"},
	}
	for _, c := range cases {
		if d, err := c.ApplyDir(dir); !errors.Is(err, faults.ErrNoTarget) {
			t.Errorf("%s on zeros and an empty file: %s, %v; want ErrNoTarget", c, d, err)
		}
	}
	// Deleting and appending need no data: the file of zeros is a target.
	if d, err := (faults.Corruption{Kind: faults.CorruptGarbage}).ApplyDir(dir); err != nil || d.Path != "zeros" {
		t.Errorf("garbage: %s, %v; want the file of zeros", d, err)
	}
}

func TestCorruptionText(t *testing.T) {
	good := []string{
		"corrupt(kind=flip,seed=7)",
		"corrupt(kind=zero,path=MANIFEST-*|hardstate,at=head,seed=1)",
		"corrupt(kind=truncate,path=*.wal,seed=3)",
		"corrupt(kind=delete,seed=0)",
		"corrupt(kind=garbage,seed=18446744073709551615)",
	}
	for _, s := range good {
		c, err := faults.ParseCorruption(s)
		if err != nil {
			t.Errorf("ParseCorruption(%q): %v", s, err)
			continue
		}
		if c.String() != s {
			t.Errorf("ParseCorruption(%q).String() = %q", s, c)
		}
		if _, err := faults.Parse(s); !errors.Is(err, faults.ErrSyntax) || !strings.Contains(err.Error(), "ParseCorruption") {
			t.Errorf("Parse(%q) = %v; want ErrSyntax naming ParseCorruption", s, err)
		}
	}
	// Arguments in another order or with at=any read back canonical.
	if c, err := faults.ParseCorruption("corrupt(seed=2, at=any, kind=FLIP)"); err != nil || c.String() != "corrupt(kind=flip,seed=2)" {
		t.Errorf("non-canonical line: %v, %v", c, err)
	}
	bad := map[string]string{
		"corrupt(seed=1)":                    "needs a kind",
		"corrupt(kind=flip)":                 "needs a seed",
		"corrupt(kind=melt,seed=1)":          "unknown corruption kind",
		"corrupt(kind=flip,seed=-1)":         "unsigned",
		"corrupt(kind=flip,seed=1,at=tail)":  "at must be",
		"corrupt(kind=flip,seed=1,size=4)":   "no argument",
		"corrupt(kind=flip,seed=1,path=[)":   "path pattern",
		"corrupt(kind=flip,seed=1,seed=2)":   "twice",
		"flip(seed=1)":                       "not a corruption",
		"corrupt(kind=flip,seed=1,path=a|)":  "empty path pattern",
		"corrupt(kind=flip,seed=1,at=head,)": "empty argument",
	}
	for s, want := range bad {
		_, err := faults.ParseCorruption(s)
		if !errors.Is(err, faults.ErrSyntax) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCorruption(%q) = %v; want ErrSyntax saying %q", s, err, want)
		}
	}
	if _, err := (faults.Corruption{}).Apply(vfs.NewMem(), "/"); !errors.Is(err, faults.ErrBadArgument) {
		t.Errorf("zero Corruption: %v; want ErrBadArgument", err)
	}
}
