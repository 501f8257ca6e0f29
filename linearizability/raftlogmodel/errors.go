package raftlogmodel

import "errors"

// Sentinel errors. Test them with errors.Is.
var (
	// ErrBadHistory reports a history file that cannot be read or checked.
	ErrBadHistory = errors.New("raftlogmodel: bad history")
)
