package raftlogtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// payload is the data of the entry written at index in term by the given
// attempt: a readable header followed by bytes drawn from a generator seeded
// by all three, so that any content read back can be traced to the one write
// that produced it.
func payload(index, term, attempt uint64, size int) []byte {
	head := fmt.Appendf(nil, "%d/%d/%d:", index, term, attempt)
	if size < len(head) {
		size = len(head)
	}
	out := make([]byte, size)
	n := copy(out, head)
	x := index*0x9E3779B97F4A7C15 ^ term*0xBF58476D1CE4E5B9 ^ attempt*0x94D049BB133111EB
	var buf [8]byte
	for n < size {
		x = splitmix(x)
		binary.LittleEndian.PutUint64(buf[:], x)
		n += copy(out[n:], buf[:])
	}
	return out
}

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	z := x
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// smallSize is the default entry size: small, and varying with the index.
func smallSize(index uint64) int { return 24 + int(index%40) }

// entryType varies the type with the index and term so that it is checked
// too.
func entryType(index, term uint64) raftlog.EntryType { return raftlog.EntryType((index + term) % 3) }

// makeEntry builds the entry at index in term by attempt.
func makeEntry(index, term, attempt uint64, size int) raftlog.Entry {
	return raftlog.Entry{Index: index, Term: term, Type: entryType(index, term), Data: payload(index, term, attempt, size)}
}

// makeEntries builds n consecutive entries from lo, in term, by attempt,
// sized by size (smallSize if nil).
func makeEntries(lo uint64, n int, term, attempt uint64, size func(uint64) int) []raftlog.Entry {
	if size == nil {
		size = smallSize
	}
	out := make([]raftlog.Entry, n)
	for i := range out {
		idx := lo + uint64(i)
		out[i] = makeEntry(idx, term, attempt, size(idx))
	}
	return out
}

// wellFormed reports whether e is an entry makeEntry could have built for its
// index and term (by some attempt), for readers that cannot know which write
// they raced with.
func wellFormed(e raftlog.Entry) bool {
	idx, term, attempt, ok := parseHeader(e.Data)
	if !ok {
		return false
	}
	if idx != e.Index || term != e.Term || e.Type != entryType(idx, term) {
		return false
	}
	return bytes.Equal(e.Data, payload(idx, term, attempt, len(e.Data)))
}

// parseHeader reads the "index/term/attempt:" header payload writes.
func parseHeader(p []byte) (idx, term, attempt uint64, ok bool) {
	var out [3]uint64
	for k, sep := range []byte{'/', '/', ':'} {
		digits := 0
		for len(p) > 0 && p[0] >= '0' && p[0] <= '9' && digits < 20 {
			out[k] = out[k]*10 + uint64(p[0]-'0')
			p = p[1:]
			digits++
		}
		if digits == 0 || len(p) == 0 || p[0] != sep {
			return 0, 0, 0, false
		}
		p = p[1:]
	}
	return out[0], out[1], out[2], true
}

func sameEntry(a, b raftlog.Entry) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data)
}

// describe prints an entry without its whole payload.
func describe(e raftlog.Entry) string {
	head := e.Data
	if len(head) > 24 {
		head = head[:24]
	}
	return fmt.Sprintf("{index %d term %d type %d data %q.. (%d bytes)}", e.Index, e.Term, e.Type, head, len(e.Data))
}

// model is the contract's log, kept by the suite beside the engine.
type model struct {
	purged raftlog.LogID
	ents   []raftlog.Entry // ents[i].Index == purged.Index+1+i
}

func (m *model) last() uint64  { return m.purged.Index + uint64(len(m.ents)) }
func (m *model) first() uint64 { return m.purged.Index + 1 }

func (m *model) clone() *model {
	return &model{purged: m.purged, ents: slices.Clone(m.ents)}
}

func (m *model) entry(i uint64) (raftlog.Entry, bool) {
	if i <= m.purged.Index || i > m.last() {
		return raftlog.Entry{}, false
	}
	return m.ents[i-m.purged.Index-1], true
}

// persist applies a batch the engine accepted, or reports that the contract
// rejects it.
func (m *model) persist(b []raftlog.Entry) error {
	for i, e := range b {
		if e.Index != m.last()+1+uint64(i) {
			return raftlog.ErrNonContiguous
		}
	}
	for _, e := range b {
		e.Data = slices.Clone(e.Data)
		m.ents = append(m.ents, e)
	}
	return nil
}

