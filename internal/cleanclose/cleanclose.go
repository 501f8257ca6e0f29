// Package cleanclose keeps the record an engine leaves when it closes
// cleanly, so that its next open can tell lost synced data from a torn
// tail.
//
// After a crash, the end of an engine's newest file may hold a write that
// never finished: recovery cuts it, and the data lost with it was never
// acknowledged. A truncated, shortened or deleted file looks the same, and
// so does a damaged last record, yet after a clean close nothing was in
// flight and every byte was synced: losing any of it is corruption. The
// record settles which case it is. Close writes it last, listing the size of
// every file the engine leaves, with whatever the engine adds (the number
// of its newest hard state save, the transaction its bbolt file closed
// at); open reads it first. When it is there, every listed file must be
// there with its size, and the engine's recovery treats what it would cut
// as a torn tail as corruption instead. The engine removes the record, and
// syncs the directory, once it has checked everything it can against it
// and before it writes anything that would change a size, so that a crash
// later never finds a stale record.
//
// The record is written to a temporary file, synced and renamed into place,
// and the directory synced: a crash leaves it whole or absent. One that
// does not check out was damaged at rest; it is ignored, as after a crash
// (its files then check themselves), and reported by Read.
package cleanclose

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	iofs "io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FileName is the name of the record in the engine's directory.
const FileName = "CLEAN-CLOSE"

const (
	tmpName = FileName + ".tmp"
	magic   = "ORDCLS01"
	head    = len(magic) + 8 // magic, body length, CRC-32C of the body
	maxBody = 64 << 20
)

// Errors. Test them with errors.Is.
var (
	// ErrMismatch reports a file that is missing, or of another size, than
	// the record says: data synced before the clean close is gone.
	ErrMismatch = errors.New("cleanclose: files differ from the record of the last clean close")
	// ErrDamaged reports a record that does not check out.
	ErrDamaged = errors.New("cleanclose: damaged record")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is what an engine leaves at a clean close.
type Record struct {
	// Files maps each file's path under the directory (with '/') to its
	// size.
	Files map[string]int64 `json:"files"`
	// Extra is the engine's own, opaque here.
	Extra []byte `json:"extra,omitempty"`
}

// Snapshot returns the size of every regular file under dir, in every
// subdirectory, but the record and the files skip accepts (by their path
// under dir); skip may be nil.
func Snapshot(fs vfs.FS, dir string, skip func(rel string) bool) (map[string]int64, error) {
	out := map[string]int64{}
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := fs.List(fs.PathJoin(dir, rel))
		if err != nil {
			return err
		}
		for _, n := range names {
			if n == "." || n == ".." {
				continue
			}
			r := n
			if rel != "" {
				r = rel + "/" + n
			}
			if r == FileName || r == tmpName || (skip != nil && skip(r)) {
				continue
			}
			info, err := fs.Stat(fs.PathJoin(dir, r))
			if err != nil {
				return err
			}
			switch {
			case info.IsDir():
				if err := walk(r); err != nil {
					return err
				}
			case info.Mode().IsRegular():
				out[r] = info.Size()
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, fmt.Errorf("cleanclose: list %s: %w", dir, err)
	}
	return out, nil
}

// Write leaves r as the record in dir, durably: written to a temporary
// file, synced, renamed into place, and the directory synced.
func Write(fs vfs.FS, dir string, r Record) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("cleanclose: encode the record: %w", err)
	}
	buf := make([]byte, 0, head+len(body))
	buf = append(buf, magic...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(body)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(body, castagnoli))
	buf = append(buf, body...)
	tmp, path := fs.PathJoin(dir, tmpName), fs.PathJoin(dir, FileName)
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("cleanclose: create %s: %w", tmp, err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("cleanclose: write %s: %w", path, err)
	}
	return syncDir(fs, dir)
}

// Read returns the record in dir. found is false when there is none, and
// when it is damaged: err then wraps ErrDamaged, for the engine to log or
// ignore. A leftover temporary record, from a crash while it was written,
// is not read.
func Read(fs vfs.FS, dir string) (r Record, found bool, err error) {
	path := fs.PathJoin(dir, FileName)
	f, err := fs.Open(path)
	if err != nil && isNotExist(err) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("cleanclose: open %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(head+maxBody+1)))
	if err != nil {
		return Record{}, false, fmt.Errorf("cleanclose: read %s: %w", path, err)
	}
	if len(b) < head || string(b[:len(magic)]) != magic {
		return Record{}, false, fmt.Errorf("%w: %s: no header", ErrDamaged, path)
	}
	n, sum := binary.LittleEndian.Uint32(b[len(magic):]), binary.LittleEndian.Uint32(b[len(magic)+4:])
	body := b[head:]
	if int(n) != len(body) || crc32.Checksum(body, castagnoli) != sum {
		return Record{}, false, fmt.Errorf("%w: %s: the body does not check out", ErrDamaged, path)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Record{}, false, fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
	}
	return r, true, nil
}

// Verify checks that every file r lists is under dir with its size.
// Files it does not list are not looked at. A difference is an error
// wrapping ErrMismatch that names every file that differs.
func (r Record) Verify(fs vfs.FS, dir string) error {
	var bad []string
	for _, rel := range slices.Sorted(maps.Keys(r.Files)) {
		want := r.Files[rel]
		info, err := fs.Stat(fs.PathJoin(dir, rel))
		switch {
		case err != nil && isNotExist(err):
			bad = append(bad, fmt.Sprintf("%s (%d bytes) is missing", rel, want))
		case err != nil:
			return fmt.Errorf("cleanclose: stat %s: %w", rel, err)
		case info.Size() != want:
			bad = append(bad, fmt.Sprintf("%s is %d bytes, it was %d", rel, info.Size(), want))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w in %s: %s", ErrMismatch, dir, strings.Join(bad, "; "))
	}
	return nil
}

// Check reads the record in dir and verifies it: found says whether there
// was one to go by. A damaged record counts as none.
func Check(fs vfs.FS, dir string) (r Record, found bool, err error) {
	r, found, err = Read(fs, dir)
	if errors.Is(err, ErrDamaged) {
		return Record{}, false, nil
	}
	if err != nil || !found {
		return Record{}, false, err
	}
	return r, true, r.Verify(fs, dir)
}

// Remove removes the record from dir, and a leftover temporary one, and
// syncs the directory. An engine calls it once it has checked what it
// could against the record and before it changes any file it lists.
func Remove(fs vfs.FS, dir string) error {
	removed := false
	for _, name := range []string{FileName, tmpName} {
		err := fs.Remove(fs.PathJoin(dir, name))
		switch {
		case err == nil:
			removed = true
		case !isNotExist(err):
			return fmt.Errorf("cleanclose: remove %s: %w", name, err)
		}
	}
	if !removed {
		return nil
	}
	return syncDir(fs, dir)
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("cleanclose: open %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cleanclose: sync %s: %w", dir, err)
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, iofs.ErrNotExist) }
