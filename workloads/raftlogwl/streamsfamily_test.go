package raftlogwl_test

// The built-in suites name the streams family too, run on its memory engine.
import (
	_ "github.com/ordeal-dev/ordeal/engines/streams/memory"
	_ "github.com/ordeal-dev/ordeal/workloads/streamswl"
)
