// Package durable holds the few file-system steps every engine needs to make
// a name durable, written once: syncing a directory, and creating a
// directory so that it survives a power loss.
package durable

import (
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// SyncDir makes the entries of dir durable: the files created, renamed or
// removed in it since its last sync.
func SyncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// MkdirAll creates dir and any missing parents, then syncs the parent of
// every directory it created, so that the whole path survives a power loss.
// A directory that exists already is left as it is.
func MkdirAll(fs vfs.FS, dir string, perm os.FileMode) error {
	var created []string
	for d := dir; ; {
		_, err := fs.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		created = append(created, d)
		parent := fs.PathDir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(created) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for i := len(created) - 1; i >= 0; i-- {
		if parent := fs.PathDir(created[i]); parent != created[i] {
			if err := SyncDir(fs, parent); err != nil {
				return err
			}
		}
	}
	return nil
}
