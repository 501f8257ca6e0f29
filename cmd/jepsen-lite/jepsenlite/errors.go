package jepsenlite

import "errors"

// Sentinel errors. Test them with errors.Is.
var (
	// ErrUsage reports a bad command line or configuration (exit code 2).
	ErrUsage = errors.New("jepsen-lite: usage")
	// ErrSetup reports a run that could not start: the engine would not
	// open, no nemesis can act on it, the output directory is not
	// writable (exit code 2).
	ErrSetup = errors.New("jepsen-lite: setup")
	// ErrProtocol reports a node that answered something unreadable.
	ErrProtocol = errors.New("jepsen-lite: node protocol")
)
