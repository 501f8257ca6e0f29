// Package kvcodec encodes the values that the raftlog engines on ordered
// key-value stores (pebble, bbolt) keep: log entries, the hard state and the
// purge boundary. Each engine lays out its own keys; the values are the same
// bytes in both.
//
// An entry value is crc32c(index | rest) | term | type | data, with integers
// in big endian. The checksum covers the index, which lives in the key, so a
// value found under the wrong key is caught as well as a damaged one.
//
// The hard state and the purge boundary are sealed: crc32c(body) | body. A
// hard state body is term | vote term | commit | candidate; a purge boundary
// body is index | term.
//
// Every decoding error wraps raftlog.ErrCorrupt.
package kvcodec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// EntryHeaderLen is the length of an entry value without its data.
const EntryHeaderLen = 4 + 8 + 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EntryLen is the length of the value AppendEntry writes for ent.
func EntryLen(ent raftlog.Entry) int { return EntryHeaderLen + len(ent.Data) }

// AppendEntry appends the value of ent to dst. It writes in place when dst
// has room for EntryLen(ent) more bytes.
func AppendEntry(dst []byte, ent raftlog.Entry) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, ent.Term)
	dst = append(dst, byte(ent.Type))
	dst = append(dst, ent.Data...)
	binary.BigEndian.PutUint32(dst[start:], entryChecksum(ent.Index, dst[start+4:]))
	return dst
}

func entryChecksum(index uint64, rest []byte) uint32 {
	var ix [8]byte
	binary.BigEndian.PutUint64(ix[:], index)
	return crc32.Update(crc32.Checksum(ix[:], castagnoli), castagnoli, rest)
}

// DecodeEntry decodes the value stored for the entry at index, copying the
// data out of v.
func DecodeEntry(index uint64, v []byte) (raftlog.Entry, error) {
	if len(v) < EntryHeaderLen {
		return raftlog.Entry{}, fmt.Errorf("%w: entry %d: value of %d bytes is shorter than its %d-byte header", raftlog.ErrCorrupt, index, len(v), EntryHeaderLen)
	}
	if got, want := entryChecksum(index, v[4:]), binary.BigEndian.Uint32(v); got != want {
		return raftlog.Entry{}, fmt.Errorf("%w: entry %d: checksum %08x, stored %08x", raftlog.ErrCorrupt, index, got, want)
	}
	ent := raftlog.Entry{
		Index: index,
		Term:  binary.BigEndian.Uint64(v[4:]),
		Type:  raftlog.EntryType(v[12]),
	}
	if len(v) > EntryHeaderLen {
		ent.Data = append([]byte(nil), v[EntryHeaderLen:]...)
	}
	return ent, nil
}

// Seal returns crc32c(body) | body.
func Seal(body []byte) []byte {
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, crc32.Checksum(body, castagnoli))
	return append(out, body...)
}

// Unseal checks a sealed value and returns its body, a sub-slice of v. name
// says what the value is in the error.
func Unseal(name string, v []byte) ([]byte, error) {
	if len(v) < 4 {
		return nil, fmt.Errorf("%w: %s: value of %d bytes has no checksum", raftlog.ErrCorrupt, name, len(v))
	}
	body := v[4:]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(v); got != want {
		return nil, fmt.Errorf("%w: %s: checksum %08x, stored %08x", raftlog.ErrCorrupt, name, got, want)
	}
	return body, nil
}

const hardStateFixedLen = 3 * 8

// EncodeHardState returns the sealed value of hs.
func EncodeHardState(hs raftlog.HardState) []byte {
	b := make([]byte, 0, hardStateFixedLen+len(hs.Vote.Candidate))
	b = binary.BigEndian.AppendUint64(b, hs.Term)
	b = binary.BigEndian.AppendUint64(b, hs.Vote.Term)
	b = binary.BigEndian.AppendUint64(b, hs.Commit)
	b = append(b, hs.Vote.Candidate...)
	return Seal(b)
}

// DecodeHardState decodes a value EncodeHardState wrote.
func DecodeHardState(v []byte) (raftlog.HardState, error) {
	body, err := Unseal("hard state", v)
	if err != nil {
		return raftlog.HardState{}, err
	}
	if len(body) < hardStateFixedLen {
		return raftlog.HardState{}, fmt.Errorf("%w: hard state: body of %d bytes, want at least %d", raftlog.ErrCorrupt, len(body), hardStateFixedLen)
	}
	return raftlog.HardState{
		Term:   binary.BigEndian.Uint64(body),
		Vote:   raftlog.Vote{Term: binary.BigEndian.Uint64(body[8:]), Candidate: string(body[hardStateFixedLen:])},
		Commit: binary.BigEndian.Uint64(body[16:]),
	}, nil
}

// EncodeLogID returns the sealed value of a purge boundary.
func EncodeLogID(id raftlog.LogID) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, id.Index)
	b = binary.BigEndian.AppendUint64(b, id.Term)
	return Seal(b)
}

// DecodeLogID decodes a value EncodeLogID wrote.
func DecodeLogID(v []byte) (raftlog.LogID, error) {
	body, err := Unseal("purge boundary", v)
	if err != nil {
		return raftlog.LogID{}, err
	}
	if len(body) != 16 {
		return raftlog.LogID{}, fmt.Errorf("%w: purge boundary: body of %d bytes, want 16", raftlog.ErrCorrupt, len(body))
	}
	return raftlog.LogID{Index: binary.BigEndian.Uint64(body), Term: binary.BigEndian.Uint64(body[8:])}, nil
}
