package pebble_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/pebble"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Name:         pebble.StorageType,
		Open:         func(o adapter.Options) (adapter.StorageAdapter, error) { return pebble.Open(o) },
		StorageTypes: []string{pebble.StorageType},
	})
}
