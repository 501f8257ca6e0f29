package results

import "errors"

// Sentinel errors.
var (
	// ErrSchema reports a results.json of an unknown schema version.
	ErrSchema = errors.New("results: unsupported schema version")
	// ErrNoResults reports a directory that holds no run.
	ErrNoResults = errors.New("results: no results.json")
)
