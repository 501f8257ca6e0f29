// Package streams is the storage SPI behind a Durable Streams server: named,
// append-only byte streams that readers consume from an offset and
// long-poll for new data, with idempotent producers, writer sequences,
// closing, time-to-live, and forks that share a prefix of another stream.
//
// This package holds only the interface (Store), the data model (Config,
// Offset, Producer, AppendOptions, AppendResult, ReadResult, Metadata), the
// typed errors and a registry. Implementations live in sibling packages:
// memory (the reference, nothing persisted) and acid (bbolt files, one per
// shard). The conformance suite in streamstest checks any implementation
// against the rules written here.
//
// # Offsets
//
// An offset is two 64-bit counters written as <read_seq:016x>_<byte:016x>,
// lower-case, so that the text orders lexicographically as the numbers do.
// The read sequence counts the appends of a stream and the byte part its
// bytes; a message is stored at the offset the stream's tail had before it
// was appended. "-1" parses to Start (the beginning of a stream) and "now"
// to Now (its tail when the call runs). Anything else malformed is a
// bad-request error wrapping ErrBadOffset.
//
// # Appends and producers
//
// An append may name an idempotent producer (ID, epoch, sequence). Its
// checks run in this order, as the Durable Streams protocol has them:
//
//  1. an epoch below the producer's current one is refused with
//     ErrStaleEpoch, the error carrying the current epoch;
//  2. a sequence at or below the last accepted one in the same epoch is a
//     duplicate: the append succeeds, writes nothing, and reports the
//     highest accepted sequence;
//  3. an append to a closed stream conflicts (ErrStreamClosed);
//  4. a higher epoch must start at sequence 0, else ErrEpochSeq (bad
//     request);
//  5. a sequence past the next expected one conflicts with ErrSeqGap, the
//     error carrying the expected and received sequences; a producer the
//     stream does not know is expected at 0.
//
// The producer's new state is committed with the data, atomically. An
// append may also carry a writer sequence (the Stream-Seq header), a string
// that must be strictly greater than the last one accepted
// (ErrSeqRegression, conflict).
//
// # Creation, closing, expiry
//
// Create of an existing stream succeeds only when the configuration is
// identical; otherwise it conflicts (ErrExists). A stream with a TTL expires
// when it has not been accessed for that long: its creation, every append
// that writes, a close and Touch restart the window (Metadata reports the
// instant it will expire), as the Durable Streams protocol slides it on
// reads and writes; a stream with ExpiresAt expires at that instant. Time
// is the clock in Options. An expired stream reads as not found and can
// be created again. Its bytes leave the total while the store runs, at the
// first Create, Append or Fork after it expired, or, if it still serves
// forks, when its last fork goes. Closing is idempotent; a closed stream
// refuses appends but serves reads, and Wait returns at its tail.
//
// # Forks
//
// Fork creates a stream that reads as its source up to an offset (at most
// the source's tail) and continues with its own appends. Each source counts
// its live forks. Deleting a stream that has forks leaves a tombstone: it is
// gone (ErrGone) to direct access and its name conflicts on re-create, but
// its data still serves its forks. Deleting the last fork of a tombstone
// deletes the tombstone too, and so on up the chain.
//
// # Limits
//
// Options.MaxTotalBytes bounds the payload of all streams together and
// MaxStreamBytes the bytes a single stream appended itself (a fork's
// inherited prefix is not counted). The total is reserved before an append
// commits and released if anything fails (or the append is a duplicate);
// exceeding either limit is a capacity error (ErrCapacity). As the
// reservation comes first, an append refused for another reason while the
// total is full reports the capacity error.
//
// # Errors
//
// Every error a Store returns for a refused request is an *Error carrying
// its Class; errors.Is matches both the class sentinel (ErrNotFound,
// ErrConflict, ...) and the detail sentinel (ErrSeqGap, ...). ClassOf maps
// any error to its class.
//
// A failure of the storage underneath falls in one of three classes, as
// the Durable Streams server's acid storage classifies them:
// ClassUnavailable (503: a closed or locked database, an interrupted or
// timed-out call, a store used after Close: retrying later may succeed),
// ClassInsufficientStorage (507: a full disk or quota, a file or value too
// large) and ClassStorage (500: anything else, an I/O error, and corrupt
// data, which also matches ErrCorrupt and names what is damaged and where).
// StorageFailure builds such an *Error from the cause.
//
// # Registry
//
// Implementations register a factory with Register; tools open them with
// Open.
package streams
