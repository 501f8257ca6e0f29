package file

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

func TestConformance(t *testing.T) {
	raftlogtest.Run(t, raftlogtest.Harness{
		Name: "file",
		Open: func(o raftlog.Options) (raftlog.Engine, error) { return Open(o) },
	})
}

// TestConformanceSmallSegments runs the suite with segments small enough that
// most cases rotate, purge and truncate across several files, and with
// preallocation (spare segments) on whatever the file system.
func TestConformanceSmallSegments(t *testing.T) {
	raftlogtest.Run(t, raftlogtest.Harness{
		Name: "file/segment_size=4KiB/preallocate=on",
		Open: func(o raftlog.Options) (raftlog.Engine, error) {
			o.Params = map[string]string{ParamSegmentSize: "4KiB", ParamPreallocate: "on"}
			return Open(o)
		},
	})
}
