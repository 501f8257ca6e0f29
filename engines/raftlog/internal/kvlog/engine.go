package kvlog

import (
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Factory adapts an engine's Open to raftlog.Factory. An error comes with a
// nil Engine, not a nil pointer in a non-nil interface.
func Factory[E raftlog.Engine](open func(raftlog.Options) (E, error)) raftlog.Factory {
	return func(o raftlog.Options) (raftlog.Engine, error) {
		e, err := open(o)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// SyncDir makes the entries of dir durable: the files created or renamed in
// it since its last sync.
func SyncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
