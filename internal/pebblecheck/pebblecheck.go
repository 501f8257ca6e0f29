// Package pebblecheck is what ordeal's engines on pebble (raftlog/pebble,
// adapter/pebble) do around pebble.Open and DB.Close so that a damaged
// directory is reported as corruption, never opened as something else.
//
// pebble checksums its tables, its manifest and its write-ahead logs, but
// some damage still gets past it:
//   - the newest write-ahead log ends where it stops checking out: a cut or
//     a damaged record there reads as the tail a crash tore, and the
//     records after it are dropped silently;
//   - a manifest cut at a record boundary reads as an older version of the
//     database, and a deleted manifest marker as no database at all, which
//     pebble then creates afresh over the old files (Open leaves the file
//     CREATED once it made a database, so that this is told from a
//     database never made);
//   - the OPTIONS file has no checksum, and its damage is an error of no
//     particular kind.
//
// So Close writes, last and synced, a mark: a key whose value counts the
// clean closes. Once the database is closed it leaves the record of a
// clean close (package internal/cleanclose) with the size of every file
// and the mark's value. Open checks the manifest marker and the OPTIONS
// file, and, when the record is there, every file's size, then opens the
// database read-only (which changes no file) and reads the mark: a write-
// ahead log that lost its tail lost the mark with it. Only then does it
// remove the record and open the database for writing. IsCorrupt tells
// which errors from pebble mean damage. After a crash there is no record:
// the newest log's tail is then the unsynced tail, and only pebble's
// checksums stand between damage and the data.
package pebblecheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"slices"
	"strings"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/internal/cleanclose"
	"github.com/ordeal-dev/ordeal/internal/durable"
)

// ErrCorrupt marks the errors Before returns about damage; engines wrap
// their SPI's corruption error around them.
var ErrCorrupt = errors.New("pebblecheck: damaged pebble directory")

// Open checks the database in dir (see the package documentation) and
// opens it with opts. mark is the key Close writes its mark under, which
// the engine leaves alone. A missing directory is a new database. Damage
// is an error wrapping ErrCorrupt, or one IsCorrupt recognizes.
func Open(dir string, opts *pebbledb.Options, mark []byte) (*pebbledb.DB, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	names, err := fs.List(dir)
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return nil, fmt.Errorf("pebblecheck: list %s: %w", dir, err)
	}
	rec, found, err := cleanclose.Check(fs, dir)
	if errors.Is(err, cleanclose.ErrMismatch) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return nil, err
	}
	var marker bool
	var options string
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "marker.manifest."):
			marker = true
		case strings.HasPrefix(n, "OPTIONS-") && !strings.HasSuffix(n, ".dbtmp") && n > options:
			options = n
		}
	}
	existed := slices.Contains(names, CreatedName)
	if existed && !marker {
		return nil, fmt.Errorf("%w: %s holds a database but no manifest marker: pebble would start a new one over it", ErrCorrupt, dir)
	}
	if options != "" {
		if err := checkOptions(fs, fs.PathJoin(dir, options)); err != nil {
			return nil, err
		}
	}
	if found {
		if err := checkMark(dir, opts, mark, rec.Extra); err != nil {
			return nil, err
		}
		if err := cleanclose.Remove(fs, dir); err != nil {
			return nil, err
		}
	}
	db, err := pebbledb.Open(dir, opts)
	if err != nil || existed {
		return db, err
	}
	// The database exists from now on: a manifest marker lost later is
	// damage, not a database never made.
	f, err := fs.Create(fs.PathJoin(dir, CreatedName), vfs.WriteCategoryUnspecified)
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = durable.SyncDir(fs, dir)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pebblecheck: create %s: %w", CreatedName, err)
	}
	return db, nil
}

// CreatedName is the empty file Open creates once pebble has made a new
// database in the directory.
const CreatedName = "CREATED"

// checkMark opens the database read-only and compares its mark with the
// one the record names.
func checkMark(dir string, opts *pebbledb.Options, mark, extra []byte) error {
	if len(extra) != 8 {
		return nil
	}
	want := binary.LittleEndian.Uint64(extra)
	ro := opts.Clone()
	ro.ReadOnly = true
	db, err := pebbledb.Open(dir, ro)
	if err != nil {
		return err
	}
	got, err := readMark(db, mark)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: %s closed cleanly with mark %d, the database holds mark %d: the end of its write-ahead log is lost", ErrCorrupt, dir, want, got)
	}
	return nil
}

// readMark returns the mark's value, 0 if there is none.
func readMark(db *pebbledb.DB, mark []byte) (uint64, error) {
	v, closer, err := db.Get(mark)
	if errors.Is(err, pebbledb.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: the mark is %d bytes", ErrCorrupt, len(v))
	}
	return binary.LittleEndian.Uint64(v), nil
}

// checkOptions parses an OPTIONS file, which pebble writes whole (to a
// temporary file renamed into place): one that does not parse was damaged.
func checkOptions(fs vfs.FS, path string) error {
	f, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("pebblecheck: open %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("pebblecheck: read %s: %w", path, err)
	}
	var o pebbledb.Options
	hooks := &pebbledb.ParseHooks{SkipUnknown: func(string, string) bool { return false }}
	if err := o.Parse(string(b), hooks); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return nil
}

// IsCorrupt reports whether err, from pebble.Open or a read, means damage:
// pebble marked it as corruption, or a file the database names is
// missing.
func IsCorrupt(err error) bool {
	return err != nil && (pebbledb.IsCorruptionError(err) || errors.Is(err, iofs.ErrNotExist) || errors.Is(err, ErrCorrupt))
}

// Close closes db, which lives in dir on fs. When healthy reports that
// the engine did not fail, it first writes the mark, synced, and, if the
// engine is still healthy then, leaves the record of a clean close after
// closing.
func Close(db *pebbledb.DB, fs vfs.FS, dir string, mark []byte, healthy func() bool) error {
	var n uint64
	clean := healthy()
	if clean {
		var err error
		if n, err = readMark(db, mark); err != nil {
			clean = false
		} else {
			n++
			err = db.Set(mark, binary.LittleEndian.AppendUint64(nil, n), pebbledb.Sync)
			clean = err == nil && healthy()
		}
	}
	if err := db.Close(); err != nil || !clean {
		return err
	}
	files, err := cleanclose.Snapshot(fs, dir, func(rel string) bool { return rel == "LOCK" || strings.Contains(rel, "/") })
	if err != nil {
		return err
	}
	return cleanclose.Write(fs, dir, cleanclose.Record{Files: files, Extra: binary.LittleEndian.AppendUint64(nil, n)})
}
