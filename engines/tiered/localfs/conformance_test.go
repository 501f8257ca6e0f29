package localfs_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

func TestConformance(t *testing.T) {
	tieredtest.Run(t, tieredtest.Harness{
		Name:    "localfs",
		OpenRSM: func(o tiered.Options) (tiered.RemoteStorageManager, error) { return localfs.Open(o) },
	})
}
