package kvcodec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// The stored bytes are the engines' on-disk format: these must not change.
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"entry", AppendEntry(nil, raftlog.Entry{Index: 7, Term: 3, Type: 2, Data: []byte("xy")}), "25ec00070000000000000003027879"},
		{"empty entry", AppendEntry(nil, raftlog.Entry{Index: 1, Term: 1}), "0219403b000000000000000100"},
		{"hard state", EncodeHardState(raftlog.HardState{Term: 5, Vote: raftlog.Vote{Term: 4, Candidate: "n2"}, Commit: 9}), "e8085b980000000000000005000000000000000400000000000000096e32"},
		{"purge boundary", EncodeLogID(raftlog.LogID{Index: 10, Term: 2}), "f6a9c2eb000000000000000a0000000000000002"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(tc.got); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, ent := range []raftlog.Entry{
		{Index: 1, Term: 1},
		{Index: 1 << 40, Term: 7, Type: 2, Data: bytes.Repeat([]byte{0xa5}, 1000)},
	} {
		dst := make([]byte, 3, 3+EntryLen(ent))
		v := AppendEntry(dst, ent)
		if len(v) != 3+EntryLen(ent) || &v[0] != &dst[0] {
			t.Fatalf("AppendEntry wrote %d bytes, want %d in place", len(v)-3, EntryLen(ent))
		}
		got, err := DecodeEntry(ent.Index, v[3:])
		if err != nil || got.Index != ent.Index || got.Term != ent.Term || got.Type != ent.Type || !bytes.Equal(got.Data, ent.Data) {
			t.Fatalf("DecodeEntry = %+v, %v; want %+v", got, err, ent)
		}
		if len(ent.Data) > 0 && &got.Data[0] == &v[3+EntryHeaderLen] {
			t.Fatal("DecodeEntry returned data aliasing the value")
		}
	}
	for _, hs := range []raftlog.HardState{{}, {Term: 5, Vote: raftlog.Vote{Term: 4, Candidate: "node-3"}, Commit: 9}} {
		if got, err := DecodeHardState(EncodeHardState(hs)); err != nil || got != hs {
			t.Fatalf("DecodeHardState = %+v, %v; want %+v", got, err, hs)
		}
	}
	id := raftlog.LogID{Index: 10, Term: 2}
	if got, err := DecodeLogID(EncodeLogID(id)); err != nil || got != id {
		t.Fatalf("DecodeLogID = %v, %v; want %v", got, err, id)
	}
}

func TestCorrupt(t *testing.T) {
	good := AppendEntry(nil, raftlog.Entry{Index: 7, Term: 1, Data: []byte("x")})
	flipped := append(bytes.Clone(good[:len(good)-1]), 'y')
	tests := []struct {
		name   string
		decode func() error
	}{
		{"short entry", func() error { _, err := DecodeEntry(5, []byte{1, 2}); return err }},
		{"entry checksum", func() error { _, err := DecodeEntry(7, flipped); return err }},
		{"entry under another index", func() error { _, err := DecodeEntry(5, good); return err }},
		{"hard state without checksum", func() error { _, err := DecodeHardState([]byte{1}); return err }},
		{"hard state checksum", func() error { _, err := DecodeHardState([]byte("garbage-hard-state")); return err }},
		{"short hard state", func() error { _, err := DecodeHardState(Seal([]byte{1, 2, 3})); return err }},
		{"purge boundary checksum", func() error { _, err := DecodeLogID([]byte("bad")); return err }},
		{"purge boundary length", func() error { _, err := DecodeLogID(Seal(make([]byte, 17))); return err }},
	}
	for _, tc := range tests {
		if err := tc.decode(); !errors.Is(err, raftlog.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
	}
}
