package acid_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
)

// storeWith creates a store of 4 shards in a new directory holding stream
// s with one message, closes it and returns the directory and the path of
// the shard file holding s.
func storeWith(t testing.TB) (dir, shard string) {
	t.Helper()
	dir = t.TempDir()
	s, err := acid.Open(streams.Options{Dir: dir, Params: map[string]string{"shards": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("s", streams.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("s", []byte("data"), streams.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, fmt.Sprintf("shard-%03d.db", acid.ShardOf("s", 4)))
}

// damage changes the shard file with fn in a bbolt transaction.
func damage(t testing.TB, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantCorrupt checks that err is a storage failure (500) wrapping
// streams.ErrCorrupt and naming the shard file.
func wantCorruptErr(t testing.TB, what string, err error, shard string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want one wrapping ErrCorrupt", what)
	}
	if !errors.Is(err, streams.ErrCorrupt) || streams.ClassOf(err) != streams.ClassStorage {
		t.Errorf("%s: %v (class %v), want ErrCorrupt of class %v", what, err, streams.ClassOf(err), streams.ClassStorage)
	}
	if !strings.Contains(err.Error(), filepath.Base(shard)) {
		t.Errorf("%s: %v does not name the file %s", what, err, filepath.Base(shard))
	}
}

// TestDamagedFilesAreCorrupt damages a shard in three ways: each is
// reported as corrupt data (a storage failure, 500), never as a failure
// that may pass if retried.
func TestDamagedFilesAreCorrupt(t *testing.T) {
	open := func(dir string) (streams.Store, error) {
		return acid.Open(streams.Options{Dir: dir, Params: map[string]string{"shards": "4"}})
	}
	t.Run("stream record", func(t *testing.T) {
		dir, shard := storeWith(t)
		damage(t, shard, func(tx *bolt.Tx) error { return tx.Bucket([]byte("streams")).Put([]byte("s"), []byte("{not json")) })
		s, err := open(dir)
		if err == nil {
			_ = s.Close()
		}
		wantCorruptErr(t, "open with a damaged stream record", err, shard)
	})
	t.Run("message key", func(t *testing.T) {
		dir, shard := storeWith(t)
		damage(t, shard, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("messages")).Bucket([]byte("s")).Put([]byte("odd"), []byte("x"))
		})
		// The damage may be found at open (the shard differs from the
		// record of the clean close) or by the read that meets it.
		s, err := open(dir)
		if err != nil {
			wantCorruptErr(t, "open of a store with a malformed message key", err, shard)
			return
		}
		defer s.Close()
		_, err = s.Read("s", streams.Start)
		wantCorruptErr(t, "read of a stream with a malformed message key", err, shard)
	})
	t.Run("not a database", func(t *testing.T) {
		dir, shard := storeWith(t)
		if err := os.WriteFile(shard, []byte(strings.Repeat("garbage!", 4096)), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := open(dir)
		if err == nil {
			_ = s.Close()
		}
		wantCorruptErr(t, "open of a shard that is not a database", err, shard)
	})
}
