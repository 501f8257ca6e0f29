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
//
// # Damaged files
//
// Damage is streams.ErrCorrupt, at open or on the read that meets it, and
// never a crash. bbolt trusts its files: on a damaged one it may fault
// reading past the end of its mapping, or panic in the goroutine it starts
// at open to rebuild the free list, and either kills the process. So each
// shard file is checked by boltcheck.Check (package internal/boltcheck:
// the meta pages, the length, every page of the tree) before bbolt opens
// it, and transactions run with recover and debug.SetPanicOnFault, so that
// a panic or a fault of bbolt's in the caller's goroutine is corruption
// too. bbolt keeps no checksums of its data: every value carries a CRC-32C
// (Castagnoli) of the stream's name, its key and its bytes, so a flipped
// byte, or a value under another key or stream, is caught; and a read
// checks that a stream's messages follow one another without a gap up to
// its tail. The manifest carries its own checksum; a damaged one, or shard
// files without one, is streams.ErrLayout and streams.ErrCorrupt.
//
// Close leaves the record of a clean close (package internal/cleanclose):
// the size of every shard file and the transaction each closed at. Open
// checks it before anything else: a shard file deleted, cut or grown, or
// one whose newest meta page is damaged (bbolt would fall back on the
// transaction before, with deleted streams back), fails with
// streams.ErrCorrupt at every open. After a crash there is no record:
// bbolt's meta page checksums tell a torn commit, which is rolled back.
//
// Format version 2 added the checksums; a directory of version 1 fails to
// open with streams.ErrLayout.
package acid

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
	"github.com/ordeal-dev/ordeal/internal/boltcheck"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
	"github.com/ordeal-dev/ordeal/internal/durable"
)

func init() {
	streams.Register("acid", func(o streams.Options) (streams.Store, error) { return Open(o) })
}

// Layout constants recorded in the manifest.
const (
	FormatVersion = 2
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
	// SkipValueChecksums reads values without checking their CRC.
	SkipValueChecksums bool
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
	closedAt, strict, err := checkCloseRecord(o.Dir, n)
	if err != nil {
		return nil, err
	}
	b := &backend{dir: o.Dir, group: group, bugs: bugs, producers: map[string]map[string]core.ProducerState{}}
	var missing []string
	for i := 0; i < n; i++ {
		if _, err := os.Stat(filepath.Join(o.Dir, shardFile(i))); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, shardFile(i))
		}
	}
	for i := 0; i < n; i++ {
		db, err := openShard(filepath.Join(o.Dir, shardFile(i)), closedAt[i], strict)
		if err != nil {
			_ = b.closeShards()
			return nil, err
		}
		b.shards = append(b.shards, &shard{db: db})
	}
	// A shard file may be missing only if the store never held a stream:
	// its name was synced before the first stream was created.
	if len(missing) > 0 && len(missing) < n && !bugs.SkipLayoutCheck {
		used, err := b.holdsStreams()
		if err == nil && used {
			err = fmt.Errorf("%w: %w: %s lost shard files %v", streams.ErrLayout, streams.ErrCorrupt, o.Dir, missing)
		}
		if err != nil {
			_ = b.closeShards()
			return nil, err
		}
	}
	if strict {
		// Every file checked out against the record; the store writes
		// from here on (core.New may), so the record goes first.
		if err := cleanclose.Remove(vfs.Default, o.Dir); err != nil {
			_ = b.closeShards()
			return nil, err
		}
	}
	// bbolt syncs its file, not the directory entry naming a new one.
	if err := durable.SyncDir(vfs.Default, o.Dir); err != nil {
		_ = b.closeShards()
		return nil, err
	}
	s, err := core.New(b, core.Options{
		Clock: o.Clock, MaxTotalBytes: o.MaxTotalBytes, MaxStreamBytes: o.MaxStreamBytes,
		Caps: streams.Capabilities{Persistent: true, SyncOnWrite: true},
		Bugs: core.Bugs{NoTotalRollback: bugs.NoTotalRollback, ForkReadPastOffset: bugs.ForkReadPastOffset, FixedTTL: bugs.FixedTTL, KeepExpiredBytes: bugs.KeepExpiredBytes},
	})
	if err != nil {
		_ = b.closeShards()
		return nil, err
	}
	return s, nil
}

