package file

import (
	"errors"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// fuzzSegment is the name of the one segment FuzzRecover writes.
var fuzzSegment = "00000000000000000001" + segSuffix

// sampleSegment returns the bytes of a segment the engine wrote: batches, a
// truncate, a purge.
func sampleSegment(t testing.TB) []byte {
	t.Helper()
	fs := vfs.NewMem()
	e := openOn(t, fs, nil)
	mustPersist(t, e, makeBatch(1, 3, 1, 20))
	mustPersist(t, e, makeBatch(4, 2, 1, 0))
	if err := e.Truncate(5); err != nil {
		t.Fatal(err)
	}
	mustPersist(t, e, makeBatch(5, 4, 2, 9))
	if err := e.Purge(raftlog.LogID{Index: 2, Term: 1}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, e)
	return readFile(t, fs, fuzzSegment)
}

// FuzzRecover opens a log whose only segment holds arbitrary bytes (after a
// valid header when withHeader is set). Open must not panic or hang; it
// either fails with ErrCorrupt or yields a log whose every entry reads back,
// which takes an append and reopens with the same entries plus the new one.
func FuzzRecover(f *testing.F) {
	seg := sampleSegment(f)
	f.Add(seg[segHeaderSize:], true)
	f.Add(seg, false)
	f.Add(seg[segHeaderSize:len(seg)-5], true)
	f.Add(append(seg[segHeaderSize:len(seg):len(seg)], 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17), true)
	f.Add([]byte{}, true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, withHeader bool) {
		if withHeader {
			data = append(encodeSegHeader(segHeader{seq: 1}), data...)
		}
		fs := vfs.NewMem()
		writeFile(t, fs, fuzzSegment, data)
		o := raftlog.Options{Dir: testDir, FS: fs}
		e, err := Open(o)
		if err != nil {
			if !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("open: %v, want nil or ErrCorrupt", err)
			}
			return
		}
		first, last := e.FirstIndex(), e.LastIndex()
		if first != e.PurgedID().Index+1 || last+1 < first {
			t.Fatalf("bounds: first %d, last %d, purged %v", first, last, e.PurgedID())
		}
		var ents []raftlog.Entry
		if last >= first {
			if last-first > 1<<16 {
				t.Fatalf("%d entries out of %d bytes", last-first+1, len(data))
			}
			ents, err = e.Entries(first, last)
			if err != nil || uint64(len(ents)) != last-first+1 {
				t.Fatalf("Entries(%d, %d) = %d entries, %v", first, last, len(ents), err)
			}
			for _, want := range ents {
				got, err := e.Entry(want.Index)
				if err != nil || !sameEntry(got, want) {
					t.Fatalf("Entry(%d) = %s, %v; Entries gave %s", want.Index, describe(got), err, describe(want))
				}
			}
		}
		if last == math.MaxUint64 {
			_ = e.Close()
			return
		}
		extra := raftlog.Entry{Index: last + 1, Term: 99, Data: []byte("after recovery")}
		if err := e.PersistEntries([]raftlog.Entry{extra}); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e, err = Open(o)
		if err != nil {
			t.Fatalf("reopen after an append: %v", err)
		}
		defer e.Close()
		if e.FirstIndex() != first || e.LastIndex() != last+1 {
			t.Fatalf("after an append and reopen: first %d, last %d; want %d, %d", e.FirstIndex(), e.LastIndex(), first, last+1)
		}
		for _, want := range append(ents, extra) {
			got, err := e.Entry(want.Index)
			if err != nil || !sameEntry(got, want) {
				t.Fatalf("after reopen Entry(%d) = %s, %v; want %s", want.Index, describe(got), err, describe(want))
			}
		}
	})
}
