package rlmmmodel

import "errors"

// Sentinel errors.
var (
	// ErrHistory reports a history file that cannot be read.
	ErrHistory = errors.New("rlmmmodel: bad history")
)
