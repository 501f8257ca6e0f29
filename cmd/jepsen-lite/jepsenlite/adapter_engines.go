package jepsenlite

// The adapter engines jepsen-lite runs under "adapter/<type>" (the segment
// engine's planted bugs, "adapter/mutant/<bug>", come with package mutants,
// which adapter_run.go imports).
import (
	_ "github.com/ordeal-dev/ordeal/engines/adapter/manager"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/memory"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/segment"
)
