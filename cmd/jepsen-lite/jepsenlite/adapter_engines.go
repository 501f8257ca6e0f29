package jepsenlite

// The adapter engines jepsen-lite runs under "adapter/<type>", and the
// segment engine's planted bugs under "adapter/mutant/<bug>".
import (
	_ "github.com/ordeal-dev/ordeal/engines/adapter/manager"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/memory"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/mutants"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/segment"
)
