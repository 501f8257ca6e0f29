package adapter_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

func TestRegistry(t *testing.T) {
	if !slices.Contains(adapter.Engines(), "memory") {
		t.Fatalf("memory not registered: %v", adapter.Engines())
	}
	if _, err := adapter.Open("no-such-engine", adapter.Options{}); !errors.Is(err, adapter.ErrUnknownStorageType) {
		t.Fatalf("open unknown: %v", err)
	}
	if _, err := adapter.Open("memory", adapter.Options{Params: map[string]string{"x": "1"}}); !errors.Is(err, adapter.ErrBadOption) {
		t.Fatalf("open with unknown param: %v", err)
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg adapter.ShardConfig
		ok  bool
	}{
		{adapter.ShardConfig{Name: "a-b_c.1"}, true},
		{adapter.ShardConfig{Name: strings.Repeat("x", adapter.MaxShardNameLen)}, true},
		{adapter.ShardConfig{Name: strings.Repeat("x", adapter.MaxShardNameLen+1)}, false},
		{adapter.ShardConfig{Name: ""}, false},
		{adapter.ShardConfig{Name: ".a"}, false},
		{adapter.ShardConfig{Name: "a/b"}, false},
		{adapter.ShardConfig{Name: "a", SegmentSize: -1}, false},
		{adapter.ShardConfig{Name: "a", Retention: -time.Second}, false},
	} {
		err := tc.cfg.Validate()
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, adapter.ErrInvalidArgument)) {
			t.Errorf("Validate(%+v) = %v", tc.cfg, err)
		}
	}
	if err := (adapter.Record{Timestamp: -1}).Validate(); !errors.Is(err, adapter.ErrInvalidArgument) {
		t.Errorf("negative timestamp: %v", err)
	}
	if err := (adapter.Record{Tags: []string{""}}).Validate(); !errors.Is(err, adapter.ErrInvalidArgument) {
		t.Errorf("empty tag: %v", err)
	}
}

func TestFilterMatch(t *testing.T) {
	c := adapter.ShardConfig{Name: "orders-1", StorageType: "segment"}
	for _, tc := range []struct {
		f    adapter.ShardFilter
		want bool
	}{
		{adapter.ShardFilter{}, true},
		{adapter.ShardFilter{Name: "orders-1"}, true},
		{adapter.ShardFilter{Name: "orders"}, false},
		{adapter.ShardFilter{Prefix: "orders"}, true},
		{adapter.ShardFilter{Prefix: "users"}, false},
		{adapter.ShardFilter{StorageType: "segment"}, true},
		{adapter.ShardFilter{StorageType: "pebble"}, false},
	} {
		if got := tc.f.Match(c); got != tc.want {
			t.Errorf("%+v.Match = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestRecordClone(t *testing.T) {
	r := adapter.Record{Tags: []string{"a"}, Headers: []adapter.Header{{Name: "h", Value: []byte("v")}}, Data: []byte("d")}
	c := r.Clone()
	c.Tags[0], c.Headers[0].Value[0], c.Data[0] = "b", 'x', 'x'
	if r.Tags[0] != "a" || string(r.Headers[0].Value) != "v" || string(r.Data) != "d" {
		t.Fatalf("Clone shares memory with the original: %+v", r)
	}
}
