package raftlogtest_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/file"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/peers"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

// BenchmarkEngines runs the shared benchmark body over every registered
// engine, e.g.
//
//	go test -run '^$' -bench 'Engines/op=persist/entry=1KiB/batch=64/' -count 10 ./engines/raftlog/raftlogtest | benchstat -col /engine -
func BenchmarkEngines(b *testing.B) {
	var hs []raftlogtest.Harness
	for _, name := range raftlog.Engines() {
		hs = append(hs, raftlogtest.Harness{
			Name: name,
			Open: func(o raftlog.Options) (raftlog.Engine, error) { return raftlog.Open(name, o) },
		})
	}
	if len(hs) == 0 {
		b.Fatal("no engine registered")
	}
	raftlogtest.Benchmark(b, hs...)
}
