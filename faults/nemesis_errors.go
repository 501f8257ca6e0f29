package faults

import "errors"

// Sentinel errors of the nemeses. Test them with errors.Is.
var (
	// ErrUnknownNemesis reports a name no nemesis is registered under.
	ErrUnknownNemesis = errors.New("faults: unknown nemesis")
	// ErrUnavailable reports a nemesis that cannot act on a target (a
	// power loss needs the engine's files on a crashable disk, a kill
	// needs a child process).
	ErrUnavailable = errors.New("faults: nemesis unavailable for this target")
	// ErrProcess reports a child process that could not be started,
	// signalled or talked to.
	ErrProcess = errors.New("faults: child process")
)
