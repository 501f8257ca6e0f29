package pebble_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/pebble"
)

// writeClosed writes n records of size bytes to shard "s" of a new engine
// in dir, deletes every tenth and closes it cleanly.
func writeClosed(t *testing.T, dir string, n, size int, params map[string]string) {
	t.Helper()
	ctx := context.Background()
	a, err := pebble.Open(adapter.Options{Dir: dir, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := a.Write(ctx, "s", adapter.Record{Key: fmt.Sprint(i), Data: bytes.Repeat([]byte{byte(i)}, size)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 10 {
		if err := a.DeleteByOffset(ctx, "s", uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// readBack opens dir and returns the error of the open or of the first
// read that fails, or whether every live record, and no deleted one, reads
// back.
func readBack(t *testing.T, dir string, n, size int) error {
	t.Helper()
	ctx := context.Background()
	a, err := pebble.Open(adapter.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer a.Close()
	rs, err := a.ReadByOffset(ctx, "s", 0, n+1)
	if err != nil {
		return err
	}
	var want int
	for i := 0; i < n; i++ {
		if i%10 != 0 {
			want++
		}
	}
	if len(rs) != want {
		return fmt.Errorf("silent: %d live records read back, want %d", len(rs), want)
	}
	for _, r := range rs {
		if r.Offset%10 == 0 || !bytes.Equal(r.Data, bytes.Repeat([]byte{byte(r.Offset)}, size)) {
			return fmt.Errorf("silent: record %d is wrong or was deleted", r.Offset)
		}
	}
	return nil
}

// files lists the names in dir with the suffix, sorted.
func files(t *testing.T, dir, suffix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// TestDamagedWALAfterCleanClose: a flipped byte in the last records of the
// newest write-ahead log reads as the tail a crash tore, and a deleted log
// as no log: records acknowledged and synced vanished, deleted ones came
// back, without an error. After a clean close both are adapter.ErrCorrupt.
func TestDamagedWALAfterCleanClose(t *testing.T) {
	t.Run("the tail flipped", func(t *testing.T) {
		// Each byte of the last hundred of the newest log, in turn: the
		// records there are the last written; the flip is detected or
		// misses what matters, never drops them silently.
		for back := 2; back <= 100; back += 7 {
			dir := t.TempDir()
			writeClosed(t, dir, 300, 200, nil)
			logs := files(t, dir, ".log")
			path := filepath.Join(dir, logs[len(logs)-1])
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			at := len(bytes.TrimRight(b, "\x00")) - back
			b[at] ^= 0x10
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			for attempt := 1; attempt <= 2; attempt++ {
				if err := readBack(t, dir, 300, 200); err != nil && !errors.Is(err, adapter.ErrCorrupt) {
					t.Fatalf("byte %d of %s flipped: open %d: %v; want adapter.ErrCorrupt or every record", at, logs[len(logs)-1], attempt, err)
				}
			}
		}
	})
	t.Run("the newest log deleted", func(t *testing.T) {
		dir := t.TempDir()
		writeClosed(t, dir, 300, 200, nil)
		logs := files(t, dir, ".log")
		if err := os.Remove(filepath.Join(dir, logs[len(logs)-1])); err != nil {
			t.Fatal(err)
		}
		for attempt := 1; attempt <= 2; attempt++ {
			if err := readBack(t, dir, 300, 200); !errors.Is(err, adapter.ErrCorrupt) {
				t.Fatalf("open %d: %v; want adapter.ErrCorrupt", attempt, err)
			}
		}
	})
}

// TestTableDamageIsErrCorrupt: pebble's own corruption errors, a table
// block that fails its checksum, are adapter.ErrCorrupt.
func TestTableDamageIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	// Past the 1 MiB memtable: tables are flushed.
	writeClosed(t, dir, 3000, 1000, map[string]string{"memtable_size": "1048576"})
	ssts := files(t, dir, ".sst")
	if len(ssts) == 0 {
		t.Fatal("no table was flushed")
	}
	path := filepath.Join(dir, ssts[0])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = readBack(t, dir, 3000, 1000)
	if !errors.Is(err, adapter.ErrCorrupt) {
		t.Fatalf("read over a damaged table: %v; want adapter.ErrCorrupt", err)
	}
}
