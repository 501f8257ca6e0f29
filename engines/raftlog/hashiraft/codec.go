package hashiraft

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Entry data header, version 1: the layout is in the package documentation.
const (
	headerVersion1 = 1

	flagExtensions = 1 << 0
	flagAppendedAt = 1 << 1
	flagsKnown     = flagExtensions | flagAppendedAt
)

// encodeLog converts a raft log into a raftlog entry. The entry's Data is a
// new slice; l is not retained.
func encodeLog(l *raft.Log) raftlog.Entry {
	var flags byte
	size := 2 + len(l.Data)
	if len(l.Extensions) > 0 {
		flags |= flagExtensions
		size += binary.MaxVarintLen64 + len(l.Extensions)
	}
	if !l.AppendedAt.IsZero() {
		flags |= flagAppendedAt
		size += 2 * binary.MaxVarintLen64
	}
	buf := make([]byte, 0, size)
	buf = append(buf, headerVersion1, flags)
	if flags&flagExtensions != 0 {
		buf = binary.AppendUvarint(buf, uint64(len(l.Extensions)))
		buf = append(buf, l.Extensions...)
	}
	if flags&flagAppendedAt != 0 {
		buf = binary.AppendVarint(buf, l.AppendedAt.Unix())
		buf = binary.AppendUvarint(buf, uint64(l.AppendedAt.Nanosecond()))
	}
	buf = append(buf, l.Data...)
	return raftlog.Entry{Index: l.Index, Term: l.Term, Type: raftlog.EntryType(l.Type), Data: buf}
}

// decodeEntry fills l from e. l.Data and l.Extensions alias e.Data.
func decodeEntry(e raftlog.Entry, l *raft.Log) error {
	corrupt := func(what string) error {
		return fmt.Errorf("%w: entry %d: %s", raftlog.ErrCorrupt, e.Index, what)
	}
	b := e.Data
	if len(b) < 2 {
		return corrupt(fmt.Sprintf("data of %d bytes is shorter than the header", len(b)))
	}
	if b[0] != headerVersion1 {
		return corrupt(fmt.Sprintf("unknown header version %d", b[0]))
	}
	flags := b[1]
	if flags&^flagsKnown != 0 {
		return corrupt(fmt.Sprintf("unknown header flags %#x", flags))
	}
	b = b[2:]
	var ext []byte
	if flags&flagExtensions != 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return corrupt("bad extensions length")
		}
		ext = b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
	}
	var at time.Time
	if flags&flagAppendedAt != 0 {
		sec, k := binary.Varint(b)
		if k <= 0 {
			return corrupt("bad appended-at seconds")
		}
		b = b[k:]
		nsec, k := binary.Uvarint(b)
		if k <= 0 || nsec >= uint64(time.Second) {
			return corrupt("bad appended-at nanoseconds")
		}
		b = b[k:]
		at = time.Unix(sec, int64(nsec)).UTC()
	}
	if len(ext) == 0 {
		ext = nil
	}
	if len(b) == 0 {
		b = nil
	}
	*l = raft.Log{
		Index:      e.Index,
		Term:       e.Term,
		Type:       raft.LogType(e.Type),
		Data:       b,
		Extensions: ext,
		AppendedAt: at,
	}
	return nil
}

// Stable store records of the reverse adapter (Engine).
//
// The hard state is one value, so that replacing it is one Set and thus
// atomic in every StableStore:
//
//	byte 0   version, 1
//	uvarint  Term
//	uvarint  Vote.Term
//	uvarint  Commit
//	uvarint  length of Vote.Candidate, then its bytes
//
// The purge boundary:
//
//	byte 0   version, 1
//	uvarint  Index
//	uvarint  Term
const recordVersion1 = 1

func encodeHardState(hs raftlog.HardState) []byte {
	buf := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(hs.Vote.Candidate))
	buf = append(buf, recordVersion1)
	buf = binary.AppendUvarint(buf, hs.Term)
	buf = binary.AppendUvarint(buf, hs.Vote.Term)
	buf = binary.AppendUvarint(buf, hs.Commit)
	buf = binary.AppendUvarint(buf, uint64(len(hs.Vote.Candidate)))
	return append(buf, hs.Vote.Candidate...)
}

func decodeHardState(b []byte) (raftlog.HardState, error) {
	r := recordReader{b: b, what: "hard state"}
	r.version()
	var hs raftlog.HardState
	hs.Term = r.uvarint()
	hs.Vote.Term = r.uvarint()
	hs.Commit = r.uvarint()
	hs.Vote.Candidate = string(r.bytes())
	if err := r.finish(); err != nil {
		return raftlog.HardState{}, err
	}
	return hs, nil
}

func encodeLogID(id raftlog.LogID) []byte {
	buf := make([]byte, 0, 1+2*binary.MaxVarintLen64)
	buf = append(buf, recordVersion1)
	buf = binary.AppendUvarint(buf, id.Index)
	return binary.AppendUvarint(buf, id.Term)
}

func decodeLogID(b []byte) (raftlog.LogID, error) {
	r := recordReader{b: b, what: "purge boundary"}
	r.version()
	id := raftlog.LogID{Index: r.uvarint(), Term: r.uvarint()}
	if err := r.finish(); err != nil {
		return raftlog.LogID{}, err
	}
	return id, nil
}

// recordReader parses a versioned record, keeping the first error.
type recordReader struct {
	b    []byte
	what string
	err  error
}

func (r *recordReader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", raftlog.ErrCorrupt, r.what, msg)
	}
}

func (r *recordReader) version() {
	if len(r.b) == 0 {
		r.fail("empty record")
		return
	}
	if r.b[0] != recordVersion1 {
		r.fail(fmt.Sprintf("unknown version %d", r.b[0]))
		return
	}
	r.b = r.b[1:]
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *recordReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("length beyond the record")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *recordReader) finish() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
	}
	return r.err
}