// checkCloseRecord reads the record of the last clean close of dir, if
// any, and checks the files' sizes against it; it returns, for each of the
// n shards, the transaction it closed at (0 if unknown).
func checkCloseRecord(dir string, n int) (closedAt []uint64, strict bool, err error) {
	closedAt = make([]uint64, n)
	rec, found, err := cleanclose.Check(vfs.Default, dir)
	if errors.Is(err, cleanclose.ErrMismatch) {
		return nil, true, fmt.Errorf("acid: %w: %w", streams.ErrCorrupt, err)
	}
	if err != nil || !found {
		return closedAt, false, err
	}
	if len(rec.Extra) == 8*n {
		for i := range closedAt {
			closedAt[i] = binary.LittleEndian.Uint64(rec.Extra[8*i:])
		}
	}
	return closedAt, true, nil
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
			return fmt.Errorf("%w: %w: %s holds %d shard files but no %s", streams.ErrLayout, streams.ErrCorrupt, dir, len(shards), ManifestName)
		}
		return writeManifest(dir, want)
	case err != nil:
		return fmt.Errorf("acid: read %s: %w", path, err)
	}
	if skip {
		return nil
	}
	got, err := decodeManifest(raw)
	if err != nil {
		return fmt.Errorf("%w: %w: %s %v", streams.ErrLayout, streams.ErrCorrupt, path, err)
	}
	if got != want {
		return fmt.Errorf("%w: %s has format %d, %d shards, hash %q; opened with format %d, %d shards, hash %q",
			streams.ErrLayout, path, got.FormatVersion, got.ShardCount, got.HashPolicy,
			want.FormatVersion, want.ShardCount, want.HashPolicy)
	}
	return nil
}

// manifestFile is the manifest as stored: its fields and the CRC-32C of
// their JSON encoding.
type manifestFile struct {
	Manifest
	Checksum uint32 `json:"checksum"`
}

func encodeManifest(m Manifest) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return json.Marshal(manifestFile{Manifest: m, Checksum: crc32.Checksum(body, castagnoli)})
}

// decodeManifest reads a stored manifest and checks its checksum.
func decodeManifest(raw []byte) (Manifest, error) {
	var f manifestFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return Manifest{}, fmt.Errorf("is not a layout manifest: %v", err)
	}
	body, err := json.Marshal(f.Manifest)
	if err != nil {
		return Manifest{}, err
	}
	if sum := crc32.Checksum(body, castagnoli); sum != f.Checksum {
		return Manifest{}, fmt.Errorf("fails its checksum (%08x, stored %08x)", sum, f.Checksum)
	}
	return f.Manifest, nil
}

func writeManifest(dir string, m Manifest) error {
	raw, err := encodeManifest(m)
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

// openShard checks the shard file at path, if there is one (closedAt is
// the transaction it closed at, 0 if unknown), and opens it, creating its
// buckets if it is new. A file that closed cleanly (strict) without its
// buckets lost them.
func openShard(path string, closedAt uint64, strict bool) (*bolt.DB, error) {
	if _, err := os.Stat(path); err == nil {
		if _, err := boltcheck.Check(path, closedAt); err != nil {
			if errors.Is(err, boltcheck.ErrCorrupt) {
				err = fmt.Errorf("%w: %w", streams.ErrCorrupt, err)
			}
			return nil, fmt.Errorf("acid: open shard %s: %w", path, err)
		}
	}
	db, err := openBolt(path)
	if err != nil {
		return nil, fmt.Errorf("acid: open shard %s: %w", path, boltError(err))
	}
	var missing bool
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			missing = tx.Bucket(bucketStreams) == nil || tx.Bucket(bucketMessages) == nil
			return nil
		})
	})
	if err == nil && missing && strict {
		err = fmt.Errorf("%w: the shard closed cleanly but lacks its buckets", streams.ErrCorrupt)
	}
	if err == nil && missing {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketStreams, bucketMessages} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
	}
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

