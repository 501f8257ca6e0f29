// Package peers registers hashicorp/raft's own log stores as raftlog engines,
// through the reverse adapter of package hashiraft, so that ordeal's
// conformance suite, benchmarks and fault campaigns can compare them with
// ordeal's engines:
//
//   - "raft-boltdb": raft-boltdb/v2's BoltStore (bbolt) as both the log and
//     the stable store, in the file raft.db under Options.Dir. Parameter
//     "no_sync" ("true" or "false", default false) opens bbolt without
//     fsync; the engine then declares SyncOnWrite false and Flush syncs.
//   - "raft-wal": raft-wal's WAL as both the log and the stable store, its
//     segment files and its bbolt meta database (wal-meta.db) in Options.Dir.
//     Parameter "segment_size" (bytes, with an optional KiB, MiB or GiB
//     suffix, default 64MiB) sets the segment size.
//
// Both write through the operating system, not through Options.FS: they
// declare UsesFS false and reject any FS other than vfs.Default with
// raftlog.ErrBadOption, so faults reach them only from outside the process.
//
// Where they differ from the raftlog contract:
//   - raft-wal deletes only a prefix or a suffix of the log. The adapter
//     never asks for anything else, so this does not show through raftlog.
//   - Corruption that the stores detect (a bad bbolt meta page, a bad
//     raft-wal frame) is reported wrapping raftlog.ErrCorrupt; raft-boltdb
//     has no checksum on log values, so a flipped byte inside an entry is
//     not detected.
//   - raft-wal v0.4.0's recovery keeps a tail batch that a failed fsync
//     (or a process killed before its fsync) never made durable, because
//     the restarted process reads it from the page cache; a later power
//     loss then loses entries acknowledged after it, or leaves a sealed
//     segment with no header that Open refuses. The report is
//     findings/raft-wal-unsynced-tail.md; TestWALRecoveryAdoptsUnsyncedTail
//     pins it.
package peers

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/hashiraft"
	"github.com/ordeal-dev/ordeal/internal/durable"
)

// Engine names.
const (
	BoltDB = "raft-boltdb"
	WAL    = "raft-wal"
)

// BoltFile is the name of raft-boltdb's database file in Options.Dir.
const BoltFile = "raft.db"

func init() {
	raftlog.Register(BoltDB, OpenBoltDB)
	raftlog.Register(WAL, OpenWAL)
}

// lockTimeout bounds the wait for bbolt's file lock, so that opening a
// directory some other handle still holds fails instead of hanging.
const lockTimeout = 2 * time.Second

// prepare checks the options common to both peers and creates the directory.
func prepare(name string, o raftlog.Options, known ...string) error {
	if err := raftlog.CheckParams(name, o.Params, known...); err != nil {
		return err
	}
	if o.FS != nil && o.FS != vfs.Default {
		return fmt.Errorf("%w: engine %s writes through the operating system and cannot use the file system %T", raftlog.ErrBadOption, name, o.FS)
	}
	if o.Dir == "" {
		return fmt.Errorf("%w: engine %s needs a directory", raftlog.ErrBadOption, name)
	}
	if err := durable.MkdirAll(vfs.Default, o.Dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// corruption marks the errors that say the files are damaged with
// raftlog.ErrCorrupt, keeping the original error too.
func corruption(err error) error {
	if err == nil || errors.Is(err, raftlog.ErrCorrupt) {
		return err
	}
	for _, c := range []error{berrors.ErrInvalid, berrors.ErrChecksum, berrors.ErrVersionMismatch, wal.ErrCorrupt} {
		if errors.Is(err, c) {
			return fmt.Errorf("%w: %w", raftlog.ErrCorrupt, err)
		}
	}
	return err
}

// OpenBoltDB opens (or creates) a raft-boltdb store in o.Dir.
func OpenBoltDB(o raftlog.Options) (raftlog.Engine, error) {
	if err := prepare(BoltDB, o, "no_sync"); err != nil {
		return nil, err
	}
	noSync := false
	if v, ok := o.Params["no_sync"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w: engine %s: no_sync %q is not a boolean", raftlog.ErrBadOption, BoltDB, v)
		}
		noSync = b
	}
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(o.Dir, BoltFile),
		BoltOptions: &bbolt.Options{Timeout: lockTimeout},
		NoSync:      noSync,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", BoltDB, corruption(err))
	}
	// raft-boltdb never syncs the directory of the file it creates: without
	// this a power loss can take the whole store, name and all.
	if err := durable.SyncDir(vfs.Default, o.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", BoltDB, errors.Join(err, store.Close()))
	}
	caps := raftlog.Capabilities{Persistent: true, SyncOnWrite: !noSync, UsesFS: false}
	s := boltStore{store}
	return hashiraft.NewEngine(BoltDB, s, s, store, caps)
}

// boltStore marks the corruption errors of a BoltStore.
type boltStore struct{ *raftboltdb.BoltStore }

func (s boltStore) GetLog(index uint64, l *raft.Log) error {
	return corruption(s.BoltStore.GetLog(index, l))
}

// OpenWAL opens (or creates) a raft-wal log in o.Dir.
func OpenWAL(o raftlog.Options) (raftlog.Engine, error) {
	if err := prepare(WAL, o, "segment_size"); err != nil {
		return nil, err
	}
	segmentSize := wal.DefaultSegmentSize
	if v, ok := o.Params["segment_size"]; ok {
		n, err := parseSize(v)
		if err != nil || n <= 0 || n > 1<<31 {
			return nil, fmt.Errorf("%w: engine %s: segment_size %q is not a size between 1 byte and 2GiB", raftlog.ErrBadOption, WAL, v)
		}
		segmentSize = int(n)
	}
	// The WAL does not close the meta database it opens itself, which would
	// keep its file lock and make a reopen in the same process hang; so the
	// engine opens it and closes it after the WAL.
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(o.Dir,
		wal.WithMetaStore(meta),
		wal.WithSegmentSize(segmentSize),
		wal.WithLogger(hclog.NewNullLogger()),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", WAL, errors.Join(corruption(err), meta.Close()))
	}
	// Make the names of the files raft-wal created at open durable, as for
	// raft-boltdb.
	if err := durable.SyncDir(vfs.Default, o.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", WAL, errors.Join(err, w.Close(), meta.Close()))
	}
	s := walStore{w}
	return hashiraft.NewEngine(WAL, s, s, closerFunc(func() error {
		return errors.Join(w.Close(), meta.Close())
	}), raftlog.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: false})
}

// walStore marks the corruption errors of a WAL.
type walStore struct{ *wal.WAL }

func (s walStore) GetLog(index uint64, l *raft.Log) error {
	return corruption(s.WAL.GetLog(index, l))
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// parseSize parses a byte count with an optional KiB, MiB or GiB suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
