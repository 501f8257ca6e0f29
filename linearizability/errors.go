package linearizability

import "errors"

// Sentinel errors. Test them with errors.Is.
var (
	// ErrBadVerdict reports a text that is not a verdict.
	ErrBadVerdict = errors.New("linearizability: bad verdict")
	// ErrNotVerbose reports a timeline asked of a check that did not keep
	// what it needs.
	ErrNotVerbose = errors.New("linearizability: the check was not verbose")
)
