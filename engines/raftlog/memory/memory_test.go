package memory_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

func TestConformance(t *testing.T) {
	raftlogtest.Run(t, raftlogtest.Harness{
		Name: "memory",
		Open: func(o raftlog.Options) (raftlog.Engine, error) { return memory.Open(o) },
	})
}
