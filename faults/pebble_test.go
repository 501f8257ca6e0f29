package faults

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

// TestPebbleOnHeldFS runs pebble on a file system that holds unsynced
// writes (its injector may fail a sync, though it never does here): what
// pebble acknowledged with Sync survives a power loss, and pebble opens on
// the clone.
func TestPebbleOnHeldFS(t *testing.T) {
	for _, inj := range []Injector{nil, NewTrigger(OpSync, syscall.EIO)} {
		t.Run(fmt.Sprintf("holding=%v", inj != nil), func(t *testing.T) {
			disk := NewDisk(inj)
			db, err := pebble.Open("db", &pebble.Options{FS: disk.FS(), Logger: quietLogger{t}})
			require.NoError(t, err)
			for i := range 200 {
				require.NoError(t, db.Set([]byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("v%d", i)), pebble.Sync))
				if i == 100 {
					require.NoError(t, db.Flush())
				}
			}
			after, err := disk.PowerLoss(7, 0, inj)
			require.NoError(t, err)
			require.True(t, disk.FS().PoweredOff())
			// The old disk has no power: closing may fail, with EIO only.
			if err := db.Close(); err != nil {
				require.ErrorIs(t, err, syscall.EIO)
			}

			db2, err := pebble.Open("db", &pebble.Options{FS: after.FS(), Logger: quietLogger{t}})
			require.NoError(t, err)
			for i := range 200 {
				v, closer, err := db2.Get([]byte(fmt.Sprintf("k%03d", i)))
				require.NoError(t, err, "key %d", i)
				require.Equal(t, fmt.Sprintf("v%d", i), string(v))
				require.NoError(t, closer.Close())
			}
			require.NoError(t, db2.Close())
			_, ok := vfs.Root(after.FS()).(*vfs.MemFS)
			require.True(t, ok)
		})
	}
}

// quietLogger keeps pebble's informational messages out of the test output.
type quietLogger struct{ t testing.TB }

func (quietLogger) Infof(string, ...any)                {}
func (l quietLogger) Errorf(format string, args ...any) { l.t.Logf(format, args...) }
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
