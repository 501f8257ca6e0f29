package linearizability

import "errors"

// Sentinel errors. Test them with errors.Is.
var (
	// ErrBadVerdict reports a text that is not a verdict.
	ErrBadVerdict = errors.New("linearizability: bad verdict")
)
