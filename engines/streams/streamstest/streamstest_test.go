package streamstest_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/memory"
	"github.com/ordeal-dev/ordeal/engines/streams/streamstest"
)

func openMemory(o streams.Options) (streams.Store, error) { return memory.Open(o) }

func TestMemory(t *testing.T) {
	streamstest.Run(t, streamstest.Harness{Name: "memory", Open: openMemory})
}

func TestFailuresReportsNothingOnTheReference(t *testing.T) {
	if f := streamstest.Failures(streamstest.Harness{Name: "memory", Open: openMemory}); len(f) != 0 {
		t.Errorf("failures on the reference: %v", f)
	}
}
