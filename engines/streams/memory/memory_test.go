package memory_test

import (
	"errors"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/memory"
	"github.com/ordeal-dev/ordeal/engines/streams/streamstest"
)

func TestConformance(t *testing.T) {
	streamstest.Run(t, streamstest.Harness{
		Name: "memory",
		Open: func(o streams.Options) (streams.Store, error) { return memory.Open(o) },
	})
}

func TestRegisteredAndOptions(t *testing.T) {
	s, err := streams.Open("memory", streams.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Capabilities(); c.Persistent {
		t.Errorf("memory claims persistence: %+v", c)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("x", streams.Config{}); !errors.Is(err, streams.ErrClosed) {
		t.Errorf("create after close: %v, want ErrClosed", err)
	}
	if _, err := memory.Open(streams.Options{Params: map[string]string{"shards": "2"}}); !errors.Is(err, streams.ErrBadOption) {
		t.Errorf("unknown parameter: %v, want ErrBadOption", err)
	}
}
