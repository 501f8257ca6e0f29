// Package acid is a streams.Store over N bbolt files, the shards, as the
// acid storage of the Durable Streams server keeps its redb files. It is
// registered as "acid".
//
// A stream lives in shard FNV-1a-64(name) & (N-1): FNV-1a is fixed by its
// specification (offset basis 14695981039346656037, prime 1099511628211), so
// a name maps to the same shard across versions. N is a power of two from 1
// to 256, the parameter "shards" (default 4). A layout manifest, LAYOUT,
// records the format version, N and the hash policy; it is written
// atomically (temporary file, fsync, rename, directory fsync) when the
// directory is new and checked at every later open: a directory made with
// another layout, or holding shard files without a manifest, fails to open
// with streams.ErrLayout, as does one that lost some shard files while
// the others hold streams.
//
// Every mutation is one bbolt transaction committed with fsync; an
// append's producer state is in the same record, so in the same
// transaction, as its data. Concurrent appends to a shard commit in groups
// (parameter "group_commit", default true): the first appender commits
// everything queued while the previous commit ran, in one transaction and
// one fsync. A fork and a cascading delete touch the records of two
// streams, possibly in two shards: each record changes in its own
// transaction. At open the store sums its totals, counts each source's
// forks again (a crash between those transactions leaves a count off),
// and removes the tombstones left without forks and the streams that
// expired while it was closed.
//
// bbolt writes through the operating system with its own mmap, not through
// a vfs.FS: Capabilities say UsesFS=false and Options.FS other than the
// default is refused. Crash tests need faults/lazyfs.
package acid

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
	"github.com/ordeal-dev/ordeal/internal/durable"
)

func init() {
	streams.Register("acid", func(o streams.Options) (streams.Store, error) { return Open(o) })
}

// Layout constants recorded in the manifest.
const (
	FormatVersion = 1
	HashPolicy    = "fnv1a64-v1"
	ManifestName  = "LAYOUT"
	DefaultShards = 4
)

// Bugs plants known bugs, to prove that the conformance suite catches them.
// The zero value is the correct engine.
type Bugs struct {
	// ProducerStateOutsideTxn keeps producer state in memory instead of
	// committing it with the append.
	ProducerStateOutsideTxn bool
	// NoTotalRollback keeps the total-bytes reservation of a failed append.
	NoTotalRollback bool
	// ForkReadPastOffset returns source data past the fork offset.
	ForkReadPastOffset bool
	// SkipLayoutCheck opens a directory whatever its manifest says.
	SkipLayoutCheck bool
	// FixedTTL does not slide a TTL window on access.
	FixedTTL bool
	// KeepExpiredBytes leaves expired streams, and their bytes in the
	// total, in place until the name is created again or the store reopens.
	KeepExpiredBytes bool
}

var (
	bucketStreams  = []byte("streams")
	bucketMessages = []byte("messages")
)

// Manifest is the layout manifest.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	ShardCount    int    `json:"shard_count"`
	HashPolicy    string `json:"hash_policy"`
}

// ShardOf returns the shard of name among n (a power of two).
func ShardOf(name string, n int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum64() & uint64(n-1))
}

// Open opens, or creates, the store in o.Dir.
func Open(o streams.Options) (*core.Store, error) { return OpenWithBugs(o, Bugs{}) }

