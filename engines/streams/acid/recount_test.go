package acid

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

// editMeta rewrites the record of name in a closed store, as a crash
// between the transactions of a fork or a cascade can leave it: with no
// record of a clean close.
func editMeta(t *testing.T, dir, name string, edit func(*core.Meta)) {
	t.Helper()
	if err := cleanclose.Remove(vfs.Default, dir); err != nil {
		t.Fatal(err)
	}
	path := dir + "/" + shardFile(ShardOf(name, 1))
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketStreams)
		raw, err := (&tx{b: &backend{}}).unseal(tagMeta, name, nil, b.Get([]byte(name)))
		if err != nil {
			return err
		}
		m := &core.Meta{}
		if err := json.Unmarshal(raw, m); err != nil {
			return err
		}
		edit(m)
		if raw, err = json.Marshal(m); err != nil {
			return err
		}
		return b.Put([]byte(name), seal(tagMeta, name, nil, raw))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenRecountsForks checks that a fork count left off by a crash is
// counted again at open, and that a tombstone left without forks goes.
func TestOpenRecountsForks(t *testing.T) {
	dir := t.TempDir()
	o := streams.Options{Dir: dir, Params: map[string]string{"shards": "1"}}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "lone"} {
		if _, err := s.Create(n, streams.Config{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(n, []byte("12345"), streams.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Fork("b", "a", streams.Now, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	editMeta(t, dir, "a", func(m *core.Meta) { m.Refs = 2 })                       // a fork that never got created
	editMeta(t, dir, "lone", func(m *core.Meta) { m.Tombstone, m.Refs = true, 1 }) // its fork was deleted
	if s, err = Open(o); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.TotalBytes(); got != 5 {
		t.Errorf("total after open %d, want 5 (the orphan tombstone removed)", got)
	}
	if err := s.Delete("b"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "lone"} {
		if _, err := s.Create(n, streams.Config{}); err != nil {
			t.Errorf("create %s after its tombstone should have gone: %v", n, err)
		}
	}
	if got := s.TotalBytes(); got != 0 {
		t.Errorf("total %d, want 0", got)
	}
	if _, err := s.Metadata("b"); !errors.Is(err, streams.ErrNotFound) {
		t.Errorf("deleted fork: %v", err)
	}
}
