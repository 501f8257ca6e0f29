package faults

import (
	"io"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// extent is a run of bytes written at off and not yet synced.
type extent struct {
	off  int64
	data []byte
}

func (e extent) end() int64 { return e.off + int64(len(e.data)) }

// fileState is the view *FS keeps of one file (one inode) while it holds
// unsynced writes: the underlying file holds the content as of the last good
// sync (synced bytes long), and dirty holds every write since, so reads see
// the underlying bytes with dirty laid over them, cut at size. Every handle
// of the file shares it.
type fileState struct {
	mu     sync.Mutex
	path   string   // a current name of the file; "" once every name is gone
	size   int64    // logical size, as reads and Stat see it
	synced int64    // size of the underlying file
	dirty  []extent // sorted by off, pairwise disjoint

	// Guarded by FS.mu.
	refs  int // open handles
	names int // keys of FS.files that map to this state
}

// writeAt lays a copy of p over the file at off.
func (s *fileState) writeAt(p []byte, off int64) {
	end := off + int64(len(p))
	s.size = max(s.size, end)
	if len(p) == 0 {
		return
	}
	// Sequential appends extend the last extent in place.
	if n := len(s.dirty); n > 0 && s.dirty[n-1].end() == off {
		s.dirty[n-1].data = append(s.dirty[n-1].data, p...)
		return
	}
	// The extents that overlap or touch [off, end) are merged with p.
	lo := sort.Search(len(s.dirty), func(i int) bool { return s.dirty[i].end() >= off })
	hi := lo
	for hi < len(s.dirty) && s.dirty[hi].off <= end {
		hi++
	}
	mOff, mEnd := off, end
	if lo < hi {
		mOff = min(mOff, s.dirty[lo].off)
		mEnd = max(mEnd, s.dirty[hi-1].end())
	}
	buf := make([]byte, mEnd-mOff)
	for _, e := range s.dirty[lo:hi] {
		copy(buf[e.off-mOff:], e.data)
	}
	copy(buf[off-mOff:], p)
	merged := extent{off: mOff, data: buf}
	s.dirty = append(s.dirty[:lo], append([]extent{merged}, s.dirty[hi:]...)...)
}

// readAt reads the logical content at off into p, reading the underlying
// part through under.
func (s *fileState) readAt(p []byte, off int64, under vfs.File) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	buf := p[:n]
	from := 0 // buf[from:] lies past the underlying file and reads as zeros
	if off < s.synced {
		m := int(min(int64(n), s.synced-off))
		k, err := under.ReadAt(buf[:m], off)
		if err != nil && err != io.EOF {
			return 0, err
		}
		from = k
	}
	clear(buf[from:])
	lo := sort.Search(len(s.dirty), func(i int) bool { return s.dirty[i].end() > off })
	for _, e := range s.dirty[lo:] {
		if e.off >= off+int64(n) {
			break
		}
		if e.off >= off {
			copy(buf[e.off-off:], e.data)
		} else {
			copy(buf, e.data[off-e.off:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// dirtyBytes returns how many bytes of the file are not synced.
func (s *fileState) dirtyBytes() int64 {
	var n int64
	for _, e := range s.dirty {
		n += int64(len(e.data))
	}
	return n
}

// drop forgets every write since the last good sync: what a failed fsync
// does on Linux.
func (s *fileState) drop() {
	s.dirty = nil
	s.size = s.synced
}

// writeThrough writes the dirty extents to the underlying file through w.
// On success the overlay is empty and the underlying file holds the logical
// content (not yet synced).
func (s *fileState) writeThrough(w vfs.File) error {
	for len(s.dirty) > 0 {
		e := s.dirty[0]
		if _, err := w.WriteAt(e.data, e.off); err != nil {
			return err
		}
		s.synced = max(s.synced, e.end())
		s.dirty = s.dirty[1:]
	}
	s.dirty = nil
	s.synced = s.size
	return nil
}
