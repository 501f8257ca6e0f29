package tieredmodel

import "errors"

// Sentinel errors.
var (
	// ErrBadHistory reports a history file that cannot be read.
	ErrBadHistory = errors.New("tieredmodel: bad history")
)
