package workloads_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ordeal-dev/ordeal/workloads"
)

func TestKindOf(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	names := []workloads.ErrorName{{Err: a, Name: "kind_a"}, {Err: b, Name: "kind_b"}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{a, "kind_a"},
		{fmt.Errorf("context: %w", b), "kind_b"},
		{errors.Join(b, a), "kind_a"}, // the first name that matches wins
		{errors.New("c"), "other"},
		{nil, "other"},
	} {
		if got := workloads.KindOf(tc.err, names...); got != tc.want {
			t.Errorf("KindOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
