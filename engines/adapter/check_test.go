package adapter_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

func TestArgumentChecks(t *testing.T) {
	for _, tc := range []struct {
		desc string
		err  error
		ok   bool
	}{
		{"records ok", adapter.CheckRecords([]adapter.Record{{Timestamp: 1, Tags: []string{"t"}}, {}}), true},
		{"no records", adapter.CheckRecords(nil), true},
		{"negative timestamp", adapter.CheckRecords([]adapter.Record{{}, {Timestamp: -1}}), false},
		{"empty record tag", adapter.CheckRecords([]adapter.Record{{Tags: []string{""}}}), false},
		{"tag read ok", adapter.CheckTagRead("t", 1), true},
		{"tag read empty tag", adapter.CheckTagRead("", 1), false},
		{"tag read zero limit", adapter.CheckTagRead("t", 0), false},
		{"key ok", adapter.CheckKey("k"), true},
		{"empty key", adapter.CheckKey(""), false},
		{"group ok", adapter.CheckGroup("g"), true},
		{"empty group", adapter.CheckGroup(""), false},
	} {
		if tc.ok != (tc.err == nil) || (tc.err != nil && !errors.Is(tc.err, adapter.ErrInvalidArgument)) {
			t.Errorf("%s: err = %v, want ok=%v or ErrInvalidArgument", tc.desc, tc.err, tc.ok)
		}
	}
}

func TestSortShardInfos(t *testing.T) {
	infos := []adapter.ShardInfo{{Config: adapter.ShardConfig{Name: "c"}}, {Config: adapter.ShardConfig{Name: "a"}}, {Config: adapter.ShardConfig{Name: "b"}}}
	adapter.SortShardInfos(infos)
	var got []string
	for _, in := range infos {
		got = append(got, in.Config.Name)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("sorted names = %v, want %v", got, want)
	}
}

func TestFirstOffset(t *testing.T) {
	if o, err := adapter.FirstOffset([]uint64{7}, nil); o != 7 || err != nil {
		t.Fatalf("FirstOffset([7], nil) = %d, %v", o, err)
	}
	boom := errors.New("boom")
	if o, err := adapter.FirstOffset(nil, boom); o != 0 || !errors.Is(err, boom) {
		t.Fatalf("FirstOffset(nil, boom) = %d, %v", o, err)
	}
}
