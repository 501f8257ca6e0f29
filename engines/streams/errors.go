package streams

import (
	"errors"
	"fmt"
)

// Class is the kind of a refusal, as an HTTP front end maps it to a status.
type Class int

// The classes of errors.
const (
	// ClassTransient is a storage failure that may pass (503).
	ClassTransient Class = iota
	// ClassCapacity is a limit reached (507 or 413).
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
)

var classNames = [...]string{"transient", "capacity", "not found", "gone", "conflict", "bad request"}

func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// Class sentinels: errors.Is(err, ErrConflict) holds for every conflict.
var (
	ErrTransient  = errors.New("streams: transient storage failure")
	ErrCapacity   = errors.New("streams: capacity exceeded")
	ErrNotFound   = errors.New("streams: stream not found")
	ErrGone       = errors.New("streams: stream gone")
	ErrConflict   = errors.New("streams: conflict")
	ErrBadRequest = errors.New("streams: bad request")
)

var classSentinels = [...]error{ErrTransient, ErrCapacity, ErrNotFound, ErrGone, ErrConflict, ErrBadRequest}

// Sentinel returns the class sentinel of c.
func (c Class) Sentinel() error {
	if c < 0 || int(c) >= len(classSentinels) {
		return ErrTransient
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
	// ErrClosed (transient): a call after Close.
	ErrClosed = errors.New("streams: store closed")
	// ErrUnknownEngine reports a name no implementation registered.
	ErrUnknownEngine = errors.New("streams: unknown engine")
	// ErrBadOption reports an Options value an implementation refuses.
	ErrBadOption = errors.New("streams: bad option")
	// ErrCorrupt (transient): the store found its own files damaged (a bad
	// checksum, a truncated or missing file, a malformed record), at open
	// or on the read that met the damage.
	ErrCorrupt = errors.New("streams: corrupt data")
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
	if e.Kind != nil {
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

// Transient wraps a storage failure as a transient *Error.
func Transient(stream, op string, err error) *Error {
	return &Error{Class: ClassTransient, Stream: stream, Msg: op, Err: err}
}

// ClassOf returns the class of err: that of an *Error in its chain, or
// ClassTransient.
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
	return ClassTransient
}
