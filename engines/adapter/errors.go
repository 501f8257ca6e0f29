package adapter

import "errors"

// Sentinel errors. Engines wrap them with %w and context; callers test with
// errors.Is.
var (
	// ErrShardNotFound reports a shard that does not exist. Every method that
	// names a shard returns it for an unknown one.
	ErrShardNotFound = errors.New("adapter: shard not found")
	// ErrShardExists reports CreateShard of a name already taken.
	ErrShardExists = errors.New("adapter: shard already exists")
	// ErrNotFound reports a record, key, timestamp or group offset that is
	// not there (never written, deleted, or dropped by retention).
	ErrNotFound = errors.New("adapter: not found")
	// ErrInvalidArgument reports a malformed argument: a bad shard name, a
	// negative timestamp, an empty tag, a limit below 1, an empty group.
	ErrInvalidArgument = errors.New("adapter: invalid argument")
	// ErrCorrupt is the category of every corruption found on disk: a bad
	// checksum or framing in the middle of a file, a malformed metadata file,
	// offsets out of order.
	ErrCorrupt = errors.New("adapter: corrupt data")
	// ErrClosed reports a call on a closed adapter.
	ErrClosed = errors.New("adapter: adapter closed")
	// ErrFailed reports a call refused because an earlier write to the
	// underlying storage failed; the adapter must be closed and reopened.
	ErrFailed = errors.New("adapter: adapter failed after a storage error")
	// ErrUnknownStorageType reports a storage type that no engine registered.
	ErrUnknownStorageType = errors.New("adapter: unknown storage type")
	// ErrBadOption reports an Options value an engine does not accept.
	ErrBadOption = errors.New("adapter: bad option")
)
