package streamsmodel

import "errors"

// ErrHistory reports a history file that cannot be read.
var ErrHistory = errors.New("streamsmodel: bad history")
