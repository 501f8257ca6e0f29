package acid_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/engines/streams/streamstest"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

func harness(bugs acid.Bugs, params map[string]string) streamstest.Harness {
	return streamstest.Harness{
		Name:           "acid",
		Open:           func(o streams.Options) (streams.Store, error) { return acid.OpenWithBugs(o, bugs) },
		Params:         params,
		MismatchParams: map[string]string{"shards": "8"},
	}
}

func TestConformance(t *testing.T) {
	for _, p := range []map[string]string{
		{"shards": "4"},
		{"shards": "1", "group_commit": "false"},
	} {
		t.Run(fmt.Sprint(p), func(t *testing.T) { streamstest.Run(t, harness(acid.Bugs{}, p)) })
	}
}

// TestPlantedBugsAreCaught proves that the suite fails the engine with each
// planted bug, in the cases named for it.
func TestPlantedBugsAreCaught(t *testing.T) {
	for _, c := range []struct {
		name string
		bugs acid.Bugs
		want []string
	}{
		{"producer state outside the append", acid.Bugs{ProducerStateOutsideTxn: true}, []string{"durability/reopen"}},
		{"total bytes not rolled back", acid.Bugs{NoTotalRollback: true}, []string{"limits/total", "limits/stream"}},
		{"fork read past the fork offset", acid.Bugs{ForkReadPastOffset: true}, []string{"fork/read", "fork/chain"}},
		{"layout manifest not validated", acid.Bugs{SkipLayoutCheck: true}, []string{"layout/mismatch"}},
		{"value checksums not checked", acid.Bugs{SkipValueChecksums: true}, []string{"durability/corruption"}},
		{"ttl window does not slide", acid.Bugs{FixedTTL: true}, []string{"expiry/sliding"}},
		{"expired bytes kept until a restart", acid.Bugs{KeepExpiredBytes: true}, []string{"expiry/frees-bytes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fails := streamstest.Failures(harness(c.bugs, map[string]string{"shards": "4"}))
			for _, w := range c.want {
				if _, ok := fails[w]; !ok {
					t.Errorf("case %s did not catch the bug (failures: %v)", w, fails)
				}
			}
		})
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		o    streams.Options
	}{
		{"no dir", streams.Options{}},
		{"shards not a power of two", streams.Options{Params: map[string]string{"shards": "3"}}},
		{"too many shards", streams.Options{Params: map[string]string{"shards": "512"}}},
		{"zero shards", streams.Options{Params: map[string]string{"shards": "0"}}},
		{"shards not a number", streams.Options{Params: map[string]string{"shards": "four"}}},
		{"bad group commit", streams.Options{Params: map[string]string{"group_commit": "maybe"}}},
		{"unknown param", streams.Options{Params: map[string]string{"bogus": "1"}}},
		{"in-memory fs", streams.Options{FS: vfs.NewMem()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "no dir" {
				c.o.Dir = t.TempDir()
			}
			s, err := acid.Open(c.o)
			if err == nil {
				_ = s.Close()
				t.Fatal("open succeeded")
			}
			if !errors.Is(err, streams.ErrBadOption) {
				t.Errorf("error %v does not wrap ErrBadOption", err)
			}
		})
	}
	for _, n := range []string{"1", "2", "256"} {
		dir := t.TempDir()
		s, err := acid.Open(streams.Options{Dir: dir, FS: vfs.Default, Params: map[string]string{"shards": n}})
		if err != nil {
			t.Fatalf("open with %s shards: %v", n, err)
		}
		if c := s.Capabilities(); !c.Persistent || !c.SyncOnWrite || c.UsesFS {
			t.Errorf("capabilities %+v", c)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "shard-*.db"))
		if fmt.Sprint(len(files)) != n {
			t.Errorf("%s shards made %d files", n, len(files))
		}
	}
}

