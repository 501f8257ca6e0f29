package hashiraft

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

func TestLogEncodingRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 6, 30, 1, 123456789, time.FixedZone("x", 3600))
	cases := []struct {
		name string
		log  raft.Log
	}{
		{"empty command", raft.Log{Index: 1, Term: 1}},
		{"data only", raft.Log{Index: 7, Term: 3, Type: raft.LogCommand, Data: []byte("hello")}},
		{"configuration", raft.Log{Index: 2, Term: 9, Type: raft.LogConfiguration, Data: []byte{0, 1, 2}}},
		{"noop", raft.Log{Index: 3, Term: 2, Type: raft.LogNoop}},
		{"extensions only", raft.Log{Index: 4, Term: 2, Extensions: []byte("chunk:1/3")}},
		{"appended at only", raft.Log{Index: 5, Term: 2, AppendedAt: at}},
		{"appended at before 1970", raft.Log{Index: 5, Term: 2, AppendedAt: time.Date(1960, 1, 1, 0, 0, 0, 5, time.UTC)}},
		{"everything", raft.Log{Index: 1 << 40, Term: 1 << 33, Type: raft.LogBarrier, Data: bytes.Repeat([]byte{0xff}, 300), Extensions: bytes.Repeat([]byte{1}, 200), AppendedAt: at}},
		{"unknown type", raft.Log{Index: 6, Term: 6, Type: raft.LogType(200), Data: []byte("x")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := encodeLog(&tc.log)
			if e.Index != tc.log.Index || e.Term != tc.log.Term || e.Type != raftlog.EntryType(tc.log.Type) {
				t.Fatalf("entry %+v does not carry index, term and type of %+v", e, tc.log)
			}
			var got raft.Log
			if err := decodeEntry(e, &got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.Index != tc.log.Index || got.Term != tc.log.Term || got.Type != tc.log.Type {
				t.Errorf("index/term/type: got %d/%d/%v, want %d/%d/%v", got.Index, got.Term, got.Type, tc.log.Index, tc.log.Term, tc.log.Type)
			}
			if !bytes.Equal(got.Data, tc.log.Data) || (got.Data == nil) != (len(tc.log.Data) == 0) {
				t.Errorf("data: got %q, want %q", got.Data, tc.log.Data)
			}
			if !bytes.Equal(got.Extensions, tc.log.Extensions) || (got.Extensions == nil) != (len(tc.log.Extensions) == 0) {
				t.Errorf("extensions: got %q, want %q", got.Extensions, tc.log.Extensions)
			}
			if !got.AppendedAt.Equal(tc.log.AppendedAt) || got.AppendedAt.IsZero() != tc.log.AppendedAt.IsZero() {
				t.Errorf("appended at: got %v, want %v", got.AppendedAt, tc.log.AppendedAt)
			}
		})
	}
}

func TestLogEncodingHeaderSize(t *testing.T) {
	e := encodeLog(&raft.Log{Index: 1, Term: 1, Data: []byte("abc")})
	if want := []byte{headerVersion1, 0, 'a', 'b', 'c'}; !bytes.Equal(e.Data, want) {
		t.Fatalf("plain log encodes as %v, want %v", e.Data, want)
	}
}

func TestLogDecodingCorrupt(t *testing.T) {
	cases := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"one byte", []byte{headerVersion1}},
		{"unknown version", []byte{2, 0}},
		{"unknown flag", []byte{headerVersion1, 0x80}},
		{"extensions length beyond data", []byte{headerVersion1, flagExtensions, 10, 'a'}},
		{"extensions length truncated", []byte{headerVersion1, flagExtensions, 0x80}},
		{"appended at missing", []byte{headerVersion1, flagAppendedAt}},
		{"appended at nanos missing", []byte{headerVersion1, flagAppendedAt, 2}},
		{"appended at nanos too big", []byte{headerVersion1, flagAppendedAt, 2, 0x80, 0x94, 0xeb, 0xdc, 0x03}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l raft.Log
			err := decodeEntry(raftlog.Entry{Index: 3, Term: 1, Data: tc.data}, &l)
			if !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("decode %v: got %v, want an error wrapping ErrCorrupt", tc.data, err)
			}
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	states := []raftlog.HardState{
		{},
		{Term: 5, Vote: raftlog.Vote{Term: 5, Candidate: "node-2"}, Commit: 17},
		{Term: 1 << 62, Vote: raftlog.Vote{Term: 1 << 61, Candidate: string(bytes.Repeat([]byte{0}, 300))}, Commit: 1<<64 - 1},
	}
	for _, hs := range states {
		got, err := decodeHardState(encodeHardState(hs))
		if err != nil || got != hs {
			t.Errorf("hard state %+v: got %+v, %v", hs, got, err)
		}
	}
	ids := []raftlog.LogID{{}, {Index: 10, Term: 3}, {Index: 1<<64 - 1, Term: 1<<64 - 1}}
	for _, id := range ids {
		got, err := decodeLogID(encodeLogID(id))
		if err != nil || got != id {
			t.Errorf("log id %v: got %v, %v", id, got, err)
		}
	}
}

func TestRecordCorrupt(t *testing.T) {
	good := encodeHardState(raftlog.HardState{Term: 3, Vote: raftlog.Vote{Term: 3, Candidate: "n1"}, Commit: 2})
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"candidate length beyond record", []byte{recordVersion1, 1, 1, 1, 50, 'x'}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeHardState(tc.b); !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("got %v, want an error wrapping ErrCorrupt", err)
			}
		})
	}
	if _, err := decodeLogID([]byte{recordVersion1, 0x80}); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Fatalf("truncated log id: got %v, want an error wrapping ErrCorrupt", err)
	}
}
