package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

func TestParseFrame(t *testing.T) {
	const seq, off = 3, 64
	payload := []byte("hello, frames")
	good := appendFrame(nil, kindTruncate, payload, seq, off)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name   string
		frame  []byte
		want   frameStatus
		reason string
	}{
		{"good", good, frameOK, ""},
		{"good, more data after", append(append([]byte(nil), good...), 1, 2, 3), frameOK, ""},
		{"padding missing at the end of the file", good[:frameHeaderSize+len(payload)], frameOK, ""},
		{"empty", nil, frameEnd, ""},
		{"zero header", make([]byte, 40), frameEnd, ""},
		{"short zeros", make([]byte, 5), frameEnd, ""},
		{"short header", good[:9], frameBad, "incomplete frame header"},
		{"payload cut", good[:frameHeaderSize+4], frameBad, "runs past the end"},
		{"header bit flip", mutate(func(b []byte) []byte { b[0] ^= 1; return b }), frameBad, "header checksum"},
		{"header checksum flip", mutate(func(b []byte) []byte { b[13] ^= 1; return b }), frameBad, "header checksum"},
		{"payload bit flip", mutate(func(b []byte) []byte { b[frameHeaderSize+2] ^= 1; return b }), framePayloadBad, "payload checksum"},
		{"payload checksum flip", mutate(func(b []byte) []byte { b[9] ^= 1; return b }), frameBad, "header checksum"},
		{"unknown kind", mutate(func(b []byte) []byte {
			b[4] = 99
			binary.LittleEndian.PutUint32(b[12:], headerCRC(b, seq, off))
			return b
		}), frameBad, "unknown frame kind"},
		{"huge length", mutate(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[0:], 1<<31+5)
			binary.LittleEndian.PutUint32(b[12:], headerCRC(b, seq, off))
			return b
		}), frameBad, "runs past the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := append(make([]byte, off), tc.frame...)
			f, st, reason := parseFrame(data, seq, off)
			if st != tc.want {
				t.Fatalf("status %d (%s), want %d", st, reason, tc.want)
			}
			if !bytes.Contains([]byte(reason), []byte(tc.reason)) {
				t.Fatalf("reason %q, want it to contain %q", reason, tc.reason)
			}
			if st == frameOK {
				if f.kind != kindTruncate || !bytes.Equal(f.payload, payload) || f.next != off+frameSize(len(payload)) {
					t.Fatalf("frame %+v", f)
				}
			}
		})
	}
	// The same bytes elsewhere, or in another segment, do not check out.
	moved := append(make([]byte, off+8), good...)
	if _, st, _ := parseFrame(moved, seq, off+8); st != frameBad {
		t.Fatalf("a frame moved by 8 bytes: status %d, want frameBad", st)
	}
	data := append(make([]byte, off), good...)
	if _, st, _ := parseFrame(data, seq+1, off); st != frameBad {
		t.Fatalf("a frame read as another segment's: status %d, want frameBad", st)
	}
	if got := findValidFrame(append(make([]byte, 200), data...), seq, 0); got != -1 {
		t.Fatalf("findValidFrame found a moved frame at %d", got)
	}
	if got := findValidFrame(data, seq, 8); got != off {
		t.Fatalf("findValidFrame = %d, want %d", got, off)
	}
}

func TestEntriesPayload(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch []raftlog.Entry
	}{
		{"one empty entry", []raftlog.Entry{{Index: 1, Term: 1}}},
		{"several", makeBatch(7, 5, 3, 17)},
		{"large", makeBatch(1_000_000, 2, 9, 70_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, entriesPayloadSize(tc.batch))
			rel := putEntries(p, tc.batch, nil)
			var got []raftlog.Entry
			err := walkEntries(p, func(index uint64, off int64, n uint32) {
				if off != rel[len(got)] {
					t.Fatalf("entry %d at %d, putEntries said %d", index, off, rel[len(got)])
				}
				e, err := decodeEntry(p[off:off+int64(n)], index)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e)
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.batch) {
				t.Fatalf("%d entries, want %d", len(got), len(tc.batch))
			}
			for i := range got {
				if !sameEntry(got[i], tc.batch[i]) {
					t.Fatalf("entry %d = %s, want %s", i, describe(got[i]), describe(tc.batch[i]))
				}
			}
		})
	}
	good := make([]byte, entriesPayloadSize(makeBatch(1, 2, 1, 4)))
	putEntries(good, makeBatch(1, 2, 1, 4), nil)
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"short", good[:5]},
		{"cut entry", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
		{"no entries", func() []byte { b := append([]byte(nil), good[:12]...); b[8] = 0; return b }()},
		{"index zero", func() []byte { b := append([]byte(nil), good...); b[0] = 0; return b }()},
		{"count too high", func() []byte { b := append([]byte(nil), good...); b[8] = 3; return b }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := walkEntries(tc.p, func(uint64, int64, uint32) {}); err == nil {
				t.Fatal("walkEntries accepted a malformed payload")
			}
		})
	}
	if _, err := decodeEntry(make([]byte, 5), 1); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Fatalf("decodeEntry of 5 bytes: %v", err)
	}
}