func TestLayoutManifest(t *testing.T) {
	dir := t.TempDir()
	s, err := acid.Open(streams.Options{Dir: dir, Params: map[string]string{"shards": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, acid.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"format_version":2,"shard_count":2,"hash_policy":"fnv1a64-v1","checksum":969159178}`; string(raw) != want {
		t.Errorf("manifest %s, want %s", raw, want)
	}
	if _, err := os.Stat(filepath.Join(dir, acid.ManifestName+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary manifest left behind: %v", err)
	}
	for name, body := range map[string]string{
		"format": `{"format_version":2,"shard_count":2,"hash_policy":"fnv1a64-v1"}`,
		"hash":   `{"format_version":1,"shard_count":2,"hash_policy":"seahash-v1"}`,
		"junk":   `not json`,
	} {
		if err := os.WriteFile(filepath.Join(dir, acid.ManifestName), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := acid.Open(streams.Options{Dir: dir, Params: map[string]string{"shards": "2"}})
		if !errors.Is(err, streams.ErrLayout) || !strings.Contains(err.Error(), acid.ManifestName) {
			t.Errorf("%s: open = %v, want ErrLayout naming the manifest", name, err)
		}
	}
	if err := os.Remove(filepath.Join(dir, acid.ManifestName)); err != nil {
		t.Fatal(err)
	}
	if _, err := acid.Open(streams.Options{Dir: dir, Params: map[string]string{"shards": "2"}}); !errors.Is(err, streams.ErrLayout) {
		t.Errorf("shards without a manifest: %v, want ErrLayout", err)
	}
}

// TestShardOfIsStable pins the hash: a change would strand every stream in
// a shard its name no longer maps to.
func TestShardOfIsStable(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		want int
	}{
		{"", 256, 0x25}, {"a", 256, 0x8c}, {"stream-1", 256, 0x0b}, {"a", 16, 0xc},
	} {
		if got := acid.ShardOf(c.name, c.n); got != c.want {
			t.Errorf("ShardOf(%q, %d) = %#x, want %#x", c.name, c.n, got, c.want)
		}
	}
	if got := acid.ShardOf("anything", 1); got != 0 {
		t.Errorf("one shard: %d", got)
	}
}

func TestRegistered(t *testing.T) {
	s, err := streams.Open("acid", streams.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Create("x", streams.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Open("nope", streams.Options{}); !errors.Is(err, streams.ErrUnknownEngine) {
		t.Errorf("unknown engine: %v", err)
	}
}

func TestLostShardFile(t *testing.T) {
	dir := t.TempDir()
	o := streams.Options{Dir: dir, Params: map[string]string{"shards": "2"}}
	s, err := acid.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// An empty store may lose a shard file (a crash before its name was
	// synced): it is made again. A crash leaves no record of a clean close.
	if err := cleanclose.Remove(vfs.Default, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "shard-001.db")); err != nil {
		t.Fatal(err)
	}
	if s, err = acid.Open(o); err != nil {
		t.Fatalf("reopen of an empty store missing a shard: %v", err)
	}
	for i := 0; i < 8; i++ {
		if _, err := s.Create(fmt.Sprint("s", i), streams.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "shard-001.db")); err != nil {
		t.Fatal(err)
	}
	// After a clean close the record names the file.
	if _, err := acid.Open(o); !errors.Is(err, streams.ErrCorrupt) || !strings.Contains(err.Error(), "shard-001.db") {
		t.Errorf("reopen of a used store missing a shard after a clean close: %v, want ErrCorrupt naming it", err)
	}
	// Without it, the layout does.
	if err := cleanclose.Remove(vfs.Default, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := acid.Open(o); !errors.Is(err, streams.ErrLayout) || !errors.Is(err, streams.ErrCorrupt) || !strings.Contains(err.Error(), "shard-001.db") {
		t.Errorf("reopen of a used store missing a shard: %v, want ErrLayout and ErrCorrupt naming it", err)
	}
}
