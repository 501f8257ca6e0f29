package bbolt

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Layout. The log bucket maps each index, as an 8-byte big-endian key, to
// its entry, so bbolt's bytewise key order is index order; the meta bucket
// holds the hard state and the purge boundary.
var (
	logBucket    = []byte("log")
	metaBucket   = []byte("meta")
	hardStateKey = []byte("hardstate")
	purgedKey    = []byte("purged")
)

const logKeyLen = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func logKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, logKeyLen), index)
}

// keyIndex decodes a log key; ok is false for anything else.
func keyIndex(k []byte) (uint64, bool) {
	if len(k) != logKeyLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// An entry value is crc32c(index | rest) | term | type | data. The checksum
// covers the index, which lives in the key, so a value found under the wrong
// key is caught as well as a damaged one.
const entryHeaderLen = 4 + 8 + 1

func appendEntryValue(dst []byte, ent raftlog.Entry) []byte {
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

// decodeEntry decodes the value stored under the log key of index, copying
// the data out of v.
func decodeEntry(index uint64, v []byte) (raftlog.Entry, error) {
	if len(v) < entryHeaderLen {
		return raftlog.Entry{}, fmt.Errorf("%w: entry %d: value of %d bytes is shorter than its %d-byte header", raftlog.ErrCorrupt, index, len(v), entryHeaderLen)
	}
	if got, want := entryChecksum(index, v[4:]), binary.BigEndian.Uint32(v); got != want {
		return raftlog.Entry{}, fmt.Errorf("%w: entry %d: checksum %08x, stored %08x", raftlog.ErrCorrupt, index, got, want)
	}
	ent := raftlog.Entry{
		Index: index,
		Term:  binary.BigEndian.Uint64(v[4:]),
		Type:  raftlog.EntryType(v[12]),
	}
	if len(v) > entryHeaderLen {
		ent.Data = append([]byte(nil), v[entryHeaderLen:]...)
	}
	return ent, nil
}

// sealed values (hard state, purge boundary) are crc32c(body) | body.

func seal(body []byte) []byte {
	out := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(out, crc32.Checksum(body, castagnoli))
	return append(out, body...)
}

func unseal(name string, v []byte) ([]byte, error) {
	if len(v) < 4 {
		return nil, fmt.Errorf("%w: %s: value of %d bytes has no checksum", raftlog.ErrCorrupt, name, len(v))
	}
	body := v[4:]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(v); got != want {
		return nil, fmt.Errorf("%w: %s: checksum %08x, stored %08x", raftlog.ErrCorrupt, name, got, want)
	}
	return body, nil
}

// A hard state body is term | vote term | commit | candidate.
const hardStateFixedLen = 3 * 8

func encodeHardState(hs raftlog.HardState) []byte {
	b := make([]byte, 0, hardStateFixedLen+len(hs.Vote.Candidate))
	b = binary.BigEndian.AppendUint64(b, hs.Term)
	b = binary.BigEndian.AppendUint64(b, hs.Vote.Term)
	b = binary.BigEndian.AppendUint64(b, hs.Commit)
	b = append(b, hs.Vote.Candidate...)
	return seal(b)
}

func decodeHardState(v []byte) (raftlog.HardState, error) {
	body, err := unseal("hard state", v)
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

// A purge boundary body is index | term.
func encodeLogID(id raftlog.LogID) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, id.Index)
	b = binary.BigEndian.AppendUint64(b, id.Term)
	return seal(b)
}

func decodeLogID(v []byte) (raftlog.LogID, error) {
	body, err := unseal("purge boundary", v)
	if err != nil {
		return raftlog.LogID{}, err
	}
	if len(body) != 16 {
		return raftlog.LogID{}, fmt.Errorf("%w: purge boundary: body of %d bytes, want 16", raftlog.ErrCorrupt, len(body))
	}
	return raftlog.LogID{Index: binary.BigEndian.Uint64(body), Term: binary.BigEndian.Uint64(body[8:])}, nil
}
