package manager_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/manager"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/memory"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/segment"
)

func openManager(o adapter.Options) (adapter.StorageAdapter, error) { return manager.Open(o) }

// TestConformancePersistent mixes the two persistent engines: shards
// alternate between segment and pebble, and every durability case runs.
func TestConformancePersistent(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Name:         "manager(segment,pebble)",
		Open:         openManager,
		StorageTypes: []string{"segment", "pebble"},
		Params:       map[string]string{"storage_types": "segment,pebble", "segment.segment_size": "2048"},
	})
}

// TestConformanceMixed adds the memory engine: the manager then promises no
// persistence, and the semantic cases run across all three engines.
func TestConformanceMixed(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Name:         "manager(segment,pebble,memory)",
		Open:         openManager,
		StorageTypes: []string{"segment", "pebble", "memory"},
		Params:       map[string]string{"storage_types": "memory,pebble,segment", "segment.segment_size": "2048"},
	})
}
