package adaptermodel

import "errors"

// ErrBadHistory reports a history file that cannot be read or is
// inconsistent.
var ErrBadHistory = errors.New("adaptermodel: bad history")
