// Package boltcheck verifies a bbolt file before bbolt opens it.
//
// bbolt trusts its file. Opened on a damaged one it may read through its
// memory map past the end of a truncated file (SIGBUS, which kills the
// process), or panic on a page that does not say what it should, in the
// goroutine it starts at open to rebuild the free list when the list is not
// kept in the file (Options.NoFreelistSync): nothing in the caller can
// recover either. Check reads the file with ordinary reads and checks what
// bbolt relies on, so that the engines on bbolt report damage as an error
// instead:
//
//   - the meta pages: bbolt uses the newer of the two that pass their
//     checksum; Check finds the same one, and can insist on the
//     transaction an engine recorded when it last closed cleanly, so that a
//     damaged newest meta page is not silently replaced by the one before;
//   - the file is long enough for every page below the meta page's high
//     water mark;
//   - every page reachable from the root bucket, through branch pages,
//     nested and inline buckets, is within the high water mark, is
//     reached once, says it is the page it was reached as, is a branch or a
//     leaf, and holds elements and keys within its bounds, in strictly
//     ascending order, within the range its parent gives it;
//   - the free list page, if the file keeps one, is a free list whose ids
//     are within the high water mark and reachable from nowhere.
//
// These are the checks bbolt's own consistency check makes (tx.Check), and
// those it asserts with panics while rebuilding the free list, made before
// bbolt sees the file. bbolt keeps no checksum of its data pages: a flipped
// byte inside a value, or a key changed into another in order, passes;
// the engines checksum their values, with their keys, for that. The file is
// read in the byte order of the machine (little-endian), as bbolt writes
// it.
package boltcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// ErrCorrupt marks every error Check returns about the file's content (as
// opposed to failing to read it).
var ErrCorrupt = errors.New("boltcheck: damaged bbolt file")

// Layout of bbolt's pages (go.etcd.io/bbolt/internal/common).
const (
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeader   = 16 // root pgid u64, sequence u64
	metaSize       = 64
	metaSumLen     = 56

	branchFlag   = 0x01
	leafFlag     = 0x02
	metaFlag     = 0x04
	freelistFlag = 0x10
	bucketLeaf   = 0x01

	magic       = 0xED0CDAED
	version     = 2
	noFreelist  = ^uint64(0)
	minPageSize = 512
	maxPageSize = 1 << 16
)

// Meta is the meta page bbolt opens the file with.
type Meta struct {
	PageSize uint32
	Root     uint64 // the root bucket's page
	Freelist uint64 // the free list page, or ^0 when none is kept
	HighMark uint64 // pages below it are in use or free
	Txid     uint64
}

// Info is what Check learned of the file.
type Info struct {
	Meta Meta
	// Pages counts the pages reachable from the root bucket.
	Pages int
}

// Check verifies the bbolt file at path as described in the package
// documentation. wantTxid, if not zero, is the transaction the file must
// open at: that of the engine's last clean close. A file of size zero (bbolt
// initializes it) passes with a zero Info. Errors about the content wrap
// ErrCorrupt and name the file, the page and what is wrong.
func Check(path string, wantTxid uint64) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	if st.Size() == 0 {
		if wantTxid != 0 {
			return Info{}, fmt.Errorf("%w: %s is empty, but it closed at transaction %d", ErrCorrupt, path, wantTxid)
		}
		return Info{}, nil
	}
	c := &checker{f: f, size: st.Size(), path: path, seen: map[uint64]bool{}}
	m, err := c.meta()
	if err != nil {
		return Info{}, err
	}
	if wantTxid != 0 && m.Txid != wantTxid {
		return Info{}, c.errf(0, "bbolt would open it at transaction %d, but it closed at transaction %d: a meta page is damaged", m.Txid, wantTxid)
	}
	if need := int64(m.HighMark) * int64(m.PageSize); c.size < need {
		return Info{}, c.errf(0, "the file is %d bytes, shorter than the %d pages of %d bytes in use (%d bytes)", c.size, m.HighMark, m.PageSize, need)
	}
	c.m = m
	if err := c.tree(m.Root, nil, nil); err != nil {
		return Info{}, err
	}
	if m.Freelist != noFreelist {
		if err := c.freelist(m.Freelist); err != nil {
			return Info{}, err
		}
	}
	return Info{Meta: m, Pages: len(c.seen)}, nil
}

type checker struct {
	f    io.ReaderAt
	size int64
	path string
	m    Meta
	seen map[uint64]bool
}

func (c *checker) errf(page uint64, format string, args ...any) error {
	return fmt.Errorf("%w: %s: page %d: %s", ErrCorrupt, c.path, page, fmt.Sprintf(format, args...))
}

