package broker

import "errors"

// Sentinel errors.
var (
	// ErrConfig reports a Config the campaign cannot run with.
	ErrConfig = errors.New("broker: bad config")
	// ErrCrashed reports an operation cut short by a simulated power loss;
	// the campaign catches it and restarts the broker.
	ErrCrashed = errors.New("broker: crashed")
)
