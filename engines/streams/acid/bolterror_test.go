package acid

import (
	"fmt"
	"testing"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

// TestBoltErrorClasses pins the class of each bbolt error the store can
// meet, as the Durable Streams server classifies its redb counterparts.
func TestBoltErrorClasses(t *testing.T) {
	for _, c := range []struct {
		err  error
		want streams.Class
	}{
		{berrors.ErrTimeout, streams.ClassUnavailable},
		{berrors.ErrDatabaseNotOpen, streams.ClassUnavailable},
		{berrors.ErrInvalid, streams.ClassStorage},
		{berrors.ErrChecksum, streams.ClassStorage},
		{berrors.ErrVersionMismatch, streams.ClassStorage},
		{berrors.ErrInvalidMapping, streams.ClassStorage},
		{berrors.ErrIncompatibleValue, streams.ClassStorage},
		{berrors.ErrValueTooLarge, streams.ClassInsufficientStorage},
		{berrors.ErrKeyTooLarge, streams.ClassInsufficientStorage},
		{berrors.ErrMaxSizeReached, streams.ClassInsufficientStorage},
	} {
		err := streams.StorageFailure("s", "commit", boltError(fmt.Errorf("shard: %w", c.err)))
		if err.Class != c.want {
			t.Errorf("%v: class %v, want %v", c.err, err.Class, c.want)
		}
	}
	if boltError(nil) != nil {
		t.Error("boltError(nil) is not nil")
	}
}
