package bbolt

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/faults"
)

// closedStore writes a log of a few thousand entries and two hard states,
// closes it cleanly and returns its directory.
func closedStore(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	e, err := Open(raftlog.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for lo := uint64(1); lo <= 3000; lo += 100 {
		b := make([]raftlog.Entry, 100)
		for i := range b {
			b[i] = raftlog.Entry{Index: lo + uint64(i), Term: 1, Data: make([]byte, 300)}
		}
		if err := e.PersistEntries(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, hs := range []raftlog.HardState{{Term: 1, Vote: raftlog.Vote{Term: 1, Candidate: "a"}}, {Term: 2, Vote: raftlog.Vote{Term: 2, Candidate: "b"}}} {
		if err := e.SaveHardState(hs); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wantCorrupt opens dir twice: both opens must fail with ErrCorrupt.
func wantCorrupt(t *testing.T, dir, what string) {
	t.Helper()
	for attempt := 1; attempt <= 2; attempt++ {
		e, err := Open(raftlog.Options{Dir: dir})
		if err == nil {
			hs, _, _ := e.LoadHardState()
			last := e.LastIndex()
			_ = e.Close()
			t.Fatalf("%s: open %d succeeded (LastIndex %d, hard state %+v); want ErrCorrupt", what, attempt, last, hs)
		}
		if !errors.Is(err, raftlog.ErrCorrupt) {
			t.Fatalf("%s: open %d: %v; want ErrCorrupt", what, attempt, err)
		}
	}
}

// TestTruncatedFileIsCorrupt: bbolt would fault reading past the end of a
// cut file through its mapping, or panic in the goroutine that rebuilds its
// free list, and kill the process; the engine checks the file first.
func TestTruncatedFileIsCorrupt(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		dir := closedStore(t)
		d, err := faults.Corruption{Kind: faults.CorruptTruncate, Seed: seed, Path: FileName}.ApplyDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		wantCorrupt(t, dir, d.String())
	}
}

// TestZeroedPageIsCorrupt: a page of the tree zeroed panics bbolt in its
// own goroutine at open.
func TestZeroedPageIsCorrupt(t *testing.T) {
	dir := closedStore(t)
	path := filepath.Join(dir, FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(binary.LittleEndian.Uint32(raw[16+8:]))
	zeroed := 0
	for p := 2; (p+1)*ps <= len(raw); p++ {
		page := raw[p*ps : (p+1)*ps]
		// A leaf (flags 0x02) that says it is page p.
		if binary.LittleEndian.Uint64(page) == uint64(p) && binary.LittleEndian.Uint16(page[8:]) == 0x02 {
			clear(page)
			zeroed++
			break
		}
	}
	if zeroed == 0 {
		t.Fatal("no leaf page found")
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, dir, "a leaf page zeroed")
}

// TestNewestMetaPageDamaged: bbolt falls back on the meta page before,
// which names the transaction before: the hard state saved last would be
// forgotten. The record of the clean close names the transaction.
func TestNewestMetaPageDamaged(t *testing.T) {
	dir := closedStore(t)
	path := filepath.Join(dir, FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(binary.LittleEndian.Uint32(raw[16+8:]))
	txid := func(p int) uint64 { return binary.LittleEndian.Uint64(raw[p*ps+16+48:]) }
	newest := 0
	if txid(1) > txid(0) {
		newest = 1
	}
	raw[newest*ps+16+20] ^= 1 // the root page id, under the checksum
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, dir, "the newest meta page flipped")
}

func TestDeletedFileIsCorrupt(t *testing.T) {
	dir := closedStore(t)
	if err := os.Remove(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, dir, "the file deleted")
}