// meta reads both meta pages and returns the one bbolt uses: the one with
// the higher transaction of those that check out.
func (c *checker) meta() (Meta, error) {
	var best *Meta
	var first error
	for i := 0; i < 2; i++ {
		m, err := c.readMeta(i)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if best == nil || m.Txid > best.Txid {
			best = &m
		}
	}
	if best == nil {
		return Meta{}, fmt.Errorf("both meta pages are damaged: %w", first)
	}
	return *best, nil
}

// readMeta reads meta page i. Page 0 sits at offset 0; page 1 at the page
// size, which page 0 gives, or, when page 0 is damaged, that of page 1
// found by trying the sizes bbolt may use.
func (c *checker) readMeta(i int) (Meta, error) {
	var offsets []int64
	if i == 0 {
		offsets = []int64{0}
	} else {
		for ps := int64(minPageSize); ps <= maxPageSize; ps *= 2 {
			offsets = append(offsets, ps)
		}
	}
	var last error = c.errf(uint64(i), "the file is too short to hold it")
	for _, off := range offsets {
		buf := make([]byte, pageHeaderSize+metaSize)
		if _, err := c.f.ReadAt(buf, off); err != nil {
			continue
		}
		m, err := c.decodeMeta(uint64(i), buf)
		if err != nil {
			last = err
			continue
		}
		if i == 1 && int64(m.PageSize) != off {
			last = c.errf(1, "at offset %d with a page size of %d", off, m.PageSize)
			continue
		}
		return m, nil
	}
	return Meta{}, last
}

func (c *checker) decodeMeta(page uint64, buf []byte) (Meta, error) {
	le := binary.LittleEndian
	if flags := le.Uint16(buf[8:]); flags != metaFlag {
		return Meta{}, c.errf(page, "flags %#x, want a meta page", flags)
	}
	b := buf[pageHeaderSize:]
	if le.Uint32(b) != magic {
		return Meta{}, c.errf(page, "bad magic %#x", le.Uint32(b))
	}
	if v := le.Uint32(b[4:]); v != version {
		return Meta{}, c.errf(page, "version %d, want %d", v, version)
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:metaSumLen])
	if sum := le.Uint64(b[metaSumLen:]); sum != h.Sum64() {
		return Meta{}, c.errf(page, "checksum %#x, stored %#x", h.Sum64(), sum)
	}
	m := Meta{
		PageSize: le.Uint32(b[8:]),
		Root:     le.Uint64(b[16:]),
		Freelist: le.Uint64(b[32:]),
		HighMark: le.Uint64(b[40:]),
		Txid:     le.Uint64(b[48:]),
	}
	if m.PageSize < minPageSize || m.PageSize > maxPageSize || m.PageSize&(m.PageSize-1) != 0 {
		return Meta{}, c.errf(page, "page size %d", m.PageSize)
	}
	if m.Root < 2 || m.Root >= m.HighMark {
		return Meta{}, c.errf(page, "root bucket at page %d outside [2, %d)", m.Root, m.HighMark)
	}
	if m.Freelist != noFreelist && (m.Freelist < 2 || m.Freelist >= m.HighMark) {
		return Meta{}, c.errf(page, "free list at page %d outside [2, %d)", m.Freelist, m.HighMark)
	}
	return m, nil
}

// page reads page id with its overflow pages, after checking it lies
// within the high water mark and is reached for the first time.
func (c *checker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= c.m.HighMark {
		return nil, c.errf(id, "outside the pages in use [2, %d)", c.m.HighMark)
	}
	if c.seen[id] {
		return nil, c.errf(id, "reached twice")
	}
	ps := int64(c.m.PageSize)
	head := make([]byte, pageHeaderSize)
	if _, err := c.f.ReadAt(head, int64(id)*ps); err != nil {
		return nil, fmt.Errorf("boltcheck: read %s page %d: %w", c.path, id, err)
	}
	le := binary.LittleEndian
	if got := le.Uint64(head); got != id {
		return nil, c.errf(id, "says it is page %d", got)
	}
	overflow := uint64(le.Uint32(head[12:]))
	if id+overflow >= c.m.HighMark {
		return nil, c.errf(id, "%d overflow pages run past the pages in use (%d)", overflow, c.m.HighMark)
	}
	for o := uint64(1); o <= overflow; o++ {
		if c.seen[id+o] {
			return nil, c.errf(id, "overflow page %d is reached twice", id+o)
		}
	}
	buf := make([]byte, int64(overflow+1)*ps)
	if _, err := c.f.ReadAt(buf, int64(id)*ps); err != nil {
		return nil, fmt.Errorf("boltcheck: read %s page %d: %w", c.path, id, err)
	}
	for o := uint64(0); o <= overflow; o++ {
		c.seen[id+o] = true
	}
	return buf, nil
}

