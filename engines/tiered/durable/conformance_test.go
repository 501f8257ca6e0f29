package durable_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/durable"
	"github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

func harness(params map[string]string) tieredtest.Harness {
	return tieredtest.Harness{
		Name:       "durable",
		OpenRLMM:   func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return durable.Open(o) },
		OpenRSM:    func(o tiered.Options) (tiered.RemoteStorageManager, error) { return localfs.Open(o) },
		RLMMParams: params,
	}
}

func TestConformance(t *testing.T) {
	tieredtest.Run(t, harness(nil))
}

// TestConformanceCompacting runs the suite with a log that compacts every
// few changes.
func TestConformanceCompacting(t *testing.T) {
	h := harness(map[string]string{durable.ParamCompactMin: "512"})
	tieredtest.Run(t, h)
}
