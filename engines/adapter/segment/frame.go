package segment

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// A frame is a header (the payload length and the CRC-32C of the payload,
// both little-endian uint32) followed by the payload. The payload's first
// byte says what it holds.
const (
	headerLen = 8
	// maxPayload bounds a frame's declared length, so that a garbage header
	// is never taken for a huge frame.
	maxPayload = 1 << 30

	kindRecords   byte = 1 // a batch of records at consecutive offsets
	kindTombstone byte = 2 // offsets deleted
	kindGroup     byte = 3 // a group offset (in the groups file)
	kindConfig    byte = 4 // a shard configuration (in the config file)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadFrame reports a frame that is incomplete or fails its checksum: a
// torn write at the tail of a file, or corruption elsewhere.
var errBadFrame = errors.New("segment: bad frame")

func appendFrame(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// frameReader reads frames sequentially from a file, starting at a position
// and stopping at a limit.
type frameReader struct {
	br    *bufio.Reader
	pos   int64
	limit int64
	buf   []byte
	// trust skips the checksum: the planted bug Bugs.SkipChecksums.
	trust bool
}

func newFrameReader(f vfs.File, pos, limit int64) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(io.NewSectionReader(f, pos, limit-pos), 64<<10), pos: pos, limit: limit}
}

// next returns the next frame's payload (valid until the following call)
// and its position. It returns io.EOF exactly at the limit and an error
// wrapping errBadFrame for an incomplete or damaged frame.
func (r *frameReader) next() (payload []byte, pos int64, err error) {
	pos = r.pos
	if pos >= r.limit {
		return nil, pos, io.EOF
	}
	var h [headerLen]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return nil, pos, fmt.Errorf("%w at %d: short header: %v", errBadFrame, pos, err)
	}
	n := binary.LittleEndian.Uint32(h[:4])
	sum := binary.LittleEndian.Uint32(h[4:])
	if n == 0 || n > maxPayload || int64(n) > r.limit-pos-headerLen {
		return nil, pos, fmt.Errorf("%w at %d: length %d", errBadFrame, pos, n)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return nil, pos, fmt.Errorf("%w at %d: short payload: %v", errBadFrame, pos, err)
	}
	if !r.trust && crc32.Checksum(r.buf, castagnoli) != sum {
		return nil, pos, fmt.Errorf("%w at %d: checksum mismatch", errBadFrame, pos)
	}
	r.pos = pos + headerLen + int64(n)
	return r.buf, pos, nil
}

// validFrameAt reports whether a complete frame with a good checksum starts
// at pos.
func validFrameAt(f vfs.File, pos, size int64) bool {
	_, _, err := newFrameReader(f, pos, size).next()
	return err == nil
}

// encoder appends the fields of a payload.
type encoder struct{ b []byte }

func (e *encoder) byte(c byte)      { e.b = append(e.b, c) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) u64(v uint64)     { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) bytes(p []byte)   { e.uvarint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }

func (e *encoder) record(r adapter.Record) {
	e.u64(uint64(r.Timestamp))
	e.str(r.Key)
	e.uvarint(uint64(len(r.Tags)))
	for _, t := range r.Tags {
		e.str(t)
	}
	e.uvarint(uint64(len(r.Headers)))
	for _, h := range r.Headers {
		e.str(h.Name)
		e.bytes(h.Value)
	}
	e.bytes(r.Data)
}

// decoder reads the fields of a payload; the first malformed field sets err
// and every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: malformed %s", adapter.ErrCorrupt, what)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail("uint64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// count reads a length that must fit in what is left of the payload.
func (d *decoder) count(what string) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count("bytes")
	if d.err != nil {
		return nil
	}
	var out []byte
	if n > 0 {
		out = append([]byte(nil), d.b[:n]...)
	}
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string {
	n := d.count("string")
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) record() adapter.Record {
	var r adapter.Record
	ts := d.u64()
	if ts > math.MaxInt64 {
		d.fail("timestamp")
	}
	r.Timestamp = int64(ts)
	r.Key = d.str()
	for range d.count("tags") {
		r.Tags = append(r.Tags, d.str())
	}
	for range d.count("headers") {
		r.Headers = append(r.Headers, adapter.Header{Name: d.str(), Value: d.bytes()})
	}
	r.Data = d.bytes()
	return r
}

func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(what + " (trailing bytes)")
	}
	return d.err
}

// encodeRecords is the payload of a batch of records starting at first.
func encodeRecords(first uint64, rs []adapter.Record) []byte {
	e := encoder{b: make([]byte, 0, 64*len(rs))}
	e.byte(kindRecords)
	e.u64(first)
	e.uvarint(uint64(len(rs)))
	for _, r := range rs {
		e.record(r)
	}
	return e.b
}

// decodeRecords decodes a kindRecords payload, calling fn for each record
// with its offset filled in; fn returning false stops early.
func decodeRecords(p []byte, fn func(adapter.Record) bool) error {
	d := decoder{b: p[1:]}
	first := d.u64()
	n := d.count("record count")
	for i := range n {
		r := d.record()
		if d.err != nil {
			return d.err
		}
		r.Offset = first + uint64(i)
		if !fn(r) {
			return nil
		}
	}
	return d.done("records")
}

// recordsHeader returns the first offset and count of a kindRecords payload
// without decoding the records.
func recordsHeader(p []byte) (first uint64, n int, err error) {
	d := decoder{b: p[1:]}
	first = d.u64()
	n = int(d.uvarint())
	return first, n, d.err
}

func encodeTombstone(offs []uint64) []byte {
	e := encoder{}
	e.byte(kindTombstone)
	e.uvarint(uint64(len(offs)))
	for _, o := range offs {
		e.u64(o)
	}
	return e.b
}

func decodeTombstone(p []byte) ([]uint64, error) {
	d := decoder{b: p[1:]}
	n := d.count("tombstone count")
	out := make([]uint64, 0, n)
	for range n {
		out = append(out, d.u64())
	}
	return out, d.done("tombstone")
}

func encodeGroup(group string, off uint64) []byte {
	e := encoder{}
	e.byte(kindGroup)
	e.str(group)
	e.u64(off)
	return e.b
}

func decodeGroup(p []byte) (string, uint64, error) {
	d := decoder{b: p[1:]}
	g := d.str()
	o := d.u64()
	return g, o, d.done("group offset")
}

func encodeConfig(c adapter.ShardConfig) []byte {
	e := encoder{}
	e.byte(kindConfig)
	e.str(c.Name)
	e.str(c.StorageType)
	e.u64(uint64(c.SegmentSize))
	e.u64(uint64(c.Retention))
	return e.b
}

func decodeConfig(p []byte) (adapter.ShardConfig, error) {
	if len(p) == 0 || p[0] != kindConfig {
		return adapter.ShardConfig{}, fmt.Errorf("%w: not a shard configuration", adapter.ErrCorrupt)
	}
	d := decoder{b: p[1:]}
	var c adapter.ShardConfig
	c.Name = d.str()
	c.StorageType = d.str()
	c.SegmentSize = int64(d.u64())
	c.Retention = time.Duration(d.u64())
	return c, d.done("shard configuration")
}
