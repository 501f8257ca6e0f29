package segment_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/segment"
)

func harness(bugs segment.Bugs) adaptertest.Harness {
	return adaptertest.Harness{
		Name: segment.StorageType,
		Open: func(o adapter.Options) (adapter.StorageAdapter, error) {
			return segment.OpenWithBugs(o, bugs)
		},
		StorageTypes: []string{segment.StorageType},
		// Small segments and a dense index exercise rolling and the sparse
		// index in every case.
		Params: map[string]string{"segment_size": "2048", "index_interval": "256"},
	}
}

func TestConformance(t *testing.T) {
	adaptertest.Run(t, harness(segment.Bugs{}))
}

// TestPlantedBugsAreCaught proves that the suite fails an engine with each
// planted bug, and names the case that should catch it.
func TestPlantedBugsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bugs   segment.Bugs
		caught string
	}{
		{"offsets reused after a delete", segment.Bugs{ReuseOffsets: true}, "write/offsets-not-reused"},
		{"tag index not persisted", segment.Bugs{ForgetTags: true}, "read/tag"},
		{"ack before sync", segment.Bugs{AckBeforeSync: true}, "crash/power-loss"},
		{"ReadByKey returns a deleted record", segment.Bugs{ServeDeletedKeys: true}, "delete/by-key"},
		{"sync retried after EIO", segment.Bugs{RetrySyncAfterEIO: true}, "crash/sync-failure"},
		{"frame checksums not checked", segment.Bugs{SkipChecksums: true}, "crash/corruption"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fails := adaptertest.Failures(harness(tc.bugs))
			if _, ok := fails[tc.caught]; !ok {
				t.Fatalf("case %s did not catch the bug; failures: %v", tc.caught, fails)
			}
			t.Logf("caught by %d cases: %v", len(fails), fails[tc.caught])
		})
	}
}

func TestCorrectEngineHasNoFailures(t *testing.T) {
	if fails := adaptertest.Failures(harness(segment.Bugs{})); len(fails) != 0 {
		t.Fatalf("the correct engine fails: %v", fails)
	}
}

// TestConformanceDefaults runs the suite with the default segment size, so
// that torn writes land in the middle of long segments.
func TestConformanceDefaults(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Name:         segment.StorageType,
		Open:         func(o adapter.Options) (adapter.StorageAdapter, error) { return segment.Open(o) },
		StorageTypes: []string{segment.StorageType},
	})
}
