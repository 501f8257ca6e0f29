package memory_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/engines/tiered/tieredtest"
)

func TestConformance(t *testing.T) {
	tieredtest.Run(t, tieredtest.Harness{
		Name:     "memory",
		OpenRLMM: func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return memory.Open(o) },
	})
}

func TestRegistered(t *testing.T) {
	m, err := tiered.OpenRLMM("memory", tiered.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tiered.OpenRLMM("memory", tiered.Options{Params: map[string]string{"x": "1"}}); err == nil {
		t.Fatal("an unknown parameter was accepted")
	}
}