// openBolt opens a checked shard file. The free list is not written at
// each commit (bbolt rebuilds it at open by scanning the file): a commit
// then writes fewer pages, which is most of its fsync's cost.
func openBolt(path string) (db *bolt.DB, err error) {
	err = guard(func() error {
		var oerr error
		db, oerr = bolt.Open(path, 0o600, &bolt.Options{
			Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		})
		return oerr
	})
	return db, err
}

// guard runs fn, turning a panic of bbolt's in this goroutine, or a fault
// on its mapping, into an error wrapping streams.ErrCorrupt: bbolt asserts
// its page invariants with panics.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt: %v", streams.ErrCorrupt, r)
		}
	}()
	return fn()
}

// backend is core.Backend over the shards.
type backend struct {
	dir    string
	shards []*shard
	group  bool
	bugs   Bugs

	mu        sync.Mutex // guards producers, used only with the bug
	producers map[string]map[string]core.ProducerState
}

func (b *backend) Shards() int             { return len(b.shards) }
func (b *backend) ShardOf(name string) int { return ShardOf(name, len(b.shards)) }

func (b *backend) Update(i int, fn func(core.Tx) error) error {
	return boltError(guard(func() error {
		return b.shards[i].db.Update(func(btx *bolt.Tx) error { return fn(&tx{b: b, tx: btx}) })
	}))
}

func (b *backend) View(i int, fn func(core.Tx) error) error {
	return boltError(guard(func() error {
		return b.shards[i].db.View(func(btx *bolt.Tx) error { return fn(&tx{b: b, tx: btx}) })
	}))
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
		err := guard(func() error {
			return s.db.View(func(tx *bolt.Tx) error {
				k, _ := tx.Bucket(bucketStreams).Cursor().First()
				used = k != nil
				return nil
			})
		})
		if err != nil || used {
			return used, err
		}
	}
	return false, nil
}

