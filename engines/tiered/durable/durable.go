// Package durable is a tiered.RemoteLogMetadataManager that keeps every
// change in an append-only metadata log over a vfs.FS and rebuilds its state
// by replaying the log at open, as Kafka's topic-based manager rebuilds its
// cache by consuming the metadata topic from the start. It registers as
// "durable".
//
// # The log
//
// The log is one file, metadata.log, of frames: a 4-byte little-endian
// payload length, the payload's CRC-32C, and the payload (one change:
// an add, an update or a partition deletion, or one piece of a snapshot).
// Each change is appended and synced before it is applied and
// acknowledged. At open, a damaged frame with no valid frame after it is
// the torn tail of an append a crash interrupted: it is cut off (by
// rewriting the log). A damaged frame followed by a valid one is
// corruption of acknowledged data and fails the open with an error
// wrapping tiered.ErrCorrupt, and so does a log whose records, checking
// out, do not replay (an illegal transition).
//
// # Clean close
//
// Close, unless the manager failed, leaves the record of a clean close
// (package internal/cleanclose): the log's size. Open reads it first: a
// log cut, grown or deleted since fails with tiered.ErrCorrupt, and, as
// nothing was in flight, so does a damaged frame at its end. Without this a
// log cut short would replay to an older state, with segments lost and
// deleted ones back as COPY_SEGMENT_FINISHED naming remote data already
// gone. The record goes once the log has replayed, before anything is
// written. After a crash there is no record: a torn tail is cut, and so is
// damage that looks like one, or a cut at a frame boundary.
//
// # Compaction
//
// When the log has grown past the parameter compact_min (a size such as
// 64KiB; default 1MiB) and to twice its size after the last compaction, the
// next change first rewrites the log as a snapshot of the live state:
// written to metadata.log.tmp, synced, renamed over metadata.log, and the
// directory synced. A crash leaves the old log or the new one. Compact
// does it on demand.
//
// # Failures
//
// A failed write or sync of the log fails the change that made it, and
// every later change returns tiered.ErrFailed until the manager is
// reopened; queries keep answering from the acknowledged state.
package durable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/internal/metacache"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

func init() {
	tiered.RegisterRLMM("durable", func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return Open(o) })
}

// Parameters.
const (
	// ParamCompactMin is the log size below which the log is never
	// compacted.
	ParamCompactMin = "compact_min"
)

// Bugs plants defects for the mutant catalog; the zero value is correct.
type Bugs struct {
	// DropLastRecord leaves the last record of the log out of the replay at
	// open.
	DropLastRecord bool
	// SkipCompactionDirSync does not sync the directory after renaming a
	// compacted log into place.
	SkipCompactionDirSync bool
}

const (
	logName    = "metadata.log"
	tmpName    = "metadata.log.tmp"
	frameHead  = 8
	maxPayload = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Manager is a durable RemoteLogMetadataManager.
type Manager struct {
	*metacache.Manager
	j *journal
}

var _ tiered.RemoteLogMetadataManager = (*Manager)(nil)

// Open opens the manager in o.Dir, replaying its log.
func Open(o tiered.Options) (*Manager, error) { return OpenWithBugs(o, Bugs{}) }

// OpenWithBugs opens the manager with the defects b plants.
func OpenWithBugs(o tiered.Options, b Bugs) (*Manager, error) {
	if err := tiered.CheckParams("durable", o.Params, ParamCompactMin); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: durable needs a directory", tiered.ErrBadOption)
	}
	j := &journal{fs: o.FSOrDefault(), dir: o.Dir, compactMin: 1 << 20, bugs: b}
	if v, ok := o.Params[ParamCompactMin]; ok {
		n, err := faults.ParseSize(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s %q", tiered.ErrBadOption, ParamCompactMin, v)
		}
		j.compactMin = n
	}
	c := metacache.New()
	if err := j.open(c, b); err != nil {
		return nil, err
	}
	caps := tiered.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: true}
	return &Manager{metacache.NewManager(c, j, caps), j}, nil
}

