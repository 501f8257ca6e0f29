package acid_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/faults"
)

// payload is a message easy to find in a shard file.
func payload(i int) []byte { return bytes.Repeat([]byte{'A' + byte(i%26), 'Z'}, 300) }

const perStream = 80

// closedStore writes a store of one shard: two streams of perStream
// messages, a third deleted, and closes it.
func closedStore(t *testing.T) (string, streams.Options) {
	t.Helper()
	dir := t.TempDir()
	o := streams.Options{Dir: dir, Params: map[string]string{"shards": "1"}}
	s, err := acid.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "gone"} {
		if _, err := s.Create(name, streams.Config{}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perStream; i++ {
			if _, err := s.Append(name, payload(i), streams.AppendOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, o
}

// readAll opens the store and reads both streams; it returns the first
// error, or one saying what is wrong without an error.
func readAll(o streams.Options) error {
	s, err := acid.Open(o)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, name := range []string{"a", "b"} {
		r, err := s.Read(name, streams.Start)
		if err != nil {
			return err
		}
		if len(r.Messages) != perStream {
			return errors.New("silent: messages lost")
		}
		for i, m := range r.Messages {
			if !bytes.Equal(m.Data, payload(i)) {
				return errors.New("silent: a message with other data")
			}
		}
	}
	if _, err := s.Metadata("gone"); !errors.Is(err, streams.ErrNotFound) {
		return errors.New("silent: a deleted stream is back")
	}
	return nil
}

func wantCorrupt(t *testing.T, o streams.Options, what string) {
	t.Helper()
	for attempt := 1; attempt <= 2; attempt++ {
		if err := readAll(o); !errors.Is(err, streams.ErrCorrupt) {
			t.Fatalf("%s: attempt %d: %v; want streams.ErrCorrupt", what, attempt, err)
		}
	}
}

// TestFlippedPayload: a message's byte flipped was served as it was; the
// values carry checksums now.
func TestFlippedPayload(t *testing.T) {
	dir, o := closedStore(t)
	path := filepath.Join(dir, "shard-000.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, payload(7))
	if at < 0 {
		t.Fatal("payload not found in the shard file")
	}
	b[at+100] ^= 0x02
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, o, "a flipped payload byte")
}

// TestDamagedShardNeverCrashes: a cut shard file made bbolt fault on its
// mapping, a zeroed page made it panic in the goroutine it starts at open;
// both killed the process. Each seed's damage is now an error.
func TestDamagedShardNeverCrashes(t *testing.T) {
	pristine, _ := closedStore(t)
	for _, c := range []faults.Corruption{
		{Kind: faults.CorruptTruncate, Seed: 1, Path: "shard-*"},
		{Kind: faults.CorruptTruncate, Seed: 2, Path: "shard-*"},
		{Kind: faults.CorruptZero, Seed: 1, Path: "shard-*"},
		{Kind: faults.CorruptZero, Seed: 2, Path: "shard-*"},
		{Kind: faults.CorruptZero, Seed: 3, Path: "shard-*"},
	} {
		dir := t.TempDir()
		ents, err := os.ReadDir(pristine)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(pristine, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		o := streams.Options{Dir: dir, Params: map[string]string{"shards": "1"}}
		d, err := c.ApplyDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := readAll(o); err != nil && !errors.Is(err, streams.ErrCorrupt) {
			t.Fatalf("%s: %v; want streams.ErrCorrupt or everything", d, err)
		}
	}
}

// TestNewestMetaPageDamaged: bbolt fell back on the transaction before,
// in which the deleted stream still lived.
func TestNewestMetaPageDamaged(t *testing.T) {
	dir, o := closedStore(t)
	path := filepath.Join(dir, "shard-000.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(binary.LittleEndian.Uint32(b[16+8:]))
	txid := func(p int) uint64 { return binary.LittleEndian.Uint64(b[p*ps+16+48:]) }
	newest := 0
	if txid(1) > txid(0) {
		newest = 1
	}
	b[newest*ps+16+20] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, o, "the newest meta page flipped")
}
