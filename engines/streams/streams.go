package streams

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Offset is a position in a stream; see the package documentation.
type Offset struct {
	ReadSeq    uint64
	ByteOffset uint64
}

// Start is the beginning of every stream ("-1").
var Start = Offset{}

// Now stands for a stream's tail at the time of the call ("now").
var Now = Offset{ReadSeq: ^uint64(0), ByteOffset: ^uint64(0)}

// String formats o as <read_seq:016x>_<byte_offset:016x>, or "now".
func (o Offset) String() string {
	if o == Now {
		return "now"
	}
	return fmt.Sprintf("%016x_%016x", o.ReadSeq, o.ByteOffset)
}

// Compare returns -1, 0 or +1 as o is before, at or after p.
func (o Offset) Compare(p Offset) int {
	switch {
	case o.ReadSeq < p.ReadSeq:
		return -1
	case o.ReadSeq > p.ReadSeq:
		return 1
	case o.ByteOffset < p.ByteOffset:
		return -1
	case o.ByteOffset > p.ByteOffset:
		return 1
	}
	return 0
}

// ParseOffset parses the text form of an offset, "-1" or "now". A malformed
// offset returns a bad-request *Error wrapping ErrBadOffset.
func ParseOffset(s string) (Offset, error) {
	switch s {
	case "-1":
		return Start, nil
	case "now":
		return Now, nil
	}
	if len(s) != 33 || s[16] != '_' {
		return Offset{}, Errorf(ClassBadRequest, ErrBadOffset, "", "%q is not <16 hex>_<16 hex>", s)
	}
	a, ok1 := parseHex(s[:16])
	b, ok2 := parseHex(s[17:])
	if !ok1 || !ok2 {
		return Offset{}, Errorf(ClassBadRequest, ErrBadOffset, "", "%q is not lower-case hex", s)
	}
	o := Offset{ReadSeq: a, ByteOffset: b}
	if o == Now {
		return Offset{}, Errorf(ClassBadRequest, ErrBadOffset, "", "%q is reserved", s)
	}
	return o, nil
}