func TestSegHeader(t *testing.T) {
	h := segHeader{seq: 42, purged: raftlog.LogID{Index: 7, Term: 2}, last: 99}
	b := encodeSegHeader(h)
	if got, err := decodeSegHeader(b); err != nil || got != h {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", b[:63], errShortHeader},
		{"magic", func() []byte { c := append([]byte(nil), b...); c[0] = 'x'; return c }(), errBadMagic},
		{"flip", func() []byte { c := append([]byte(nil), b...); c[30] ^= 1; return c }(), errHeaderCRC},
		{"version", func() []byte {
			c := append([]byte(nil), b...)
			c[8] = 2
			binary.LittleEndian.PutUint32(c[60:], crc(c[:60]))
			return c
		}(), errVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSegHeader(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHardStateCodec(t *testing.T) {
	for _, hs := range []*raftlog.HardState{
		nil,
		{},
		{Term: 3, Vote: raftlog.Vote{Term: 3, Candidate: "2"}, Commit: 10},
		{Term: 1 << 60, Vote: raftlog.Vote{Term: 1, Candidate: "server-with-a-long-id"}, Commit: 1 << 62},
	} {
		b := encodeSlot(7, hs)
		want := slotRecord{seq: 7}
		if hs != nil {
			want.hs, want.ok = *hs, true
		}
		if got, _, reason := decodeSlot(b); reason != "" || got != want {
			t.Fatalf("round trip of %+v = %+v (%s)", hs, got, reason)
		}
		padded := make([]byte, slotAlign)
		copy(padded, b)
		if got, _, reason := decodeSlot(padded); reason != "" || got != want {
			t.Fatalf("round trip of %+v in a whole slot = %+v (%s)", hs, got, reason)
		}
		for i := range b {
			c := append([]byte(nil), b...)
			c[i] ^= 0x10
			if _, _, reason := decodeSlot(c); reason == "" {
				t.Fatalf("a flip at byte %d of %+v went unnoticed", i, hs)
			}
		}
		if _, _, reason := decodeSlot(b[:len(b)-1]); reason == "" {
			t.Fatalf("a cut slot went unnoticed")
		}
	}
	if _, _, reason := decodeSlot(make([]byte, slotAlign)); reason == "" {
		t.Fatalf("an all-zero slot decoded")
	}
}

func TestHardStateV1Codec(t *testing.T) {
	hs := raftlog.HardState{Term: 3, Vote: raftlog.Vote{Term: 2, Candidate: "n1"}, Commit: 9}
	b := encodeHardStateV1(hs)
	if got, _, reason := decodeHardStateV1(b); reason != "" || got != hs {
		t.Fatalf("round trip of %+v = %+v (%s)", hs, got, reason)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x10
		if _, _, reason := decodeHardStateV1(c); reason == "" {
			t.Fatalf("a flip at byte %d went unnoticed", i)
		}
	}
	if _, _, reason := decodeHardStateV1(encodeSlot(1, &hs)); reason == "" {
		t.Fatalf("a version 2 record decoded as version 1")
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true},
		{"64MiB", 64 << 20, true},
		{"64mib", 64 << 20, true},
		{"1MB", 1_000_000, true},
		{"1 KiB", 1024, true},
		{"2k", 2048, true},
		{"3G", 3 << 30, true},
		{"10B", 10, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"12 parsecs", 0, false},
		{"99999999999TiB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
