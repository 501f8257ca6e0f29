package jetstream

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// Names of things in the JetStream server.
const (
	// metaStream holds group offsets and retention floors, one message per
	// subject (MaxMsgsPerSubject 1), under metaPrefix.
	metaStream = "ORDEAL-META"
	metaPrefix = "m"
	// recordPrefix is the first token of every record subject:
	// <recordPrefix>.<stream>.<key token>.
	recordPrefix = "o"
	// noKey is the key token of records without a key.
	noKey = "n"
	// maxPlainToken is the longest key or group (in bytes) spelled out in
	// a subject; longer ones are hashed, so that subjects stay well inside
	// the server's 4 KiB control line.
	maxPlainToken = 256
	// maxPlainStream is the longest escaped shard name used as a stream
	// name as is; longer ones are hashed (JetStream allows 255 bytes, and
	// the name is also a directory name).
	maxPlainStream = 200
)

// Stream metadata keys: the shard's configuration and incarnation live in
// the stream's configuration.
const (
	mdShard       = "ordeal.shard"
	mdStorageType = "ordeal.storage_type"
	mdSegmentSize = "ordeal.segment_size"
	mdRetention   = "ordeal.retention_ns"
	mdIncarnation = "ordeal.incarnation"
)

// streamName returns the JetStream stream of a shard: "S-" and the name
// with '_' written "__" and '.' written "_d" (JetStream names cannot hold a
// dot), or "H-" and a SHA-256 of the name when that would be too long. Two
// shard names never share a stream.
func streamName(shard string) string {
	var b strings.Builder
	b.WriteString("S-")
	for _, c := range []byte(shard) {
		switch c {
		case '_':
			b.WriteString("__")
		case '.':
			b.WriteString("_d")
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() <= maxPlainStream+2 {
		return b.String()
	}
	sum := sha256.Sum256([]byte(shard))
	return "H-" + hex.EncodeToString(sum[:])
}

// token returns the subject tokens naming a key or a group: "k.<base64url>"
// or, for long ones, "h.<base64url of SHA-256>". Distinct strings get
// distinct tokens (up to SHA-256 collisions).
func token(s string) string {
	if len(s) <= maxPlainToken {
		return "k." + base64.RawURLEncoding.EncodeToString([]byte(s))
	}
	sum := sha256.Sum256([]byte(s))
	return "h." + base64.RawURLEncoding.EncodeToString(sum[:])
}

// recordSubject returns the subject a record of shard stream with key is
// published on.
func recordSubject(stream, key string) string {
	if key == "" {
		return recordPrefix + "." + stream + "." + noKey
	}
	return recordPrefix + "." + stream + "." + token(key)
}

// recordFilter matches every record subject of stream.
func recordFilter(stream string) string { return recordPrefix + "." + stream + ".>" }

// groupSubject is where group's offset in the shard incarnation inc lives.
func groupSubject(inc, group string) string { return metaPrefix + "." + inc + ".g." + token(group) }

// floorSubject is where the retention floor of the shard incarnation inc
// lives.
func floorSubject(inc string) string { return metaPrefix + "." + inc + ".floor" }

// incarnationFilter matches every meta subject of the incarnation inc.
func incarnationFilter(inc string) string { return metaPrefix + "." + inc + ".>" }

// Record encoding. A record is the payload of one message:
//
//	version byte (1)
//	uvarint len(key), key
//	uvarint count of tags, then for each: uvarint len, bytes
//	uvarint timestamp
//	uvarint count of headers, then for each: uvarint len(name), name,
//	  uvarint len(value), value
//	data (the rest)
//
// The key is also in the subject; it is repeated here so that a hashed
// subject can be checked and the record decodes on its own.
const recordVersion = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeRecord returns the payload of r.
func encodeRecord(r adapter.Record) []byte {
	n := 16 + len(r.Key) + len(r.Data)
	for _, t := range r.Tags {
		n += 4 + len(t)
	}
	for _, h := range r.Headers {
		n += 8 + len(h.Name) + len(h.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = appendString(b, r.Key)
	b = binary.AppendUvarint(b, uint64(len(r.Tags)))
	for _, t := range r.Tags {
		b = appendString(b, t)
	}
	b = binary.AppendUvarint(b, uint64(r.Timestamp))
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = appendString(b, h.Name)
		b = appendBytes(b, h.Value)
	}
	return append(b, r.Data...)
}

// decoder reads a payload, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: record: malformed %s", adapter.ErrCorrupt, what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: record: %s of %d bytes runs past the end", adapter.ErrCorrupt, what, n)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads a count of items each at least one byte long, so that a
// corrupt count cannot make the decoder allocate more than the payload.
func (d *decoder) count(what string) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: record: %d %s in %d bytes", adapter.ErrCorrupt, n, what, len(d.b))
	}
	return int(n)
}

// decodeRecord parses a payload. The record shares no memory with p.
func decodeRecord(p []byte) (adapter.Record, error) {
	if len(p) == 0 || p[0] != recordVersion {
		return adapter.Record{}, fmt.Errorf("%w: record: unknown encoding version", adapter.ErrCorrupt)
	}
	d := &decoder{b: p[1:]}
	var r adapter.Record
	r.Key = string(d.bytes("key"))
	if n := d.count("tags"); d.err == nil && n > 0 {
		r.Tags = make([]string, n)
		for i := range r.Tags {
			r.Tags[i] = string(d.bytes("tag"))
		}
	}
	ts := d.uvarint("timestamp")
	if d.err == nil && ts > 1<<63-1 {
		d.err = fmt.Errorf("%w: record: timestamp %d out of range", adapter.ErrCorrupt, ts)
	}
	r.Timestamp = int64(ts)
	if n := d.count("headers"); d.err == nil && n > 0 {
		r.Headers = make([]adapter.Header, n)
		for i := range r.Headers {
			r.Headers[i].Name = string(d.bytes("header name"))
			if v := d.bytes("header value"); len(v) > 0 {
				r.Headers[i].Value = append([]byte(nil), v...)
			}
		}
	}
	if d.err != nil {
		return adapter.Record{}, d.err
	}
	if len(d.b) > 0 {
		r.Data = append([]byte(nil), d.b...)
	}
	return r, nil
}
