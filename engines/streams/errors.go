package streams

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Class is the kind of a refusal, as an HTTP front end maps it to a status.
// The three classes of storage failures are those of the Durable Streams
// server's storage errors: unavailable (503), insufficient storage (507),
// and any other storage failure, corruption among them (500).
type Class int

// The classes of errors.
const (
	// ClassUnavailable is storage that cannot serve for now (a closed or
	// locked database, an interrupted or timed-out call): the request may
	// succeed if retried later (503).
	ClassUnavailable Class = iota
	// ClassCapacity is a byte limit of the store reached (507 or 413).
	ClassCapacity
	// ClassNotFound is a stream that does not exist or expired (404).
	ClassNotFound
	// ClassGone is a deleted stream kept as a tombstone for its forks (410).
	ClassGone
	// ClassConflict is a request that contradicts the stream's state (409;
	// 403 for ErrStaleEpoch).
	ClassConflict
	// ClassBadRequest is a malformed request (400).
	ClassBadRequest
	// ClassInsufficientStorage is storage out of room: a full disk or
	// quota, a file or a value too large for it (507).
	ClassInsufficientStorage
	// ClassStorage is a storage failure that retrying does not mend:
	// corrupt data (ErrCorrupt), an I/O error (500).
	ClassStorage
)

var classNames = [...]string{"unavailable", "capacity", "not found", "gone", "conflict", "bad request", "insufficient storage", "storage failure"}

func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// Class sentinels: errors.Is(err, ErrConflict) holds for every conflict.
var (
	ErrUnavailable         = errors.New("streams: storage unavailable")
	ErrCapacity            = errors.New("streams: capacity exceeded")
	ErrNotFound            = errors.New("streams: stream not found")
	ErrGone                = errors.New("streams: stream gone")
	ErrConflict            = errors.New("streams: conflict")
	ErrBadRequest          = errors.New("streams: bad request")
	ErrInsufficientStorage = errors.New("streams: insufficient storage")
	ErrStorage             = errors.New("streams: storage failure")
)

var classSentinels = [...]error{ErrUnavailable, ErrCapacity, ErrNotFound, ErrGone, ErrConflict, ErrBadRequest, ErrInsufficientStorage, ErrStorage}

// Sentinel returns the class sentinel of c.
func (c Class) Sentinel() error {
	if c < 0 || int(c) >= len(classSentinels) {
		return ErrStorage
	}
	return classSentinels[c]
}

// Detail sentinels, each in one class.
var (
	// ErrStaleEpoch (conflict): a producer epoch below the current one.
	ErrStaleEpoch = errors.New("streams: stale producer epoch")
	// ErrEpochSeq (bad request): a new producer epoch not starting at 0.
	ErrEpochSeq = errors.New("streams: new producer epoch must start at sequence 0")
	// ErrSeqGap (conflict): a producer sequence past the expected one.
	ErrSeqGap = errors.New("streams: producer sequence gap")
	// ErrStreamClosed (conflict): an append to a closed stream.
	ErrStreamClosed = errors.New("streams: stream closed")
	// ErrSeqRegression (conflict): a writer sequence not above the last.
	ErrSeqRegression = errors.New("streams: writer sequence not increasing")
	// ErrExists (conflict): a create with another configuration, or of a
	// tombstone's name.
	ErrExists = errors.New("streams: stream exists with another configuration")
	// ErrBadOffset (bad request): a malformed offset or one past the tail.
	ErrBadOffset = errors.New("streams: bad offset")
	// ErrBadConfig (bad request): an invalid configuration or argument.
	ErrBadConfig = errors.New("streams: bad configuration")
	// ErrLimit (capacity): a byte limit reached.
	ErrLimit = errors.New("streams: byte limit reached")
	// ErrLayout (bad request at open): a data directory whose layout
	// manifest does not match the options.
	ErrLayout = errors.New("streams: layout mismatch")
	// ErrClosed (unavailable): a call after Close.
	ErrClosed = errors.New("streams: store closed")
	// ErrCorrupt (storage failure): stored data that does not decode or
	// contradicts the rest (a bad checksum, a truncated or missing file, a
	// malformed record), found at open or on the read that met the
	// damage; the error names what and where.
	ErrCorrupt = errors.New("streams: corrupt data")
	// ErrUnknownEngine reports a name no implementation registered.
	ErrUnknownEngine = errors.New("streams: unknown engine")
	// ErrBadOption reports an Options value an implementation refuses.
	ErrBadOption = errors.New("streams: bad option")
)