// OpenWithBugs opens the store with planted bugs; see Bugs.
func OpenWithBugs(o streams.Options, bugs Bugs) (*core.Store, error) {
	if err := streams.CheckParams("acid", o.Params, "shards", "group_commit"); err != nil {
		return nil, err
	}
	if o.FS != nil && o.FS != vfs.Default {
		return nil, fmt.Errorf("%w: acid writes through the operating system (bbolt), Options.FS must be nil or vfs.Default", streams.ErrBadOption)
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: acid needs Options.Dir", streams.ErrBadOption)
	}
	n := DefaultShards
	if v, ok := o.Params["shards"]; ok {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("%w: acid shards %q: %v", streams.ErrBadOption, v, err)
		}
	}
	if n < 1 || n > 256 || bits.OnesCount(uint(n)) != 1 {
		return nil, fmt.Errorf("%w: acid shards must be a power of two from 1 to 256, got %d", streams.ErrBadOption, n)
	}
	group := true
	if v, ok := o.Params["group_commit"]; ok {
		var err error
		if group, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("%w: acid group_commit %q: %v", streams.ErrBadOption, v, err)
		}
	}
	if err := durable.MkdirAll(vfs.Default, o.Dir, 0o755); err != nil {
		return nil, err
	}
	want := Manifest{FormatVersion: FormatVersion, ShardCount: n, HashPolicy: HashPolicy}
	if err := checkLayout(o.Dir, want, bugs.SkipLayoutCheck); err != nil {
		return nil, err
	}
	b := &backend{group: group, bugs: bugs, producers: map[string]map[string]core.ProducerState{}}
	var missing []string
	for i := 0; i < n; i++ {
		if _, err := os.Stat(filepath.Join(o.Dir, shardFile(i))); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, shardFile(i))
		}
	}
	for i := 0; i < n; i++ {
		db, err := openShard(filepath.Join(o.Dir, shardFile(i)))
		if err != nil {
			_ = b.Close()
			return nil, err
		}
		b.shards = append(b.shards, &shard{db: db})
	}
	// A shard file may be missing only if the store never held a stream:
	// its name was synced before the first stream was created.
	if len(missing) > 0 && len(missing) < n && !bugs.SkipLayoutCheck {
		used, err := b.holdsStreams()
		if err == nil && used {
			err = fmt.Errorf("%w: %s lost shard files %v", streams.ErrLayout, o.Dir, missing)
		}
		if err != nil {
			_ = b.Close()
			return nil, err
		}
	}
	// bbolt syncs its file, not the directory entry naming a new one.
	if err := durable.SyncDir(vfs.Default, o.Dir); err != nil {
		_ = b.Close()
		return nil, err
	}
	s, err := core.New(b, core.Options{
		Clock: o.Clock, MaxTotalBytes: o.MaxTotalBytes, MaxStreamBytes: o.MaxStreamBytes,
		Caps: streams.Capabilities{Persistent: true, SyncOnWrite: true},
		Bugs: core.Bugs{NoTotalRollback: bugs.NoTotalRollback, ForkReadPastOffset: bugs.ForkReadPastOffset, FixedTTL: bugs.FixedTTL, KeepExpiredBytes: bugs.KeepExpiredBytes},
	})
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return s, nil
}

func shardFile(i int) string { return fmt.Sprintf("shard-%03d.db", i) }

// checkLayout validates the manifest of dir against want, or writes it if
// the directory holds no shard yet.
func checkLayout(dir string, want Manifest, skip bool) error {
	path := filepath.Join(dir, ManifestName)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		shards, gerr := filepath.Glob(filepath.Join(dir, "shard-*.db"))
		if gerr != nil {
			return fmt.Errorf("acid: list shards: %w", gerr)
		}
		if len(shards) > 0 && !skip {
			return fmt.Errorf("%w: %s holds %d shard files but no %s", streams.ErrLayout, dir, len(shards), ManifestName)
		}
		return writeManifest(dir, want)
	case err != nil:
		return fmt.Errorf("acid: read %s: %w", path, err)
	}
	if skip {
		return nil
	}
	var got Manifest
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("%w: %s is not a layout manifest: %v", streams.ErrLayout, path, err)
	}
	if got != want {
		return fmt.Errorf("%w: %s has format %d, %d shards, hash %q; opened with format %d, %d shards, hash %q",
			streams.ErrLayout, path, got.FormatVersion, got.ShardCount, got.HashPolicy,
			want.FormatVersion, want.ShardCount, want.HashPolicy)
	}
	return nil
}

func writeManifest(dir string, m Manifest) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("acid: encode manifest: %w", err)
	}
	tmp := filepath.Join(dir, ManifestName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("acid: create manifest: %w", err)
	}
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("acid: write manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("acid: install manifest: %w", err)
	}
	return durable.SyncDir(vfs.Default, dir)
}

func openShard(path string) (*bolt.DB, error) {
	// The freelist is not written at each commit (bbolt rebuilds it at
	// open by scanning the file): a commit then writes fewer pages, which
	// is most of its fsync's cost.
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("acid: open shard %s: %w", path, boltError(err))
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketStreams, bucketMessages} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("acid: init shard %s: %w", path, boltError(err))
	}
	return db, nil
}

// boltError marks an error of bbolt with the class the Durable Streams
// server's acid storage gives its redb counterpart: a database that is
// closed or locked by another process (the open timed out) is unavailable,
// a file that is not a valid database or fails its checksums is corrupt, a
// key, value or file over bbolt's limits is insufficient storage. Other
// errors (I/O errors carry their errno) are left to streams.CauseClass.
func boltError(err error) error {
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch {
	case err == nil:
		return nil
	case is(berrors.ErrDatabaseNotOpen, berrors.ErrTimeout):
		return fmt.Errorf("%w: %w", streams.ErrUnavailable, err)
	case is(berrors.ErrInvalid, berrors.ErrInvalidMapping, berrors.ErrVersionMismatch, berrors.ErrChecksum, berrors.ErrIncompatibleValue):
		return fmt.Errorf("%w: %w", streams.ErrCorrupt, err)
	case is(berrors.ErrKeyTooLarge, berrors.ErrValueTooLarge, berrors.ErrMaxSizeReached):
		return fmt.Errorf("%w: %w", streams.ErrInsufficientStorage, err)
	}
	return err
}

