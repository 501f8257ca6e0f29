package adapter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Header is one message header: a name and an opaque value.
type Header struct {
	Name  string
	Value []byte
}

// Record is one message in a shard.
type Record struct {
	// Offset is the record's position in its shard. The adapter assigns it on
	// Write and BatchWrite (whatever the caller put here is ignored) and
	// fills it in on every read.
	Offset uint64
	// Key identifies the record for ReadByKey and DeleteByKey. An empty key
	// means the record has none and is not indexed by key.
	Key string
	// Tags index the record for ReadByTag. A tag must not be empty; a tag
	// repeated within one record counts once.
	Tags []string
	// Timestamp is the record's time in Unix milliseconds, set by the caller
	// (never by the adapter) and never negative. Timestamps need not grow
	// with offsets.
	Timestamp int64
	// Headers are carried as given, in order.
	Headers []Header
	// Data is the payload.
	Data []byte
}

// Clone returns a deep copy of r. Nil and empty slices are both returned as
// nil.
func (r Record) Clone() Record {
	c := r
	c.Tags = nil
	if len(r.Tags) > 0 {
		c.Tags = slices.Clone(r.Tags)
	}
	c.Headers = nil
	for _, h := range r.Headers {
		c.Headers = append(c.Headers, Header{Name: h.Name, Value: cloneBytes(h.Value)})
	}
	c.Data = cloneBytes(r.Data)
	return c
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// HasTag reports whether tag is one of r's tags.
func (r Record) HasTag(tag string) bool { return slices.Contains(r.Tags, tag) }

// Validate returns an error wrapping ErrInvalidArgument if r cannot be
// written: a negative timestamp or an empty tag.
func (r Record) Validate() error {
	if r.Timestamp < 0 {
		return fmt.Errorf("%w: negative timestamp %d", ErrInvalidArgument, r.Timestamp)
	}
	for _, t := range r.Tags {
		if t == "" {
			return fmt.Errorf("%w: empty tag", ErrInvalidArgument)
		}
	}
	return nil
}

// ShardConfig describes a shard at creation.
type ShardConfig struct {
	// Name identifies the shard; see ValidateShardName.
	Name string
	// StorageType names the engine the shard lives in. Engines record it as
	// given; the driver manager routes on it and requires a registered one.
	StorageType string
	// SegmentSize is the size in bytes at which a segmented engine rolls to a
	// new segment; 0 means the engine's default. Engines without segments
	// record it and ignore it.
	SegmentSize int64
	// Retention is how long records are kept, measured from their Timestamp,
	// by engines that implement Retainer; 0 keeps them forever.
	Retention time.Duration
}

// Validate returns an error wrapping ErrInvalidArgument for a bad name or a
// negative size or retention.
func (c ShardConfig) Validate() error {
	if err := ValidateShardName(c.Name); err != nil {
		return err
	}
	if c.SegmentSize < 0 {
		return fmt.Errorf("%w: negative segment size %d", ErrInvalidArgument, c.SegmentSize)
	}
	if c.Retention < 0 {
		return fmt.Errorf("%w: negative retention %v", ErrInvalidArgument, c.Retention)
	}
	return nil
}

// MaxShardNameLen is the longest shard name accepted.
const MaxShardNameLen = 200

// ValidateShardName returns an error wrapping ErrInvalidArgument unless name
// is 1 to MaxShardNameLen characters from [A-Za-z0-9._-] and does not start
// with a dot. Names are used as file names by file-backed engines.
func ValidateShardName(name string) error {
	if name == "" || len(name) > MaxShardNameLen || name[0] == '.' {
		return fmt.Errorf("%w: shard name %q", ErrInvalidArgument, name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: shard name %q has character %q", ErrInvalidArgument, name, c)
		}
	}
	return nil
}

// ShardInfo describes an existing shard.
type ShardInfo struct {
	Config ShardConfig
	// StartOffset is the lowest offset not yet dropped by retention (records
	// below it are gone). It is 0 until retention drops something.
	StartOffset uint64
	// NextOffset is the offset the next Write will get: one past the highest
	// offset ever assigned in the shard, deleted or not.
	NextOffset uint64
}

// ShardFilter selects shards for ListShards. Empty fields match everything.
type ShardFilter struct {
	// Name selects the shard with exactly this name.
	Name string
	// Prefix selects shards whose name starts with it.
	Prefix string
	// StorageType selects shards created with this storage type.
	StorageType string
}

// Match reports whether c passes the filter.
func (f ShardFilter) Match(c ShardConfig) bool {
	return (f.Name == "" || c.Name == f.Name) &&
		strings.HasPrefix(c.Name, f.Prefix) &&
		(f.StorageType == "" || c.StorageType == f.StorageType)
}

// StorageAdapter is the storage behind a message broker: named shards, each
// an append-only sequence of records with per-shard offsets, secondary reads
// by tag, key and timestamp, deletes, and consumer-group offsets. See the
// package documentation for the semantics every method shares.
//
// Concurrency: every method may be called concurrently with every other,
// from any number of goroutines, except that no call may start after Close
// has been called.
//
// Ownership: the adapter copies what it keeps from its arguments before
// returning; the caller may reuse them. Records and slices returned belong to
// the caller, and the adapter never touches them again.
//
// Errors common to all methods: ctx.Err() if ctx is done when the call
// starts; ErrShardNotFound for a shard that does not exist; ErrClosed after
// Close; ErrFailed after an earlier storage error; ErrInvalidArgument for a
// malformed argument.
type StorageAdapter interface {
	// CreateShard creates an empty shard whose first offset is 0. It returns
	// ErrShardExists if the name is taken (whatever the configuration) and
	// ErrInvalidArgument if cfg does not Validate. The shard is durable on
	// return when the engine declares SyncOnWrite.
	CreateShard(ctx context.Context, cfg ShardConfig) error

	// DeleteShard removes a shard with its records, indexes and group
	// offsets. A shard created later under the same name starts empty at
	// offset 0 with no group offsets.
	DeleteShard(ctx context.Context, name string) error

	// ListShards returns the shards that match f, sorted by name.
	ListShards(ctx context.Context, f ShardFilter) ([]ShardInfo, error)

	// Write appends one record and returns its offset, the shard's
	// NextOffset before the call. Concurrent writers to one shard get
	// distinct offsets with no gaps between them. The record is durable on
	// return when the engine declares SyncOnWrite. It returns
	// ErrInvalidArgument if the record does not Validate.
	Write(ctx context.Context, shard string, r Record) (uint64, error)

	// BatchWrite appends records atomically, at consecutive offsets, and
	// returns their offsets in order. Either every record is written or none
	// is, also across a crash. An invalid record fails the whole batch with
	// ErrInvalidArgument. An empty batch returns no offsets and no error.
	BatchWrite(ctx context.Context, shard string, rs []Record) ([]uint64, error)

	// ReadByOffset returns up to limit live records with Offset >= offset in
	// ascending offset order. Deleted and retained-away records are skipped;
	// an offset at or past NextOffset returns no records and no error. It
	// returns ErrInvalidArgument if limit < 1.
	ReadByOffset(ctx context.Context, shard string, offset uint64, limit int) ([]Record, error)

	// ReadByTag returns up to limit live records that carry tag and have
	// Offset >= offset, in ascending offset order. An unknown tag returns no
	// records and no error. It returns ErrInvalidArgument if limit < 1 or tag
	// is empty.
	ReadByTag(ctx context.Context, shard, tag string, offset uint64, limit int) ([]Record, error)

	// ReadByKey returns the live record with the highest offset whose Key is
	// key. It returns ErrNotFound if there is none, and ErrInvalidArgument for
	// an empty key.
	ReadByKey(ctx context.Context, shard, key string) (Record, error)

	// DeleteByOffset deletes the live record at offset. Its offset is never
	// reused. It returns ErrNotFound if no live record is there (never
	// written, already deleted, or retained away). Durability as for Write.
	DeleteByOffset(ctx context.Context, shard string, offset uint64) error

	// DeleteByKey deletes every live record whose Key is key, atomically. It
	// returns ErrNotFound if there is none and ErrInvalidArgument for an
	// empty key. Durability as for Write.
	DeleteByKey(ctx context.Context, shard, key string) error

	// OffsetByTimestamp returns the lowest offset of a live record whose
	// Timestamp is >= ts. It returns ErrNotFound if no live record has one.
	OffsetByTimestamp(ctx context.Context, shard string, ts int64) (uint64, error)

	// OffsetByGroup returns the offset last committed by group for shard.
	// It returns ErrNotFound if the group never committed one for this shard
	// (since the shard was created), and ErrInvalidArgument for an empty
	// group.
	OffsetByGroup(ctx context.Context, group, shard string) (uint64, error)

	// CommitOffset records offset as group's position in shard, replacing
	// the previous one (it may move backwards or past NextOffset: the
	// adapter stores positions, it does not judge them). Durability as for
	// Write. It returns ErrInvalidArgument for an empty group.
	CommitOffset(ctx context.Context, group, shard string, offset uint64) error

	// Capabilities says what the engine promises; the conformance suite
	// checks each declaration.
	Capabilities() Capabilities

	// Close releases the engine's files. It does not flush anything that
	// is not yet durable. Every call after Close returns ErrClosed, a second
	// Close included.
	Close() error
}

// Retainer is implemented by engines that drop old records by retention.
type Retainer interface {
	// Retain drops, in every shard whose Retention is positive, the oldest
	// records whose Timestamp is below now minus the retention, in whole
	// units the engine chooses (segments): it may keep some expired records,
	// it never drops a record at or above the cutoff, and it drops only a
	// prefix of each shard, so StartOffset rises and offsets are never
	// reused. now is taken from the caller, never from the wall clock. The
	// drop is durable on return when the engine declares SyncOnWrite.
	Retain(ctx context.Context, now time.Time) error
}

// Capabilities is what an engine declares about itself.
type Capabilities struct {
	// Persistent is false for engines that keep nothing across Close.
	Persistent bool
	// SyncOnWrite means a nil error from a mutation means it is durable.
	SyncOnWrite bool
	// UsesFS means every file the engine writes goes through Options.FS, so
	// in-process faults (power loss, fsync failure) reach it.
	UsesFS bool
}

// Options is what every engine is opened with.
type Options struct {
	// Dir is the directory the engine keeps its files in; it is created if
	// missing. Engines that keep nothing on disk ignore it.
	Dir string
	// FS is the file system to write through; nil means vfs.Default.
	FS vfs.FS
	// Params are engine-specific settings as text. An engine rejects a
	// parameter it does not know with ErrBadOption.
	Params map[string]string
}

// FSOrDefault returns o.FS, or vfs.Default if it is nil.
func (o Options) FSOrDefault() vfs.FS {
	if o.FS == nil {
		return vfs.Default
	}
	return o.FS
}

// CheckLimit returns an error wrapping ErrInvalidArgument if limit < 1.
func CheckLimit(limit int) error {
	if limit < 1 {
		return fmt.Errorf("%w: limit %d", ErrInvalidArgument, limit)
	}
	return nil
}

// CheckRecords returns the first error of Record.Validate over rs, or nil.
// Engines call it before BatchWrite takes any lock.
func CheckRecords(rs []Record) error {
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// CheckTagRead returns an error wrapping ErrInvalidArgument if limit < 1
// or tag is empty, the argument checks of ReadByTag.
func CheckTagRead(tag string, limit int) error {
	if err := CheckLimit(limit); err != nil {
		return err
	}
	if tag == "" {
		return fmt.Errorf("%w: empty tag", ErrInvalidArgument)
	}
	return nil
}

// CheckKey returns an error wrapping ErrInvalidArgument if key is empty.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidArgument)
	}
	return nil
}

// CheckGroup returns an error wrapping ErrInvalidArgument if group is
// empty.
func CheckGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty group", ErrInvalidArgument)
	}
	return nil
}

// SortShardInfos orders infos by shard name, as ListShards returns them.
func SortShardInfos(infos []ShardInfo) {
	slices.SortFunc(infos, func(a, b ShardInfo) int { return strings.Compare(a.Config.Name, b.Config.Name) })
}

// FirstOffset turns the result of a one-record BatchWrite into the result of
// Write: engines implement Write as
// FirstOffset(e.BatchWrite(ctx, shard, []Record{r})).
func FirstOffset(offs []uint64, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	return offs[0], nil
}