// Error is a refused request: its class, the detail sentinel and the
// details the protocol reports.
type Error struct {
	Class  Class
	Kind   error // a detail sentinel, or nil
	Stream string
	// CurrentEpoch is the producer's epoch, with ErrStaleEpoch.
	CurrentEpoch uint64
	// ExpectedSeq and ReceivedSeq come with ErrSeqGap.
	ExpectedSeq, ReceivedSeq uint64
	// Msg is free text, and Err an underlying cause.
	Msg string
	Err error
}

func (e *Error) Error() string {
	s := "streams: " + e.Class.String()
	if e.Kind != nil && !errors.Is(e.Err, e.Kind) { // else the cause says it
		s = e.Kind.Error()
	}
	if e.Stream != "" {
		s += fmt.Sprintf(" (stream %q)", e.Stream)
	}
	switch e.Kind {
	case ErrStaleEpoch:
		s += fmt.Sprintf(": current epoch %d", e.CurrentEpoch)
	case ErrSeqGap:
		s += fmt.Sprintf(": expected seq %d, received %d", e.ExpectedSeq, e.ReceivedSeq)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the class sentinel, the detail sentinel and the cause.
func (e *Error) Unwrap() []error {
	out := []error{e.Class.Sentinel()}
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Errorf builds an *Error of class c and kind k with a formatted message.
func Errorf(c Class, k error, stream, format string, args ...any) *Error {
	return &Error{Class: c, Kind: k, Stream: stream, Msg: fmt.Sprintf(format, args...)}
}

// Unavailable wraps a failure of storage that cannot serve for now (a
// server that does not answer) as an *Error of ClassUnavailable.
func Unavailable(stream, op string, err error) *Error {
	return &Error{Class: ClassUnavailable, Stream: stream, Msg: op, Err: err}
}

// StorageFailure wraps a failure of the storage under a store as an *Error
// of the class the failure belongs to (see CauseClass), with kind
// ErrCorrupt for corrupt data; op says what failed.
func StorageFailure(stream, op string, err error) *Error {
	e := &Error{Class: CauseClass(err), Stream: stream, Msg: op, Err: err}
	if errors.Is(err, ErrCorrupt) {
		e.Kind = ErrCorrupt
	}
	return e
}

// CauseClass returns the class of a storage failure that is not an *Error:
// ClassStorage for corrupt data (ErrCorrupt in its chain);
// ClassInsufficientStorage for ErrInsufficientStorage, ENOSPC, EDQUOT and
// EFBIG; ClassUnavailable for ErrUnavailable, ErrClosed, EINTR, EAGAIN,
// ETIMEDOUT and a deadline passed; ClassStorage for anything else.
func CauseClass(err error) Class {
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch {
	case is(ErrCorrupt):
		return ClassStorage
	case is(ErrInsufficientStorage, syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG):
		return ClassInsufficientStorage
	case is(ErrUnavailable, ErrClosed, syscall.EINTR, syscall.EAGAIN, syscall.ETIMEDOUT, os.ErrDeadlineExceeded):
		return ClassUnavailable
	}
	return ClassStorage
}

// ClassOf returns the class of err: that of an *Error in its chain, that of
// a class sentinel it wraps, or else CauseClass(err).
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	for c, s := range classSentinels {
		if errors.Is(err, s) {
			return Class(c)
		}
	}
	return CauseClass(err)
}
