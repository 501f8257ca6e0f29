package httpstore

import "errors"

// Sentinel errors of the package.
var (
	// ErrBadFrame reports a stream whose messages are not httpstore's
	// framing: it was written by another client.
	ErrBadFrame = errors.New("httpstore: message not in httpstore framing")
	// ErrNoServerOffset reports a position the client knows no server
	// offset for (a fork at a message it did not append or see at a tail).
	ErrNoServerOffset = errors.New("httpstore: no known server offset for that position")
	// ErrServerExited reports a server process that exited before it
	// answered.
	ErrServerExited = errors.New("httpstore: server process exited")
	// ErrNotReady reports a server that did not answer in time.
	ErrNotReady = errors.New("httpstore: server not ready")
	// ErrBadTemplate reports a server command template that cannot run.
	ErrBadTemplate = errors.New("httpstore: bad server command template")
)