// backend is core.Backend over the shards.
type backend struct {
	shards []*shard
	group  bool
	bugs   Bugs

	mu        sync.Mutex // guards producers, used only with the bug
	producers map[string]map[string]core.ProducerState
}

func (b *backend) Shards() int             { return len(b.shards) }
func (b *backend) ShardOf(name string) int { return ShardOf(name, len(b.shards)) }

func (b *backend) Update(i int, fn func(core.Tx) error) error {
	return boltError(b.shards[i].db.Update(func(btx *bolt.Tx) error { return fn(&tx{b: b, tx: btx}) }))
}

func (b *backend) View(i int, fn func(core.Tx) error) error {
	return boltError(b.shards[i].db.View(func(btx *bolt.Tx) error { return fn(&tx{b: b, tx: btx}) }))
}

func (b *backend) Append(i int, fn func(core.Tx) error) error {
	if !b.group {
		return b.Update(i, fn)
	}
	return boltError(b.shards[i].append(b, fn))
}

// holdsStreams reports whether any shard holds a stream record.
func (b *backend) holdsStreams() (bool, error) {
	for _, s := range b.shards {
		used := false
		err := s.db.View(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketStreams).Cursor().First()
			used = k != nil
			return nil
		})
		if err != nil || used {
			return used, err
		}
	}
	return false, nil
}

func (b *backend) Close() error {
	var err error
	for _, s := range b.shards {
		if cerr := s.db.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// tx is core.Tx over a bbolt transaction.
type tx struct {
	b  *backend
	tx *bolt.Tx
}

func msgKey(at streams.Offset) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, at.ReadSeq)
	binary.BigEndian.PutUint64(k[8:], at.ByteOffset)
	return k
}

func (t *tx) Meta(name string) (*core.Meta, error) {
	raw := t.tx.Bucket(bucketStreams).Get([]byte(name))
	if raw == nil {
		return nil, nil
	}
	m := &core.Meta{}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("%w: acid: %s: record of stream %q: %v", streams.ErrCorrupt, t.tx.DB().Path(), name, err)
	}
	if t.b.bugs.ProducerStateOutsideTxn {
		t.b.mu.Lock()
		if ps, ok := t.b.producers[name]; ok {
			m.Producers = map[string]core.ProducerState{}
			for k, v := range ps {
				m.Producers[k] = v
			}
		}
		t.b.mu.Unlock()
	}
	return m, nil
}

func (t *tx) PutMeta(name string, m *core.Meta) error {
	if t.b.bugs.ProducerStateOutsideTxn {
		t.b.mu.Lock()
		t.b.producers[name] = m.Clone().Producers
		t.b.mu.Unlock()
		m = m.Clone()
		m.Producers = nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("acid: encode stream %q: %w", name, err)
	}
	return t.tx.Bucket(bucketStreams).Put([]byte(name), raw)
}

func (t *tx) Delete(name string) error {
	if err := t.tx.Bucket(bucketStreams).Delete([]byte(name)); err != nil {
		return err
	}
	err := t.tx.Bucket(bucketMessages).DeleteBucket([]byte(name))
	if errors.Is(err, berrors.ErrBucketNotFound) {
		err = nil
	}
	return err
}

func (t *tx) PutMsg(name string, at streams.Offset, data []byte) error {
	mb, err := t.tx.Bucket(bucketMessages).CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return err
	}
	return mb.Put(msgKey(at), data)
}

func (t *tx) Msgs(name string, from streams.Offset, upTo *streams.Offset) ([]streams.Message, error) {
	mb := t.tx.Bucket(bucketMessages).Bucket([]byte(name))
	if mb == nil {
		return nil, nil
	}
	var out []streams.Message
	c := mb.Cursor()
	for k, v := c.Seek(msgKey(from)); k != nil; k, v = c.Next() {
		if len(k) != 16 {
			return nil, fmt.Errorf("%w: acid: %s: stream %q has a malformed message key %x", streams.ErrCorrupt, t.tx.DB().Path(), name, k)
		}
		at := streams.Offset{ReadSeq: binary.BigEndian.Uint64(k), ByteOffset: binary.BigEndian.Uint64(k[8:])}
		if upTo != nil && at.Compare(*upTo) >= 0 {
			break
		}
		out = append(out, streams.Message{Offset: at, Data: append([]byte(nil), v...)})
	}
	return out, nil
}

func (t *tx) ForEach(fn func(string, *core.Meta) error) error {
	return t.tx.Bucket(bucketStreams).ForEach(func(k, _ []byte) error {
		m, err := t.Meta(string(k))
		if err != nil {
			return err
		}
		return fn(string(k), m)
	})
}
