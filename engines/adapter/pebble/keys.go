package pebble

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// Key prefixes. Shard, tag, key and group names inside keys are
// length-prefixed (uvarint), so no name is a prefix of another's key range;
// offsets and timestamps are big-endian so keys sort numerically.
const (
	pConfig = 'c' // c <shard>                        -> shard configuration
	pNext   = 'n' // n <shard>                        -> next offset, running max timestamp
	pRecord = 'r' // r <len shard> <offset>           -> record
	pTag    = 't' // t <len shard> <len tag> <offset> -> empty
	pKey    = 'k' // k <len shard> <len key> <offset> -> empty
	pTime   = 's' // s <len shard> <ts> <offset>      -> empty, for records that raised the running max
	pGroup  = 'g' // g <len shard> <len group>        -> offset
	pMark   = 'x' // x                                -> count of clean closes (internal/pebblecheck)
)

func appendName(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func configKey(shard string) []byte { return append([]byte{pConfig}, shard...) }
func nextKey(shard string) []byte   { return append([]byte{pNext}, shard...) }

// shardPrefix is the start of every key of kind p in shard.
func shardPrefix(p byte, shard string) []byte { return appendName([]byte{p}, shard) }

func recordKey(shard string, off uint64) []byte {
	return binary.BigEndian.AppendUint64(shardPrefix(pRecord, shard), off)
}

func namePrefix(p byte, shard, name string) []byte {
	return appendName(shardPrefix(p, shard), name)
}

func indexKey(p byte, shard, name string, off uint64) []byte {
	return binary.BigEndian.AppendUint64(namePrefix(p, shard, name), off)
}

func timeKey(shard string, ts int64, off uint64) []byte {
	b := binary.BigEndian.AppendUint64(shardPrefix(pTime, shard), uint64(ts))
	return binary.BigEndian.AppendUint64(b, off)
}

func groupKey(shard, group string) []byte { return namePrefix(pGroup, shard, group) }

// successor is the first key after every key that starts with prefix.
func successor(prefix []byte) []byte {
	out := append([]byte(nil), prefix...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] < 0xff {
			out[i]++
			return out[:i+1]
		}
	}
	return nil
}

// lastOffset reads the offset at the end of an index or record key.
func lastOffset(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

func encodeNext(next uint64, runMax int64) []byte {
	b := binary.BigEndian.AppendUint64(nil, next)
	return binary.BigEndian.AppendUint64(b, uint64(runMax))
}

func decodeNext(v []byte) (uint64, int64, error) {
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("%w: next offset value of %d bytes", adapter.ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:])), nil
}

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(p []byte)   { e.uvarint(uint64(len(p))); e.b = append(e.b, p...) }

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: malformed varint", adapter.ErrCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: length %d past the end of a value", adapter.ErrCorrupt, n)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) str() string { return string(d.take()) }

func (d *decoder) bytes() []byte {
	p := d.take()
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes in a value", adapter.ErrCorrupt, len(d.b))
	}
	return d.err
}

func encodeRecord(r adapter.Record) []byte {
	e := encoder{}
	e.uvarint(uint64(r.Timestamp))
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
	return e.b
}

func decodeRecord(off uint64, v []byte) (adapter.Record, error) {
	d := decoder{b: v}
	r := adapter.Record{Offset: off}
	ts := d.uvarint()
	if ts > math.MaxInt64 {
		return r, fmt.Errorf("%w: timestamp %d", adapter.ErrCorrupt, ts)
	}
	r.Timestamp = int64(ts)
	r.Key = d.str()
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		r.Tags = append(r.Tags, d.str())
	}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		r.Headers = append(r.Headers, adapter.Header{Name: d.str(), Value: d.bytes()})
	}
	r.Data = d.bytes()
	return r, d.done()
}

func encodeConfig(c adapter.ShardConfig) []byte {
	e := encoder{}
	e.str(c.Name)
	e.str(c.StorageType)
	e.uvarint(uint64(c.SegmentSize))
	e.uvarint(uint64(c.Retention))
	return e.b
}

func decodeConfig(v []byte) (adapter.ShardConfig, error) {
	d := decoder{b: v}
	c := adapter.ShardConfig{Name: d.str(), StorageType: d.str()}
	c.SegmentSize = int64(d.uvarint())
	c.Retention = time.Duration(d.uvarint())
	return c, d.done()
}

func beUint64(b []byte) uint64           { return binary.BigEndian.Uint64(b) }
func beAppend(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// markKey holds the count of clean closes (see internal/pebblecheck).
var markKey = []byte{pMark}