func parseHex(s string) (uint64, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// Config is a stream's configuration, fixed at creation.
type Config struct {
	// ContentType is the stream's MIME type; empty means
	// application/octet-stream.
	ContentType string
	// TTL, if positive, is a sliding window: the stream expires that long
	// after its last access, which is its creation, an append that writes,
	// a close, or a Touch.
	TTL time.Duration
	// ExpiresAt, if non-zero, expires the stream at that instant. TTL and
	// ExpiresAt are exclusive.
	ExpiresAt time.Time
	// Closed creates the stream closed.
	Closed bool
}

// Equal reports whether c and d are the same configuration.
func (c Config) Equal(d Config) bool {
	return c.ContentType == d.ContentType && c.TTL == d.TTL && c.ExpiresAt.Equal(d.ExpiresAt) && c.Closed == d.Closed
}

// Validate checks c; it returns a bad-request *Error wrapping ErrBadConfig.
func (c Config) Validate() error {
	if c.TTL < 0 {
		return Errorf(ClassBadRequest, ErrBadConfig, "", "negative ttl %v", c.TTL)
	}
	if c.TTL > 0 && !c.ExpiresAt.IsZero() {
		return Errorf(ClassBadRequest, ErrBadConfig, "", "both ttl and expires-at")
	}
	return nil
}

// Producer names an idempotent producer and the position of an append in
// its sequence.
type Producer struct {
	ID    string
	Epoch uint64
	Seq   uint64
}

// AppendOptions qualify an append.
type AppendOptions struct {
	// Producer, if non-nil, makes the append idempotent.
	Producer *Producer
	// WriterSeq, if non-empty, must be greater than the last one accepted.
	WriterSeq string
	// Close closes the stream with this append, atomically.
	Close bool
}

// AppendResult is what an accepted append reports.
type AppendResult struct {
	// Offset is where the data starts (nothing was written for a
	// duplicate), and Next the stream's tail after the append.
	Offset, Next Offset
	// Duplicate is set when a producer's sequence was accepted before;
	// nothing was written.
	Duplicate bool
	// LastSeq is the producer's highest accepted sequence.
	LastSeq uint64
}

// Message is one append as a reader sees it.
type Message struct {
	Offset Offset
	Data   []byte
}

// ReadResult is the answer to a read.
type ReadResult struct {
	Messages []Message
	// Next is the offset to read from next: the stream's tail.
	Next Offset
	// Closed is set when the stream is closed; with the read at its tail,
	// no more data will come.
	Closed bool
}

// Metadata describes a stream.
type Metadata struct {
	Config    Config
	CreatedAt time.Time
	// ExpiresAt is the instant the stream expires, zero if never.
	ExpiresAt time.Time
	Closed    bool
	// Tail is the offset the next append gets.
	Tail Offset
	// Bytes is the payload appended to this stream itself.
	Bytes uint64
	// Forks counts live forks of the stream.
	Forks uint32
	// ForkOf and ForkOffset name the source of a fork.
	ForkOf     string
	ForkOffset Offset
	// LastWriterSeq is the last writer sequence accepted.
	LastWriterSeq string
}

// Store is a stream store. Its methods are safe for concurrent use. Every
// refused request returns an *Error (see the package documentation for the
// classes); a mutation that returns nil is durable if Capabilities say
// SyncOnWrite. After Close every method returns an error wrapping
// ErrClosed. Slices passed in are not kept; slices returned belong to the
// caller.
type Store interface {
	// Create creates a stream. It reports created=false when the stream
	// existed with the same configuration. Errors: ErrExists (conflict) for
	// another configuration, a fork or a tombstone of that name;
	// ErrBadConfig (bad request) for an invalid configuration or an empty
	// name.
	Create(name string, cfg Config) (created bool, err error)
	// Append appends data as one message, with the checks and their order
	// of the package documentation. data must be non-empty unless o.Close;
	// an append with no data and Close closes the stream (idempotently,
	// without a producer). Errors: not found, gone, ErrStaleEpoch,
	// ErrStreamClosed, ErrSeqGap, ErrSeqRegression (conflict), ErrEpochSeq,
	// ErrBadConfig (bad request), ErrLimit (capacity), and the storage
	// failure classes (unavailable, insufficient storage, storage failure).
	Append(name string, data []byte, o AppendOptions) (AppendResult, error)
	// Read returns every message at or after from (Start, Now or an offset
	// at most the tail), through the fork chain for a fork, and the tail.
	// Errors: not found, gone, ErrBadOffset (bad request) past the tail.
	Read(name string, from Offset) (ReadResult, error)
	// Wait blocks until the stream's tail is past after (Now: its tail at
	// the call) or the stream is closed, and returns nil; it returns the
	// error of Metadata if the stream is or becomes missing or gone, and
	// ctx.Err() if ctx ends first. It is what long-poll readers block on.
	Wait(ctx context.Context, name string, after Offset) error
	// Metadata describes a stream. Errors: not found, gone.
	Metadata(name string) (Metadata, error)
	// Touch restarts the TTL window of a stream that has a TTL, durably as
	// a mutation; it changes nothing for a stream without one. Readers call
	// it: a read does not slide the window by itself. Errors: not found,
	// gone.
	Touch(name string) error
	// CloseStream closes a stream; closing a closed stream succeeds.
	// Errors: not found, gone.
	CloseStream(name string) error
	// Delete deletes a stream, leaving a tombstone if it has forks, and
	// removes the tombstones its deletion leaves without forks, up its
	// chain of sources. Errors: not found, gone (already a tombstone).
	Delete(name string) error
	// Fork creates name as a fork of source at offset at (Now for the
	// source's tail). An empty cfg.ContentType inherits the source's. It
	// reports created=false when the same fork (source, offset,
	// configuration) existed. Errors: not found or gone (the source),
	// ErrBadOffset past the source's tail, ErrBadConfig for another
	// content type (bad request), ErrExists (conflict) for a name taken.
	Fork(name, source string, at Offset, cfg Config) (created bool, err error)
	// Capabilities says what the implementation promises.
	Capabilities() Capabilities
	// Close releases the store and wakes every Wait.
	Close() error
}

// Capabilities is what an implementation declares about itself.
type Capabilities struct {
	// Persistent is false for implementations that keep nothing across
	// Close.
	Persistent bool
	// SyncOnWrite means a nil error from a mutation means it is durable.
	SyncOnWrite bool
	// UsesFS means every file the implementation writes goes through
	// Options.FS, so in-process faults reach it.
	UsesFS bool
}

// Options is what every implementation is opened with.
type Options struct {
	// Dir is the directory the implementation keeps its files in; it is
	// created if missing.
	Dir string
	// FS is the file system to write through; nil means vfs.Default.
	FS vfs.FS
	// Params are implementation-specific settings as text.
	Params map[string]string
	// Clock tells the time for expiry and creation stamps; nil means
	// time.Now.
	Clock func() time.Time
	// MaxTotalBytes and MaxStreamBytes are the byte limits; 0 means none.
	MaxTotalBytes  uint64
	MaxStreamBytes uint64
}

// FSOrDefault returns o.FS, or vfs.Default if it is nil.
func (o Options) FSOrDefault() vfs.FS {
	if o.FS == nil {
		return vfs.Default
	}
	return o.FS
}

// Now returns the time by o.Clock, or time.Now.
func (o Options) Now() time.Time {
	if o.Clock == nil {
		return time.Now()
	}
	return o.Clock()
}
