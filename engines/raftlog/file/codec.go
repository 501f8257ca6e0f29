package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Sizes and constants of the on-disk format (see doc.go).
const (
	segMagic        = "ordealwl"
	segVersion      = 1
	segHeaderSize   = 64
	frameHeaderSize = 16
	frameAlign      = 8
	entryHeaderSize = 13      // term u64, type u8, length u32
	entriesPrefix   = 12      // first index u64, count u32
	maxPayload      = 1 << 31 // a frame's payload length must stay below this
)

// frameKind says what a frame holds.
type frameKind uint8

const (
	kindEntries  frameKind = 1 // a batch of entries
	kindTruncate frameKind = 2 // entries >= from are removed
	kindPurge    frameKind = 3 // the purge boundary moves up
	kindReset    frameKind = 4 // every entry and the boundary are removed
	kindSeal     frameKind = 5 // the segment is full; the next one follows
)

func (k frameKind) String() string {
	switch k {
	case kindEntries:
		return "entries"
	case kindTruncate:
		return "truncate"
	case kindPurge:
		return "purge"
	case kindReset:
		return "reset"
	case kindSeal:
		return "seal"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// alignUp rounds n up to the frame alignment.
func alignUp(n int64) int64 { return (n + frameAlign - 1) &^ (frameAlign - 1) }

// frameSize is the space a frame with a payload of n bytes takes, padding
// included.
func frameSize(n int) int64 { return alignUp(int64(frameHeaderSize + n)) }

// segHeader is the fixed header at the start of every segment: the state of
// the log when the segment was created.
type segHeader struct {
	seq    uint64
	purged raftlog.LogID
	last   uint64
}

func encodeSegHeader(h segHeader) []byte {
	b := make([]byte, segHeaderSize)
	copy(b, segMagic)
	binary.LittleEndian.PutUint32(b[8:], segVersion)
	binary.LittleEndian.PutUint64(b[16:], h.seq)
	binary.LittleEndian.PutUint64(b[24:], h.purged.Index)
	binary.LittleEndian.PutUint64(b[32:], h.purged.Term)
	binary.LittleEndian.PutUint64(b[40:], h.last)
	binary.LittleEndian.PutUint32(b[60:], crc(b[:60]))
	return b
}

var (
	errShortHeader = errors.New("segment header incomplete")
	errBadMagic    = errors.New("segment header has a bad magic number")
	errHeaderCRC   = errors.New("segment header checksum mismatch")
	errVersion     = errors.New("segment header has an unknown version")
)

func decodeSegHeader(b []byte) (segHeader, error) {
	if len(b) < segHeaderSize {
		return segHeader{}, errShortHeader
	}
	if string(b[:8]) != segMagic {
		return segHeader{}, errBadMagic
	}
	if binary.LittleEndian.Uint32(b[60:]) != crc(b[:60]) {
		return segHeader{}, errHeaderCRC
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != segVersion {
		return segHeader{}, fmt.Errorf("%w %d", errVersion, v)
	}
	return segHeader{
		seq:    binary.LittleEndian.Uint64(b[16:]),
		purged: raftlog.LogID{Index: binary.LittleEndian.Uint64(b[24:]), Term: binary.LittleEndian.Uint64(b[32:])},
		last:   binary.LittleEndian.Uint64(b[40:]),
	}, nil
}

// headerCRC is the checksum of a frame header: its first 12 bytes, then the
// segment's sequence number and the frame's offset, so a frame only checks
// out in the file and at the place it was written.
func headerCRC(h []byte, seq uint64, off int64) uint32 {
	var scratch [28]byte
	return headerCRCWith(h, seq, off, &scratch)
}

// headerCRCWith is headerCRC with the caller's scratch space, so that the
// append path does not allocate.
func headerCRCWith(h []byte, seq uint64, off int64, scratch *[28]byte) uint32 {
	copy(scratch[:12], h[:12])
	binary.LittleEndian.PutUint64(scratch[12:], seq)
	binary.LittleEndian.PutUint64(scratch[20:], uint64(off))
	return crc(scratch[:])
}

// finishFrame fills in the header of the frame in b: b holds the header's
// 16 bytes, then n bytes of payload, then padding up to frameSize(n), which
// finishFrame zeroes.
func finishFrame(b []byte, kind frameKind, n int, seq uint64, off int64, scratch *[28]byte) {
	h := b[:frameHeaderSize]
	binary.LittleEndian.PutUint32(h[0:], uint32(n))
	h[4], h[5], h[6], h[7] = byte(kind), 0, 0, 0
	binary.LittleEndian.PutUint32(h[8:], crc(b[frameHeaderSize:frameHeaderSize+n]))
	binary.LittleEndian.PutUint32(h[12:], headerCRCWith(h, seq, off, scratch))
	clear(b[frameHeaderSize+n:])
}

// appendFrame appends a whole frame with the given payload to dst.
func appendFrame(dst []byte, kind frameKind, payload []byte, seq uint64, off int64) []byte {
	start := len(dst)
	size := int(frameSize(len(payload)))
	dst = append(dst, make([]byte, size)...)
	b := dst[start:]
	copy(b[frameHeaderSize:], payload)
	finishFrame(b, kind, len(payload), seq, off, new([28]byte))
	return dst
}

// frameStatus is what parseFrame found at an offset.
type frameStatus int

const (
	frameOK         frameStatus = iota
	frameEnd                    // no more data: end of file or a zero header
	frameBad                    // a header that does not check out
	framePayloadBad             // a sound header whose payload checksum fails
)

// frame is a frame parsed from a segment's bytes.
type frame struct {
	kind    frameKind
	off     int64 // of the header
	payload []byte
	next    int64 // offset of the following frame
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseFrame reads the frame at off in data, the bytes of segment seq. For
// frameBad and framePayloadBad, reason says what is wrong; framePayloadBad
// still returns the frame.
func parseFrame(data []byte, seq uint64, off int64) (frame, frameStatus, string) {
	if off >= int64(len(data)) {
		return frame{}, frameEnd, ""
	}
	rest := data[off:]
	if len(rest) < frameHeaderSize {
		if allZero(rest) {
			return frame{}, frameEnd, ""
		}
		return frame{}, frameBad, "incomplete frame header"
	}
	h := rest[:frameHeaderSize]
	if allZero(h) {
		return frame{}, frameEnd, ""
	}
	if binary.LittleEndian.Uint32(h[12:]) != headerCRC(h, seq, off) {
		return frame{}, frameBad, "frame header checksum mismatch"
	}
	n := int64(binary.LittleEndian.Uint32(h[0:]))
	kind := frameKind(h[4])
	if kind < kindEntries || kind > kindSeal || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return frame{}, frameBad, fmt.Sprintf("unknown frame kind %d", h[4])
	}
	if n >= maxPayload || frameHeaderSize+n > int64(len(rest)) {
		return frame{}, frameBad, fmt.Sprintf("frame payload of %d bytes runs past the end of the file", n)
	}
	f := frame{kind: kind, off: off, payload: rest[frameHeaderSize : frameHeaderSize+n], next: off + frameSize(int(n))}
	if binary.LittleEndian.Uint32(h[8:]) != crc(f.payload) {
		return f, framePayloadBad, "frame payload checksum mismatch"
	}
	return f, frameOK, ""
}

// findValidFrame looks for a frame that checks out at any aligned offset at
// or after from; it returns its offset, or -1.
func findValidFrame(data []byte, seq uint64, from int64) int64 {
	from = alignUp(from)
	for off := from; off+frameHeaderSize <= int64(len(data)); off += frameAlign {
		h := data[off : off+frameHeaderSize]
		if allZero(h) || binary.LittleEndian.Uint32(h[12:]) != headerCRC(h, seq, off) {
			continue
		}
		if _, st, _ := parseFrame(data, seq, off); st == frameOK {
			return off
		}
	}
	return -1
}

// lastNonZero is the offset just past the last non-zero byte of data.
func lastNonZero(data []byte) int64 {
	i := len(data)
	for i >= 8 && binary.LittleEndian.Uint64(data[i-8:]) == 0 {
		i -= 8
	}
	for i > 0 && data[i-1] == 0 {
		i--
	}
	return int64(i)
}

// Entries payloads.

// entriesPayloadSize is the payload size of a frame holding batch.
func entriesPayloadSize(batch []raftlog.Entry) int {
	n := entriesPrefix
	for i := range batch {
		n += entryHeaderSize + len(batch[i].Data)
	}
	return n
}

// putEntries writes the entries payload of batch into p, which has
// entriesPayloadSize(batch) bytes, and appends the location of each entry
// (offsets relative to p's start) to locs.
func putEntries(p []byte, batch []raftlog.Entry, rel []int64) []int64 {
	binary.LittleEndian.PutUint64(p[0:], batch[0].Index)
	binary.LittleEndian.PutUint32(p[8:], uint32(len(batch)))
	o := entriesPrefix
	for i := range batch {
		e := &batch[i]
		rel = append(rel, int64(o))
		binary.LittleEndian.PutUint64(p[o:], e.Term)
		p[o+8] = byte(e.Type)
		binary.LittleEndian.PutUint32(p[o+9:], uint32(len(e.Data)))
		o += entryHeaderSize
		o += copy(p[o:], e.Data)
	}
	return rel
}

// walkEntries checks an entries payload and calls fn for each entry with its
// index and the offset and length of its encoding within p.
func walkEntries(p []byte, fn func(index uint64, off int64, n uint32)) error {
	if len(p) < entriesPrefix {
		return fmt.Errorf("entries payload of %d bytes is too short", len(p))
	}
	first := binary.LittleEndian.Uint64(p[0:])
	count := binary.LittleEndian.Uint32(p[8:])
	if count == 0 {
		return errors.New("entries payload holds no entry")
	}
	if first == 0 || first+uint64(count) < first {
		return fmt.Errorf("entries payload has bad indexes %d+%d", first, count)
	}
	o := int64(entriesPrefix)
	for i := uint32(0); i < count; i++ {
		if int64(len(p))-o < entryHeaderSize {
			return fmt.Errorf("entry %d of %d runs past the payload", i, count)
		}
		l := int64(binary.LittleEndian.Uint32(p[o+9:]))
		if int64(len(p))-o-entryHeaderSize < l {
			return fmt.Errorf("entry %d of %d runs past the payload", i, count)
		}
		fn(first+uint64(i), o, uint32(entryHeaderSize+l))
		o += entryHeaderSize + l
	}
	if o != int64(len(p)) {
		return fmt.Errorf("entries payload has %d trailing bytes", int64(len(p))-o)
	}
	return nil
}

// decodeEntry decodes one entry's encoding; the entry's Data aliases b.
func decodeEntry(b []byte, index uint64) (raftlog.Entry, error) {
	if len(b) < entryHeaderSize {
		return raftlog.Entry{}, fmt.Errorf("%w: entry %d: %d bytes is too short", raftlog.ErrCorrupt, index, len(b))
	}
	n := binary.LittleEndian.Uint32(b[9:])
	if int(n) != len(b)-entryHeaderSize {
		return raftlog.Entry{}, fmt.Errorf("%w: entry %d: length %d, want %d", raftlog.ErrCorrupt, index, n, len(b)-entryHeaderSize)
	}
	return raftlog.Entry{
		Index: index,
		Term:  binary.LittleEndian.Uint64(b[0:]),
		Type:  raftlog.EntryType(b[8]),
		Data:  b[entryHeaderSize:len(b):len(b)],
	}, nil
}

// Control payloads.

func u64Payload(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func readU64s(p []byte, n int) ([]uint64, error) {
	if len(p) != 8*n {
		return nil, fmt.Errorf("payload of %d bytes, want %d", len(p), 8*n)
	}
	vs := make([]uint64, n)
	for i := range vs {
		vs[i] = binary.LittleEndian.Uint64(p[8*i:])
	}
	return vs, nil
}