// Compact rewrites the log as a snapshot of the live state.
func (m *Manager) Compact() error {
	return m.Locked(func(c *metacache.Cache) error { return m.j.compact(c) })
}

// LogSize returns the size of the metadata log in bytes.
func (m *Manager) LogSize() int64 {
	var n int64
	_ = m.Locked(func(*metacache.Cache) error { n = m.j.size; return nil })
	return n
}

// journal is the metadata log.
type journal struct {
	fs         vfs.FS
	dir        string
	compactMin int64

	f      vfs.File // the log, open for writing at size
	size   int64
	live   int64 // size right after the last compaction or open
	failed error
	bugs   Bugs
}

func (j *journal) path(name string) string { return j.fs.PathJoin(j.dir, name) }

func (j *journal) open(c *metacache.Cache, b Bugs) error {
	if err := j.fs.MkdirAll(j.dir, 0o755); err != nil {
		return fmt.Errorf("durable: create %s: %w", j.dir, err)
	}
	if err := syncDir(j.fs, j.fs.PathDir(j.dir)); err != nil {
		return err
	}
	if err := j.fs.Remove(j.path(tmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("durable: remove %s: %w", tmpName, err)
	}
	_, strict, err := cleanclose.Check(j.fs, j.dir)
	if errors.Is(err, cleanclose.ErrMismatch) {
		return fmt.Errorf("durable: %w: %w", tiered.ErrCorrupt, err)
	}
	if err != nil {
		return fmt.Errorf("durable: %w", err)
	}
	data, err := j.read()
	if err != nil {
		return err
	}
	recs, end, err := scan(data)
	if err != nil {
		return err
	}
	if strict && end < int64(len(data)) {
		return fmt.Errorf("%w: %s: damaged frame at byte %d, in a log closed cleanly, whose every frame was synced", tiered.ErrCorrupt, logName, end)
	}
	if b.DropLastRecord && len(recs) > 0 {
		recs = recs[:len(recs)-1]
	}
	for i, r := range recs {
		if err := c.Replay(r); err != nil {
			// A record that checks out but does not follow from those
			// before it: the log is not the one written.
			return fmt.Errorf("durable: %w: record %d of %s: %w", tiered.ErrCorrupt, i, logName, err)
		}
	}
	if strict {
		if err := cleanclose.Remove(j.fs, j.dir); err != nil {
			return fmt.Errorf("durable: %w", err)
		}
	}
	if data == nil || end < int64(len(data)) {
		// A new log, or a torn tail to cut off: write the state afresh.
		return j.compact(c)
	}
	f, err := j.fs.OpenReadWrite(j.path(logName), vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("durable: open %s: %w", logName, err)
	}
	j.f, j.size, j.live = f, end, end
	// The log's directory entry may not be durable yet if the last open
	// crashed right after creating it.
	return syncDir(j.fs, j.dir)
}

// read returns the log's content, or nil if there is no log.
func (j *journal) read() ([]byte, error) {
	f, err := j.fs.Open(j.path(logName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("durable: open %s: %w", logName, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("durable: read %s: %w", logName, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// frame returns one frame holding r.
func frame(r metacache.Record) []byte {
	p := encode(r)
	b := make([]byte, frameHead, frameHead+len(p))
	binary.LittleEndian.PutUint32(b, uint32(len(p)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(p, castagnoli))
	return append(b, p...)
}

// frameAt returns the payload of a valid frame at pos, if there is one.
func frameAt(data []byte, pos int64) ([]byte, bool) {
	if int64(len(data))-pos < frameHead {
		return nil, false
	}
	n := int64(binary.LittleEndian.Uint32(data[pos:]))
	if n < 1 || n > maxPayload || pos+frameHead+n > int64(len(data)) {
		return nil, false
	}
	p := data[pos+frameHead : pos+frameHead+n]
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(data[pos+4:]) {
		return nil, false
	}
	return p, true
}

// scan decodes the frames of data. It returns the records and the end of
// the last valid frame; a damaged frame with a valid one somewhere after it
// is corruption.
func scan(data []byte) ([]metacache.Record, int64, error) {
	var recs []metacache.Record
	pos := int64(0)
	for pos < int64(len(data)) {
		p, ok := frameAt(data, pos)
		if !ok {
			for q := pos + 1; q+frameHead < int64(len(data)); q++ {
				if _, ok := frameAt(data, q); ok {
					return nil, 0, fmt.Errorf("%w: %s: damaged frame at byte %d followed by a valid frame at byte %d", tiered.ErrCorrupt, logName, pos, q)
				}
			}
			break
		}
		r, err := decode(p)
		if err != nil {
			return nil, 0, fmt.Errorf("%s at byte %d: %w", logName, pos, err)
		}
		recs = append(recs, r)
		pos += frameHead + int64(len(p))
	}
	return recs, pos, nil
}

func (j *journal) fail(err error) error {
	j.failed = err
	return err
}

// Commit implements metacache.Journal.
func (j *journal) Commit(r metacache.Record, c *metacache.Cache) error {
	if j.failed != nil {
		return fmt.Errorf("%w: %w", tiered.ErrFailed, j.failed)
	}
	if j.size >= j.compactMin && j.size >= 2*j.live {
		if err := j.compact(c); err != nil {
			return err
		}
	}
	b := frame(r)
	if _, err := j.f.WriteAt(b, j.size); err != nil {
		return j.fail(fmt.Errorf("durable: write %s: %w", logName, err))
	}
	if err := j.f.Sync(); err != nil {
		return j.fail(fmt.Errorf("durable: sync %s: %w", logName, err))
	}
	j.size += int64(len(b))
	return nil
}

// compact writes the live state of c as a new log and renames it over the
// old one. An error before the rename leaves the old log in use; one after
// it fails the journal.
func (j *journal) compact(c *metacache.Cache) (err error) {
	if j.failed != nil {
		return fmt.Errorf("%w: %w", tiered.ErrFailed, j.failed)
	}
	tmp := j.path(tmpName)
	var buf []byte
	if err := c.Snapshot(func(r metacache.Record) error { buf = append(buf, frame(r)...); return nil }); err != nil {
		return err
	}
	f, err := j.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("durable: create %s: %w", tmpName, err)
	}
	size := int64(len(buf))
	if _, err := f.Write(buf); err != nil {
		f.Close()
		_ = j.fs.Remove(tmp)
		return fmt.Errorf("durable: write %s: %w", tmpName, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		_ = j.fs.Remove(tmp)
		return fmt.Errorf("durable: sync %s: %w", tmpName, err)
	}
	if err := f.Close(); err != nil {
		_ = j.fs.Remove(tmp)
		return fmt.Errorf("durable: close %s: %w", tmpName, err)
	}
	if err := j.fs.Rename(tmp, j.path(logName)); err != nil {
		_ = j.fs.Remove(tmp)
		return fmt.Errorf("durable: rename %s: %w", tmpName, err)
	}
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	if !j.bugs.SkipCompactionDirSync {
		if err := syncDir(j.fs, j.dir); err != nil {
			return j.fail(err)
		}
	}
	nf, err := j.fs.OpenReadWrite(j.path(logName), vfs.WriteCategoryUnspecified)
	if err != nil {
		return j.fail(fmt.Errorf("durable: open %s: %w", logName, err))
	}
	j.f, j.size, j.live = nf, size, size
	return nil
}

// Close implements metacache.Journal. Unless the journal failed, it leaves
// the record of a clean close: the log's size.
func (j *journal) Close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if err != nil || j.failed != nil {
		return err
	}
	files, err := cleanclose.Snapshot(j.fs, j.dir, func(rel string) bool { return rel != logName })
	if err == nil {
		err = cleanclose.Write(j.fs, j.dir, cleanclose.Record{Files: files})
	}
	if err != nil {
		return fmt.Errorf("durable: %w", err)
	}
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("durable: open directory %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("durable: sync directory %s: %w", dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("durable: close directory %s: %w", dir, cerr)
	}
	return nil
}
