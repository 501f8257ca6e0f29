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
	// ErrHistory reports a history file that cannot be read or checked:
	// unreadable, of an unknown model, or inconsistent.
	ErrHistory = errors.New("jepsen-lite: bad history")
	// ErrIncomplete reports a merge of campaign shards that lacks some.
	ErrIncomplete = errors.New("jepsen-lite: incomplete campaign")
	// ErrNoFS is returned by a family's Open for an engine that cannot
	// write through the file system it is given: the runner then opens it
	// on a real directory.
	ErrNoFS = errors.New("jepsen-lite: engine writes around the given file system")
)
