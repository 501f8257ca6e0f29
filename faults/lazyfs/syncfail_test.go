package lazyfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// logWriter appends fixed-size records to one file and acknowledges a
// record once its fsync returns. On EIO it either retries the fsync
// (the fsyncgate bug: the retry succeeds, but the data is gone) or gives
// up and acknowledges nothing more.
type logWriter struct {
	fh       *os.File
	retry    bool
	acked    [][]byte
	next     int64
	failures int
}

// recordSize puts each record in a 4 KiB block of its own: a later write
// to the block of a record whose sync failed would dirty it again and
// carry it to disk, as on Linux.
const recordSize = blockSize

func record(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("rec%05d|", i)), recordSize/9+1)[:recordSize]
}

// append writes record i and syncs; it returns the error the writer gives
// up on.
func (w *logWriter) append(i int) error {
	r := record(i)
	if _, err := w.fh.WriteAt(r, w.next); err != nil {
		return err
	}
	err := w.fh.Sync()
	for errors.Is(err, syscall.EIO) && w.retry {
		w.failures++
		err = w.fh.Sync()
	}
	if err != nil {
		w.failures++
		return err
	}
	w.next += recordSize
	w.acked = append(w.acked, r)
	return nil
}

// TestSyncFailure: one fsync fails in the middle of a run of appends. The
// writer that retries acknowledges the record anyway and loses it at the
// crash; the writer that stops on EIO keeps everything it acknowledged.
func TestSyncFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		retry    bool
		wantLoss bool
	}{
		{"retries-after-EIO", true, true},
		{"fails-on-EIO", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mountT(t, Options{})
			m := f.Mountpoint()
			p := filepath.Join(m, "log")
			fh, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			syncPath(t, m)
			w := &logWriter{fh: fh, retry: tc.retry}
			var stopped error
			for i := range 20 {
				if i == 10 {
					if err := f.FailNextSync(1); err != nil {
						t.Fatal(err)
					}
				}
				if stopped = w.append(i); stopped != nil {
					break
				}
			}
			if w.failures != 1 {
				t.Errorf("writer saw %d sync failures, want 1", w.failures)
			}
			if !tc.retry && !errors.Is(stopped, syscall.EIO) {
				t.Errorf("writer stopped with %v, want EIO", stopped)
			}
			// As from a page cache, the data whose sync failed is still
			// readable before the crash.
			before, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(before) < 11*recordSize || !bytes.Equal(before[10*recordSize:11*recordSize], record(10)) {
				t.Errorf("record 10 not readable before the crash")
			}
			if u, _ := f.Unsynced(); u.LostBytes == 0 {
				t.Errorf("Unsynced().LostBytes = 0 after a failed sync")
			}
			if _, failed := f.SyncCounts(); failed != 1 {
				t.Errorf("SyncCounts failed = %d, want 1", failed)
			}
			fh.Close()
			crashT(t, f, 0, 1)
			after, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			lost := 0
			for i, r := range w.acked {
				end := int64(i+1) * recordSize
				if int64(len(after)) < end || !bytes.Equal(after[end-recordSize:end], r) {
					lost++
				}
			}
			t.Logf("acknowledged %d records, %d lost after the crash", len(w.acked), lost)
			if got := lost > 0; got != tc.wantLoss {
				t.Errorf("lost %d acknowledged records, want loss=%v", lost, tc.wantLoss)
			}
		})
	}
}

// TestSyncFailureRedirty: after a failed sync, a new write into the same
// block dirties it again, and the next good sync carries the bytes whose
// sync failed along with the new ones, as a page of the page cache would.
func TestSyncFailureRedirty(t *testing.T) {
	f := mountT(t, Options{})
	m := f.Mountpoint()
	p := filepath.Join(m, "f")
	writeFile(t, p, make([]byte, blockSize), true)
	syncPath(t, m)
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt([]byte("first"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.FailNextSync(1); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync: %v, want EIO", err)
	}
	if _, err := fh.WriteAt([]byte("second"), 100); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatalf("sync after the failure: %v", err)
	}
	fh.Close()
	crashT(t, f, 0, 1)
	want := make([]byte, blockSize)
	copy(want, "first")
	copy(want[100:], "second")
	wantContent(t, p, want)
}
