package streamswl

import "errors"

var (
	// ErrReaderStopped reports a tail reader that ended before reading the
	// message its worker appended.
	ErrReaderStopped = errors.New("streamswl: tail reader stopped")
	// ErrForkRead reports a fork that does not read as its chain.
	ErrForkRead = errors.New("streamswl: fork reads the wrong messages")
)