// Close closes the shards and leaves the record of a clean close: the size
// of every shard file and the transaction each closed at.
func (b *backend) Close() error {
	txids := make([]byte, 0, 8*len(b.shards))
	var err error
	for _, s := range b.shards {
		var txid uint64
		if verr := guard(func() error {
			return s.db.View(func(tx *bolt.Tx) error { txid = uint64(tx.ID()); return nil })
		}); err == nil {
			err = verr
		}
		txids = binary.LittleEndian.AppendUint64(txids, txid)
	}
	if cerr := b.closeShards(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	files, err := cleanclose.Snapshot(vfs.Default, b.dir, func(rel string) bool { return !strings.HasPrefix(rel, "shard-") })
	if err != nil {
		return err
	}
	return cleanclose.Write(vfs.Default, b.dir, cleanclose.Record{Files: files, Extra: txids})
}

// closeShards closes the shard files.
func (b *backend) closeShards() error {
	var err error
	for _, s := range b.shards {
		if cerr := s.db.Close(); err == nil {
			err = cerr
		}
	}
	b.shards = nil
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
	sealed := t.tx.Bucket(bucketStreams).Get([]byte(name))
	if sealed == nil {
		return nil, nil
	}
	raw, err := t.unseal(tagMeta, name, nil, sealed)
	if err != nil {
		return nil, err
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
	return t.tx.Bucket(bucketStreams).Put([]byte(name), seal(tagMeta, name, nil, raw))
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
	k := msgKey(at)
	return mb.Put(k, seal(tagMsg, name, k, data))
}

func (t *tx) Msgs(name string, from streams.Offset, upTo *streams.Offset) ([]streams.Message, error) {
	var out []streams.Message
	if mb := t.tx.Bucket(bucketMessages).Bucket([]byte(name)); mb != nil {
		c := mb.Cursor()
		for k, v := c.Seek(msgKey(from)); k != nil; k, v = c.Next() {
			if len(k) != 16 {
				return nil, fmt.Errorf("%w: acid: %s: stream %q has a malformed message key %x", streams.ErrCorrupt, t.tx.DB().Path(), name, k)
			}
			at := streams.Offset{ReadSeq: binary.BigEndian.Uint64(k), ByteOffset: binary.BigEndian.Uint64(k[8:])}
			if upTo != nil && at.Compare(*upTo) >= 0 {
				break
			}
			data, err := t.unseal(tagMsg, name, k, v)
			if err != nil {
				return nil, err
			}
			out = append(out, streams.Message{Offset: at, Data: bytes.Clone(data)})
		}
	}
	if err := t.checkRun(name, from, upTo, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkRun checks that msgs, read from from up to upTo (or the tail), follow
// one another with no gap, start where they must when from is a known
// boundary (the start of a stream, or a fork's own start), and end at the
// bound: a message lost from a damaged page would otherwise go unnoticed.
func (t *tx) checkRun(name string, from streams.Offset, upTo *streams.Offset, msgs []streams.Message) error {
	m, err := t.Meta(name)
	if err != nil || m == nil {
		return err
	}
	end := m.Tail
	if upTo != nil && upTo.Compare(end) < 0 {
		end = *upTo
	}
	first := streams.Start
	if m.ForkOf != "" {
		first = m.ForkOffset
	}
	next := from
	if len(msgs) > 0 {
		next = msgs[0].Offset
		if from == first && next != first {
			return fmt.Errorf("acid: %w: stream %q starts at %v, its first message is at %v", streams.ErrCorrupt, name, first, next)
		}
	}
	for _, msg := range msgs {
		if msg.Offset != next {
			return fmt.Errorf("acid: %w: stream %q has a message at %v where %v was due", streams.ErrCorrupt, name, msg.Offset, next)
		}
		next = streams.Offset{ReadSeq: next.ReadSeq + 1, ByteOffset: next.ByteOffset + uint64(len(msg.Data))}
	}
	if next.Compare(end) < 0 && (len(msgs) > 0 || from == first) {
		return fmt.Errorf("acid: %w: stream %q ends at %v, its messages at %v", streams.ErrCorrupt, name, end, next)
	}
	return nil
}

// Value tags: a value's checksum covers its kind.
const (
	tagMeta = 'm'
	tagMsg  = 'd'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// valueSum is the CRC-32C of the tag, the stream's name, the key and the
// data.
func valueSum(tag byte, name string, key, data []byte) uint32 {
	h := crc32.New(castagnoli)
	_, _ = h.Write([]byte{tag})
	_, _ = h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(name))))
	_, _ = h.Write([]byte(name))
	_, _ = h.Write(key)
	_, _ = h.Write(data)
	return h.Sum32()
}

// seal returns the stored form of data: its checksum, then the data.
func seal(tag byte, name string, key, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(data)), valueSum(tag, name, key, data))
	return append(out, data...)
}

// unseal checks a stored value and returns its data, a sub-slice of v.
func (t *tx) unseal(tag byte, name string, key, v []byte) ([]byte, error) {
	if len(v) < 4 {
		return nil, fmt.Errorf("acid: %w: stream %q: a value of %d bytes", streams.ErrCorrupt, name, len(v))
	}
	data := v[4:]
	if !t.b.bugs.SkipValueChecksums && valueSum(tag, name, key, data) != binary.BigEndian.Uint32(v) {
		what := "record"
		if tag == tagMsg {
			what = fmt.Sprintf("message at key %x", key)
		}
		return nil, fmt.Errorf("acid: %w: stream %q: the %s fails its checksum", streams.ErrCorrupt, name, what)
	}
	return data, nil
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