func (m *model) purge(id raftlog.LogID) {
	if id.Index <= m.purged.Index {
		return
	}
	if id.Index >= m.last() {
		m.ents = nil
	} else {
		m.ents = slices.Clone(m.ents[id.Index-m.purged.Index:])
	}
	m.purged = id
}

func (m *model) truncate(from uint64) error {
	if from <= m.purged.Index {
		return raftlog.ErrCompacted
	}
	if from <= m.last() {
		m.ents = m.ents[:from-m.purged.Index-1]
	}
	return nil
}

func (m *model) reset() { m.purged, m.ents = raftlog.LogID{}, nil }

// termAt is the term of the entry at i, or of the purge boundary.
func (m *model) termAt(i uint64) uint64 {
	if e, ok := m.entry(i); ok {
		return e.Term
	}
	if i == m.purged.Index {
		return m.purged.Term
	}
	return 0
}

// checkBounds compares FirstIndex, LastIndex and PurgedID with the model.
func checkBounds(t testing.TB, ls raftlog.LogStore, m *model, when string) bool {
	t.Helper()
	ok := true
	if got := ls.LastIndex(); got != m.last() {
		t.Errorf("%s: LastIndex() = %d, want %d", when, got, m.last())
		ok = false
	}
	if got := ls.FirstIndex(); got != m.first() {
		t.Errorf("%s: FirstIndex() = %d, want %d", when, got, m.first())
		ok = false
	}
	if got := ls.PurgedID(); got != m.purged {
		t.Errorf("%s: PurgedID() = %v, want %v", when, got, m.purged)
		ok = false
	}
	return ok
}

// checkLog compares the whole log with the model: bounds, Entries over the
// log, Entry at every index, and the errors just outside it.
func checkLog(t testing.TB, ls raftlog.LogStore, m *model, when string) {
	t.Helper()
	checkBounds(t, ls, m, when)
	if len(m.ents) > 0 {
		got, err := ls.Entries(m.first(), m.last())
		if err != nil {
			t.Errorf("%s: Entries(%d, %d): %v", when, m.first(), m.last(), err)
		} else {
			checkRun(t, got, m.ents, fmt.Sprintf("%s: Entries(%d, %d)", when, m.first(), m.last()))
		}
	}
	for _, want := range m.ents {
		got, err := ls.Entry(want.Index)
		if err != nil {
			t.Errorf("%s: Entry(%d): %v", when, want.Index, err)
			return
		}
		if !sameEntry(got, want) {
			t.Errorf("%s: Entry(%d) = %s, want %s", when, want.Index, describe(got), describe(want))
			return
		}
	}
	if m.purged.Index > 0 {
		checkErr(t, ls, m.purged.Index, raftlog.ErrCompacted, when)
	}
	checkErr(t, ls, m.last()+1, raftlog.ErrNotFound, when)
}

// checkRun compares a run of entries read back with the expected one.
func checkRun(t testing.TB, got, want []raftlog.Entry, what string) bool {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s returned %d entries, want %d", what, len(got), len(want))
		return false
	}
	for i := range want {
		if !sameEntry(got[i], want[i]) {
			t.Errorf("%s: entry %d is %s, want %s", what, i, describe(got[i]), describe(want[i]))
			return false
		}
	}
	return true
}

// checkErr checks that Entry(i) fails with want.
func checkErr(t testing.TB, ls raftlog.LogStore, i uint64, want error, when string) {
	t.Helper()
	got, err := ls.Entry(i)
	if !errors.Is(err, want) {
		if err == nil {
			t.Errorf("%s: Entry(%d) = %s, want an error wrapping %v", when, i, describe(got), want)
		} else {
			t.Errorf("%s: Entry(%d) error %v, want one wrapping %v", when, i, err, want)
		}
	}
}

// persist appends a batch to the engine and the model; an error fails the
// case.
func persist(t testing.TB, ls raftlog.LogStore, m *model, b []raftlog.Entry, when string) {
	t.Helper()
	if err := ls.PersistEntries(b); err != nil {
		t.Fatalf("%s: PersistEntries of %d entries from %d: %v", when, len(b), firstIndex(b), err)
	}
	if m != nil {
		if err := m.persist(b); err != nil {
			t.Fatalf("%s: the suite built a non-contiguous batch from %d on a log ending at %d", when, firstIndex(b), m.last())
		}
	}
}

func firstIndex(b []raftlog.Entry) uint64 {
	if len(b) == 0 {
		return 0
	}
	return b[0].Index
}
