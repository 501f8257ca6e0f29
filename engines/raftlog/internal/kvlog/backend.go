package kvlog

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Backend is an ordered key-value store in two parts: the log, whose values
// are keyed by entry index and kept in index order, and a few meta values
// beside it. Each engine lays out the keys in its own store; the values are
// kvcodec's and the Store writes them.
//
// Concurrency: a log mutation, a hard-state save and a Flush may run side
// by side, so Apply may be called concurrently with Apply and with Sync, and
// every read concurrently with all of them. Close is called alone.
type Backend interface {
	// Apply applies b atomically: a crash leaves all of it or none. With
	// sync it is durable on return, else after the next Sync. An error
	// means b may have reached the store in part; the Store fails.
	Apply(b *Batch, sync bool) error

	// Sync makes every batch applied before it durable. An error fails the
	// Store.
	Sync() error

	// GetEntry calls fn with the value of the entry at index, which is
	// valid only during the call, and returns what fn returns. found is
	// false, and fn is not called, if there is no such entry.
	GetEntry(index uint64, fn func(v []byte) error) (found bool, err error)

	// ScanLog calls fn for each entry with an index in lo..hi, both
	// inclusive, in index order, from one consistent view; v is valid only
	// during the call. It stops at the first error from fn and returns it.
	// A key in the log's part of the store that is not an index is
	// corruption (raftlog.ErrCorrupt).
	ScanLog(lo, hi uint64, fn func(index uint64, v []byte) error) error

	// LogBounds returns the first and the last index in the log; ok is
	// false if it is empty.
	LogBounds() (first, last uint64, ok bool, err error)

	// GetMeta is GetEntry for a meta value.
	GetMeta(key MetaKey, fn func(v []byte) error) (found bool, err error)

	// Close releases the store. It is called once, with no other call
	// running.
	Close() error
}

// MetaKey names a value kept beside the log.
type MetaKey uint8

const (
	// HardState is the key of the hard state.
	HardState MetaKey = iota + 1
	// Purged is the key of the purge boundary.
	Purged
)

// MetaKeys are the keys a backend stores the meta values under.
type MetaKeys struct {
	HardState, Purged []byte
}

// Key returns the key of k.
func (m MetaKeys) Key(k MetaKey) ([]byte, error) {
	switch k {
	case HardState:
		return m.HardState, nil
	case Purged:
		return m.Purged, nil
	}
	return nil, fmt.Errorf("kvlog: no key for %v", k)
}

func (k MetaKey) String() string {
	switch k {
	case HardState:
		return "hard state"
	case Purged:
		return "purge boundary"
	}
	return fmt.Sprintf("meta key %d", uint8(k))
}

// Batch is one atomic mutation, applied as deletion, then appends, then meta
// values.
type Batch struct {
	// Delete, if not nil, removes the entries Delete.From..Delete.To.
	Delete *LogRange
	// Append holds entries to store, each under its index with the value
	// kvcodec.AppendEntry makes. They belong to the caller: a backend reads
	// them only until Apply returns.
	Append []raftlog.Entry
	// Meta holds meta values to set, or to delete where Value is nil.
	Meta []MetaValue
}

// LogRange is a range of log indexes, both ends inclusive.
type LogRange struct {
	From, To uint64
	// Empties says that no entry is left outside the range, so that the
	// backend may drop the whole log at once instead of key by key.
	Empties bool
}

// MetaValue is a meta value to set; a nil Value deletes the key.
type MetaValue struct {
	Key   MetaKey
	Value []byte
}
