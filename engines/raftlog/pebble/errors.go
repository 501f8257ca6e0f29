package pebble

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// errFenced is what pebble's file operations return once the engine has
// failed (see failure.go).
var errFenced = fmt.Errorf("%w: the engine's files take no more writes until it is reopened", raftlog.ErrFailed)
