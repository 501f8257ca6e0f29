package logcheck

import (
	"errors"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

func TestChecks(t *testing.T) {
	batch := []raftlog.Entry{{Index: 5}, {Index: 6}, {Index: 7}}
	tests := []struct {
		name string
		err  error
		want error // nil: no error
	}{
		{"batch at next", Batch(batch, 5), nil},
		{"empty batch", Batch(nil, 5), nil},
		{"batch after a gap", Batch(batch, 4), raftlog.ErrNonContiguous},
		{"batch overlapping", Batch(batch, 6), raftlog.ErrNonContiguous},
		{"batch with a hole", Batch([]raftlog.Entry{{Index: 5}, {Index: 7}}, 5), raftlog.ErrNonContiguous},
		{"index inside", Index(5, 4, 5), nil},
		{"index at the boundary", Index(4, 4, 5), raftlog.ErrCompacted},
		{"index above last", Index(6, 4, 5), raftlog.ErrNotFound},
		{"range", Range(1, 1), nil},
		{"range from 0", Range(0, 3), raftlog.ErrInvalidRange},
		{"range reversed", Range(3, 2), raftlog.ErrInvalidRange},
		{"range start above the boundary", RangeStart(5, 4), nil},
		{"range start at the boundary", RangeStart(4, 4), raftlog.ErrCompacted},
		{"truncate above the boundary", TruncateFrom(5, 4), nil},
		{"truncate at the boundary", TruncateFrom(4, 4), raftlog.ErrCompacted},
	}
	for _, tc := range tests {
		if tc.want == nil && tc.err != nil {
			t.Errorf("%s: %v, want no error", tc.name, tc.err)
		}
		if tc.want != nil && !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}
