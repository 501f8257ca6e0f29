package segment_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/segment"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

const segPath = "/data/shards/s/00000000000000000000.seg"

// setup writes n records of about 100 bytes to shard s on a fresh MemFS and
// closes the engine.
func setup(t testing.TB, n int) *vfs.MemFS {
	t.Helper()
	fs := vfs.NewMem()
	e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := e.Write(ctx, "s", adapter.Record{Key: "k", Data: fmt.Appendf(nil, "%090d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.CommitOffset(ctx, "g", "s", 3); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return fs
}

// asIfCrashed removes the record of the clean close setup made, leaving
// the files as a crash would: damage at the tail then models a write the
// crash tore.
func asIfCrashed(t testing.TB, fs vfs.FS) {
	t.Helper()
	if _, found, err := cleanclose.Read(fs, "/data"); err != nil || !found {
		t.Fatalf("no record of the clean close: %v", err)
	}
	if err := cleanclose.Remove(fs, "/data"); err != nil {
		t.Fatal(err)
	}
}

func size(t testing.TB, fs vfs.FS, path string) int64 {
	t.Helper()
	st, err := fs.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func writeAt(t testing.TB, fs vfs.FS, path string, p []byte, off int64) {
	t.Helper()
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailIsCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"short header", []byte{0x40, 0, 0}},
		{"short payload", []byte{100, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0}},
		{"zeros", make([]byte, 300)},
		{"bad checksum", append([]byte{4, 0, 0, 0, 9, 9, 9, 9}, 1, 2, 3, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := setup(t, 5)
			asIfCrashed(t, fs)
			good := size(t, fs, segPath)
			writeAt(t, fs, segPath, tc.tail, good)
			e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
			if err != nil {
				t.Fatalf("open with a torn tail: %v", err)
			}
			defer e.Close()
			if got := size(t, fs, segPath); got != good {
				t.Fatalf("segment is %d bytes after recovery, want %d", got, good)
			}
			ctx := context.Background()
			rs, err := e.ReadByOffset(ctx, "s", 0, 100)
			if err != nil || len(rs) != 5 {
				t.Fatalf("read after recovery: %d records, %v", len(rs), err)
			}
			if o, err := e.Write(ctx, "s", adapter.Record{Data: []byte("x")}); err != nil || o != 5 {
				t.Fatalf("write after recovery: offset %d, %v", o, err)
			}
		})
	}
}

func TestMidFileCorruptionIsReported(t *testing.T) {
	fs := setup(t, 5)
	// Flip a byte inside the second frame's payload: a good frame follows.
	writeAt(t, fs, segPath, []byte{0xff}, 150)
	_, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
	if !errors.Is(err, adapter.ErrCorrupt) {
		t.Fatalf("open with a damaged middle frame: got %v, want ErrCorrupt", err)
	}
}

func TestCorruptSealedSegmentIsReported(t *testing.T) {
	fs := vfs.NewMem()
	ctx := context.Background()
	e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs, Params: map[string]string{"segment_size": "300"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := e.Write(ctx, "s", adapter.Record{Data: fmt.Appendf(nil, "%090d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The first segment is sealed; damage its last frame.
	writeAt(t, fs, segPath, []byte{0xff}, size(t, fs, segPath)-3)
	if _, err := segment.Open(adapter.Options{Dir: "/data", FS: fs}); !errors.Is(err, adapter.ErrCorrupt) {
		t.Fatalf("open with a damaged sealed segment: got %v, want ErrCorrupt", err)
	}
}

func TestTornGroupsTailIsIgnored(t *testing.T) {
	fs := setup(t, 2)
	asIfCrashed(t, fs)
	path := "/data/shards/s/groups"
	writeAt(t, fs, path, []byte{50, 0, 0, 0, 1}, size(t, fs, path))
	e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
	if err != nil {
		t.Fatalf("open with a torn groups file: %v", err)
	}
	defer e.Close()
	if o, err := e.OffsetByGroup(context.Background(), "g", "s"); err != nil || o != 3 {
		t.Fatalf("group offset after recovery: %d, %v", o, err)
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []map[string]string{{"segment_size": "0"}, {"segment_size": "x"}, {"nope": "1"}} {
		if _, err := segment.Open(adapter.Options{Dir: "/data", FS: vfs.NewMem(), Params: p}); !errors.Is(err, adapter.ErrBadOption) {
			t.Fatalf("params %v: got %v, want ErrBadOption", p, err)
		}
	}
}

// TestCleanCloseDamageIsCorrupt: after a clean close nothing was in flight,
// so what recovery would cut as a torn tail is damage to synced data: a
// cut of the newest segment at a frame boundary brought deleted records
// back and handed their offsets out again, a torn-looking groups tail
// moved a group back. Each is adapter.ErrCorrupt at every open.
func TestCleanCloseDamageIsCorrupt(t *testing.T) {
	groups := "/data/shards/s/groups"
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, fs *vfs.MemFS)
	}{
		{"torn-looking tail", func(t *testing.T, fs *vfs.MemFS) {
			writeAt(t, fs, segPath, []byte{100, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0}, size(t, fs, segPath))
		}},
		{"last frame flipped", func(t *testing.T, fs *vfs.MemFS) {
			writeAt(t, fs, segPath, []byte{0xff}, size(t, fs, segPath)-3)
		}},
		{"cut at a frame boundary", func(t *testing.T, fs *vfs.MemFS) {
			// The last frame is the tombstone of the delete.
			b := read(t, fs, segPath)
			rewrite(t, fs, segPath, b[:lastFrame(b)])
		}},
		{"groups cut", func(t *testing.T, fs *vfs.MemFS) {
			b := read(t, fs, groups)
			rewrite(t, fs, groups, b[:lastFrame(b)])
		}},
		{"segment deleted", func(t *testing.T, fs *vfs.MemFS) {
			if err := fs.Remove(segPath); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := setup(t, 5)
			e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := e.DeleteByOffset(ctx, "s", 4); err != nil {
				t.Fatal(err)
			}
			if err := e.CommitOffset(ctx, "g", "s", 5); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, fs)
			for attempt := 1; attempt <= 2; attempt++ {
				e, err := segment.Open(adapter.Options{Dir: "/data", FS: fs})
				if err == nil {
					rs, _ := e.ReadByOffset(ctx, "s", 0, 100)
					g, _ := e.OffsetByGroup(ctx, "g", "s")
					_ = e.Close()
					t.Fatalf("open %d: no error, %d live records, group at %d; want ErrCorrupt", attempt, len(rs), g)
				}
				if !errors.Is(err, adapter.ErrCorrupt) {
					t.Fatalf("open %d: %v; want ErrCorrupt", attempt, err)
				}
			}
		})
	}
}

func read(t testing.TB, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, size(t, fs, path))
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func rewrite(t testing.TB, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// lastFrame returns the position of the last frame of a file of frames.
func lastFrame(b []byte) int {
	pos, last := 0, 0
	for pos+8 <= len(b) {
		n := int(b[pos]) | int(b[pos+1])<<8 | int(b[pos+2])<<16 | int(b[pos+3])<<24
		last = pos
		pos += 8 + n
	}
	return last
}