// tree checks the subtree at page id, whose keys must lie in [lo, hi) (nil
// for no bound).
func (c *checker) tree(id uint64, lo, hi []byte) error {
	buf, err := c.page(id)
	if err != nil {
		return err
	}
	return c.node(id, buf, lo, hi)
}

// node checks a branch or leaf page held in buf (a page read from the
// file, or an inline bucket's page).
func (c *checker) node(id uint64, buf []byte, lo, hi []byte) error {
	le := binary.LittleEndian
	flags, count := le.Uint16(buf[8:]), int(le.Uint16(buf[10:]))
	if flags != branchFlag && flags != leafFlag {
		return c.errf(id, "flags %#x, want a branch or a leaf", flags)
	}
	if pageHeaderSize+count*elementSize > len(buf) {
		return c.errf(id, "%d elements do not fit in %d bytes", count, len(buf))
	}
	type child struct {
		key  []byte
		page uint64
	}
	var children []child
	var prev []byte
	for i := 0; i < count; i++ {
		at := pageHeaderSize + i*elementSize
		e := buf[at : at+elementSize]
		var pos, ksize, vsize int
		var eflags uint32
		if flags == branchFlag {
			pos, ksize = int(le.Uint32(e)), int(le.Uint32(e[4:]))
		} else {
			eflags, pos, ksize, vsize = le.Uint32(e), int(le.Uint32(e[4:])), int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		}
		start := at + pos
		if pos < 0 || ksize < 0 || vsize < 0 || start+ksize+vsize > len(buf) || start+ksize+vsize < start {
			return c.errf(id, "element %d runs past the page", i)
		}
		key := buf[start : start+ksize]
		if prev != nil && bytes.Compare(key, prev) <= 0 {
			return c.errf(id, "key %d (%x) is not above the key before it (%x)", i, key, prev)
		}
		if (i == 0 && lo != nil && bytes.Compare(key, lo) < 0) || (hi != nil && bytes.Compare(key, hi) >= 0) {
			return c.errf(id, "key %d (%x) is outside the range [%x, %x) its parent gives", i, key, lo, hi)
		}
		prev = key
		switch {
		case flags == branchFlag:
			children = append(children, child{key: key, page: le.Uint64(e[8:])})
		case eflags&bucketLeaf != 0:
			if err := c.bucket(id, buf[start+ksize:start+ksize+vsize]); err != nil {
				return err
			}
		}
	}
	for i, ch := range children {
		next := hi
		if i+1 < len(children) {
			next = children[i+1].key
		}
		// The first child holds keys from its parent's lower bound.
		low := ch.key
		if i == 0 {
			low = lo
		}
		if err := c.tree(ch.page, low, next); err != nil {
			return err
		}
	}
	return nil
}

// bucket checks a nested bucket whose header and inline page, if any, are
// v, found on page id.
func (c *checker) bucket(id uint64, v []byte) error {
	if len(v) < bucketHeader {
		return c.errf(id, "a bucket value of %d bytes", len(v))
	}
	root := binary.LittleEndian.Uint64(v)
	if root != 0 {
		return c.tree(root, nil, nil)
	}
	inline := v[bucketHeader:]
	if len(inline) < pageHeaderSize {
		return c.errf(id, "an inline bucket of %d bytes", len(inline))
	}
	if f := binary.LittleEndian.Uint16(inline[8:]); f != leafFlag {
		return c.errf(id, "an inline bucket page with flags %#x", f)
	}
	return c.node(id, inline, nil, nil)
}

// freelist checks the free list page.
func (c *checker) freelist(id uint64) error {
	buf, err := c.page(id)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if f := le.Uint16(buf[8:]); f != freelistFlag {
		return c.errf(id, "flags %#x, want a free list", f)
	}
	count, at := uint64(le.Uint16(buf[10:])), pageHeaderSize
	if count == 0xFFFF {
		if len(buf) < pageHeaderSize+8 {
			return c.errf(id, "a free list too short for its count")
		}
		count, at = le.Uint64(buf[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > uint64(len(buf)-at)/8 {
		return c.errf(id, "%d free ids do not fit in %d bytes", count, len(buf)-at)
	}
	for i := uint64(0); i < count; i++ {
		free := le.Uint64(buf[at+int(i)*8:])
		if free < 2 || free >= c.m.HighMark {
			return c.errf(id, "free page %d outside [2, %d)", free, c.m.HighMark)
		}
		if c.seen[free] {
			return c.errf(id, "page %d is both free and in use", free)
		}
	}
	return nil
}
