package workloads

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPreloadBatches(t *testing.T) {
	var got []int
	err := PreloadBatches(context.Background(), 2500, 1000, func(n int) error {
		got = append(got, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1000, 1000, 500}; !slices.Equal(got, want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := PreloadBatches(ctx, 10, 1, func(int) error { return nil }); err != context.Canceled {
		t.Fatalf("cancelled preload returned %v, want context.Canceled", err)
	}
}

func TestPhysicalLogAppend(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	l, err := OpenPhysicalLog("fam", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames := [][]byte{[]byte("alpha"), []byte("bravo-charlie"), bytes.Repeat([]byte{7}, PhysicalPreallocChunk)}
	var want []byte
	for _, fr := range frames {
		if err := l.Append(fr); err != nil {
			t.Fatal(err)
		}
		want = append(want, fr...)
	}
	if got := l.Size(); got != int64(len(want)) {
		t.Fatalf("Size() = %d, want %d", got, len(want))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "physical.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < len(want)+PhysicalPreallocChunk/2 {
		t.Fatalf("file is %d bytes, want at least %d (zero-filled ahead)", len(got), len(want)+PhysicalPreallocChunk/2)
	}
	if !bytes.Equal(got[:len(want)], want) {
		t.Fatal("frames not written back to back")
	}
	if bytes.ContainsFunc(got[len(want):], func(r rune) bool { return r != 0 }) {
		t.Fatal("region past the frames is not zero-filled")
	}
}

func TestOpenPhysicalLogRejects(t *testing.T) {
	tests := []struct {
		name   string
		dir    string
		params map[string]string
		want   string
	}{
		{"params", t.TempDir(), map[string]string{"x": "1"}, "fam: the physical baseline takes no parameters"},
		{"no dir", "", nil, "fam: the physical baseline needs a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := OpenPhysicalLog("fam", tt.dir, tt.params)
			if err == nil {
				l.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
