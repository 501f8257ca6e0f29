package memory_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/memory"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Name:         memory.StorageType,
		Open:         func(o adapter.Options) (adapter.StorageAdapter, error) { return memory.Open(o) },
		StorageTypes: []string{memory.StorageType},
	})
}
