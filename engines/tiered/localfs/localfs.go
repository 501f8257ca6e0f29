// Package localfs is a tiered.RemoteStorageManager that keeps the remote
// tier in a directory of a vfs.FS, one directory per partition
// (<topic>-<partition>-<topic id>) and one file per segment (<segment
// id>.seg) holding the log data and every index. It registers as
// "localfs".
//
// A copy is atomic: the segment is written to a temporary file, synced,
// renamed into place, and the partition directory is synced, so a crash
// leaves either no segment or a complete one, and a failed copy removes
// whatever the segment had. Each segment file starts with a header that
// records, for every part, its position, length and CRC-32C, and the
// header's own CRC. FetchIndex checks the index's CRC; FetchLogSegment
// checks the header and the file's length, and reads the whole log data
// once to check its CRC before it returns the reader of the range asked
// for, so that a damaged segment is tiered.ErrCorrupt and no byte of it is
// served (the check costs one more read of the log data per fetch).
//
// Close leaves the record of a clean close (package internal/cleanclose):
// the size of every segment file. Open checks it: a segment file deleted,
// cut or grown since fails the open with tiered.ErrCorrupt, where a deleted
// one would otherwise be a segment never copied (ErrRemoteResourceNotFound)
// while the metadata names it finished. After a crash there is no record,
// and a deleted segment file is not told from one never copied; damage
// inside one is caught by its checksums.
package localfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

func init() {
	tiered.RegisterRSM("localfs", func(o tiered.Options) (tiered.RemoteStorageManager, error) { return Open(o) })
}

// Bugs plants defects for the mutant catalog; the zero value is correct.
type Bugs struct {
	// SkipDataSync renames a copied segment into place without syncing its
	// data first.
	SkipDataSync bool
	// RenameBeforeSync renames a copied segment into place and syncs the
	// directory before it syncs the segment's data.
	RenameBeforeSync bool
	// RequireProducerSnapshot refuses segment data without a producer
	// snapshot index, which is optional.
	RequireProducerSnapshot bool
	// SkipLogChecksum serves the log data without checking its CRC.
	SkipLogChecksum bool
}

// Storage is a RemoteStorageManager over a directory.
type Storage struct {
	fs     vfs.FS
	dir    string
	bugs   Bugs
	closed atomic.Bool
	tmpSeq atomic.Uint64

	mu   sync.Mutex
	dirs map[string]bool // partition directories whose entry is durable
}

var _ tiered.RemoteStorageManager = (*Storage)(nil)

// Open opens the remote tier in o.Dir, creating it if missing, and removes
// the temporary files of copies a crash interrupted. It takes no
// parameters.
func Open(o tiered.Options) (*Storage, error) { return OpenWithBugs(o, Bugs{}) }

// OpenWithBugs opens the remote tier with the defects b plants.
func OpenWithBugs(o tiered.Options, b Bugs) (*Storage, error) {
	if err := tiered.CheckParams("localfs", o.Params); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: localfs needs a directory", tiered.ErrBadOption)
	}
	s := &Storage{fs: o.FSOrDefault(), dir: o.Dir, bugs: b, dirs: map[string]bool{}}
	if err := s.fs.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("localfs: create %s: %w", s.dir, err)
	}
	_, clean, err := cleanclose.Check(s.fs, s.dir)
	if errors.Is(err, cleanclose.ErrMismatch) {
		return nil, fmt.Errorf("localfs: %w: %w", tiered.ErrCorrupt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	if err := syncDir(s.fs, s.fs.PathDir(s.dir)); err != nil {
		return nil, err
	}
	parts, err := s.fs.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("localfs: list %s: %w", s.dir, err)
	}
	for _, p := range parts {
		pdir := s.fs.PathJoin(s.dir, p)
		names, err := s.fs.List(pdir)
		if err != nil {
			continue // not a directory
		}
		removed := false
		for _, n := range names {
			if strings.Contains(n, tmpMark) {
				if err := s.fs.Remove(s.fs.PathJoin(pdir, n)); err != nil {
					return nil, fmt.Errorf("localfs: remove %s: %w", n, err)
				}
				removed = true
			}
		}
		if removed {
			if err := syncDir(s.fs, pdir); err != nil {
				return nil, err
			}
		}
		s.dirs[pdir] = true
	}
	// Every partition directory listed now has a durable entry.
	if err := syncDir(s.fs, s.dir); err != nil {
		return nil, err
	}
	if clean {
		if err := cleanclose.Remove(s.fs, s.dir); err != nil {
			return nil, fmt.Errorf("localfs: %w", err)
		}
	}
	return s, nil
}

const (
	suffix  = ".seg"
	tmpMark = ".tmp-"
	magic   = "ORDTSEG1"
	nParts  = 6
	// header: magic, per part a flag, offset, length and CRC, then the
	// header's CRC.
	partSize   = 1 + 8 + 8 + 4
	headerSize = len(magic) + nParts*partSize + 4
)

// part numbers in the segment file.
const (
	partLog = iota
	partOffset
	partTime
	partProducerSnapshot
	partTransaction
	partLeaderEpoch
)

func partOf(t tiered.IndexType) int {
	switch t {
	case tiered.IndexOffset:
		return partOffset
	case tiered.IndexTimestamp:
		return partTime
	case tiered.IndexProducerSnapshot:
		return partProducerSnapshot
	case tiered.IndexTransaction:
		return partTransaction
	case tiered.IndexLeaderEpoch:
		return partLeaderEpoch
	}
	return -1
}

type partInfo struct {
	present bool
	off     int64
	len     int64
	crc     uint32
}

type header [nParts]partInfo

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (h *header) encode() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, magic...)
	for _, p := range h {
		flag := byte(0)
		if p.present {
			flag = 1
		}
		b = append(b, flag)
		b = binary.LittleEndian.AppendUint64(b, uint64(p.off))
		b = binary.LittleEndian.AppendUint64(b, uint64(p.len))
		b = binary.LittleEndian.AppendUint32(b, p.crc)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeHeader(b []byte, size int64) (header, error) {
	var h header
	if len(b) != headerSize || string(b[:len(magic)]) != magic {
		return h, fmt.Errorf("%w: segment file header", tiered.ErrCorrupt)
	}
	body := b[:headerSize-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[headerSize-4:]) {
		return h, fmt.Errorf("%w: segment file header checksum", tiered.ErrCorrupt)
	}
	p := b[len(magic):]
	for i := range h {
		h[i] = partInfo{
			present: p[0] == 1,
			off:     int64(binary.LittleEndian.Uint64(p[1:])),
			len:     int64(binary.LittleEndian.Uint64(p[9:])),
			crc:     binary.LittleEndian.Uint32(p[17:]),
		}
		p = p[partSize:]
		if h[i].off < int64(headerSize) || h[i].len < 0 || h[i].off+h[i].len > size {
			return h, fmt.Errorf("%w: segment file part %d at [%d, +%d) in a file of %d bytes", tiered.ErrCorrupt, i, h[i].off, h[i].len, size)
		}
	}
	return h, nil
}

func (s *Storage) check(m tiered.RemoteLogSegmentMetadata) error {
	if s.closed.Load() {
		return tiered.ErrClosed
	}
	return m.ID.Validate()
}

func (s *Storage) partDir(tp tiered.TopicIDPartition) string {
	return s.fs.PathJoin(s.dir, fmt.Sprintf("%s-%d-%s", tp.Topic, tp.Partition, tp.TopicID))
}

func (s *Storage) segPath(id tiered.RemoteLogSegmentID) (dir, path string) {
	dir = s.partDir(id.TopicIDPartition)
	return dir, s.fs.PathJoin(dir, id.ID.String()+suffix)
}

// ensureDir creates the partition directory and makes its entry durable.
func (s *Storage) ensureDir(dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs[dir] {
		return nil
	}
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("localfs: create %s: %w", dir, err)
	}
	if err := syncDir(s.fs, s.dir); err != nil {
		return err
	}
	s.dirs[dir] = true
	return nil
}

func (s *Storage) CopyLogSegmentData(m tiered.RemoteLogSegmentMetadata, data tiered.LogSegmentData) (_ tiered.CustomMetadata, err error) {
	if err := s.check(m); err != nil {
		return nil, err
	}
	dir, final := s.segPath(m.ID)
	tmp := fmt.Sprintf("%s%s%d", final, tmpMark, s.tmpSeq.Add(1))
	if err := s.ensureDir(dir); err != nil {
		return nil, err
	}
	renamed := false
	defer func() {
		if err == nil {
			return
		}
		// A failed copy leaves nothing of the segment.
		_ = s.fs.Remove(tmp)
		if renamed || s.exists(final) {
			_ = s.fs.Remove(final)
			_ = syncDir(s.fs, dir)
		}
	}()
	if err := s.write(tmp, data); err != nil {
		return nil, err
	}
	if err := s.fs.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("localfs: rename %s: %w", tmp, err)
	}
	renamed = true
	if err := syncDir(s.fs, dir); err != nil {
		return nil, err
	}
	if s.bugs.RenameBeforeSync {
		if err := syncFile(s.fs, final); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (s *Storage) exists(path string) bool {
	_, err := s.fs.Stat(path)
	return err == nil
}

// write writes the segment file to path and syncs it.
func (s *Storage) write(path string, data tiered.LogSegmentData) (err error) {
	src := data.FSOrDefault()
	sources := [nParts]string{
		partLog:              data.LogSegment,
		partOffset:           data.OffsetIndex,
		partTime:             data.TimeIndex,
		partProducerSnapshot: data.ProducerSnapshotIndex,
		partTransaction:      data.TransactionIndex,
	}
	for i, name := range sources {
		optional := i == partTransaction || i == partLeaderEpoch ||
			i == partProducerSnapshot && !s.bugs.RequireProducerSnapshot
		if name == "" && !optional {
			return fmt.Errorf("%w: segment data without part %d", tiered.ErrInvalidArgument, i)
		}
	}
	f, err := s.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("localfs: create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("localfs: close %s: %w", path, cerr)
		}
	}()
	if _, err := f.Write(make([]byte, headerSize)); err != nil {
		return fmt.Errorf("localfs: write %s: %w", path, err)
	}
	var h header
	off := int64(headerSize)
	buf := make([]byte, 256<<10)
	for i := range nParts {
		var r io.Reader
		switch {
		case i == partLeaderEpoch:
			r = bytes.NewReader(data.LeaderEpochIndex)
		case sources[i] == "":
			continue
		default:
			sf, err := src.Open(sources[i])
			if err != nil {
				return fmt.Errorf("localfs: open source %s: %w", sources[i], err)
			}
			defer sf.Close()
			r = sf
		}
		crc := uint32(0)
		n := int64(0)
		for {
			k, rerr := r.Read(buf)
			if k > 0 {
				crc = crc32.Update(crc, castagnoli, buf[:k])
				n += int64(k)
				if _, err := f.Write(buf[:k]); err != nil {
					return fmt.Errorf("localfs: write %s: %w", path, err)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("localfs: read source of part %d: %w", i, rerr)
			}
		}
		h[i] = partInfo{present: true, off: off, len: n, crc: crc}
		off += n
	}
	for i := range h {
		if !h[i].present {
			h[i].off = int64(headerSize)
		}
	}
	if _, err := f.WriteAt(h.encode(), 0); err != nil {
		return fmt.Errorf("localfs: write header of %s: %w", path, err)
	}
	if !s.bugs.SkipDataSync && !s.bugs.RenameBeforeSync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("localfs: sync %s: %w", path, err)
		}
	}
	return nil
}

// open opens the segment file and reads its header.
func (s *Storage) open(m tiered.RemoteLogSegmentMetadata) (vfs.File, header, error) {
	if err := s.check(m); err != nil {
		return nil, header{}, err
	}
	_, path := s.segPath(m.ID)
	f, err := s.fs.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, header{}, fmt.Errorf("%w: segment %s", tiered.ErrRemoteResourceNotFound, m.ID)
		}
		return nil, header{}, fmt.Errorf("localfs: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, header{}, fmt.Errorf("localfs: stat %s: %w", path, err)
	}
	b := make([]byte, headerSize)
	if n, err := f.ReadAt(b, 0); n < headerSize {
		f.Close()
		if err == nil || err == io.EOF {
			return nil, header{}, fmt.Errorf("%w: segment %s: file of %d bytes", tiered.ErrCorrupt, m.ID, st.Size())
		}
		return nil, header{}, fmt.Errorf("localfs: read %s: %w", path, err)
	}
	h, err := decodeHeader(b, st.Size())
	if err != nil {
		f.Close()
		return nil, header{}, fmt.Errorf("segment %s: %w", m.ID, err)
	}
	return f, h, nil
}

type sectionReader struct {
	*io.SectionReader
	f vfs.File
}

func (r sectionReader) Close() error { return r.f.Close() }

func (s *Storage) FetchLogSegment(m tiered.RemoteLogSegmentMetadata, start, end int64) (io.ReadCloser, error) {
	if start < 0 || end < start {
		return nil, fmt.Errorf("%w: byte range [%d, %d]", tiered.ErrInvalidArgument, start, end)
	}
	f, h, err := s.open(m)
	if err != nil {
		return nil, err
	}
	p := h[partLog]
	if start > p.len {
		f.Close()
		return nil, fmt.Errorf("%w: start %d past the segment's %d bytes", tiered.ErrInvalidArgument, start, p.len)
	}
	if !s.bugs.SkipLogChecksum {
		if err := checkPart(f, p); err != nil {
			f.Close()
			return nil, fmt.Errorf("segment %s: log data: %w", m.ID, err)
		}
	}
	n := min(end, p.len-1) - start + 1
	return sectionReader{io.NewSectionReader(f, p.off+start, max(n, 0)), f}, nil
}

// checkPart reads part p of f through its CRC-32C.
func checkPart(f vfs.File, p partInfo) error {
	h := crc32.New(castagnoli)
	if n, err := io.Copy(h, io.NewSectionReader(f, p.off, p.len)); err != nil || n != p.len {
		if err == nil {
			return fmt.Errorf("%w: %d of %d bytes", tiered.ErrCorrupt, n, p.len)
		}
		return fmt.Errorf("localfs: read: %w", err)
	}
	if h.Sum32() != p.crc {
		return fmt.Errorf("%w: checksum %08x, recorded %08x", tiered.ErrCorrupt, h.Sum32(), p.crc)
	}
	return nil
}

func (s *Storage) FetchIndex(m tiered.RemoteLogSegmentMetadata, t tiered.IndexType) (io.ReadCloser, error) {
	i := partOf(t)
	if i < 0 {
		return nil, fmt.Errorf("%w: index type %s", tiered.ErrInvalidArgument, t)
	}
	f, h, err := s.open(m)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := h[i]
	if !p.present {
		return nil, fmt.Errorf("%w: segment %s has no %s index", tiered.ErrRemoteResourceNotFound, m.ID, t)
	}
	b := make([]byte, p.len)
	if n, err := f.ReadAt(b, p.off); int64(n) < p.len {
		return nil, fmt.Errorf("localfs: read %s index of %s: %w", t, m.ID, err)
	}
	if crc32.Checksum(b, castagnoli) != p.crc {
		return nil, fmt.Errorf("%w: segment %s: %s index checksum", tiered.ErrCorrupt, m.ID, t)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *Storage) DeleteLogSegmentData(m tiered.RemoteLogSegmentMetadata) error {
	if err := s.check(m); err != nil {
		return err
	}
	dir, path := s.segPath(m.ID)
	if err := s.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("localfs: remove %s: %w", path, err)
	}
	s.mu.Lock()
	known := s.dirs[dir]
	s.mu.Unlock()
	if !known {
		return nil // nothing was ever copied to this partition
	}
	return syncDir(s.fs, dir)
}

func (s *Storage) Capabilities() tiered.Capabilities {
	return tiered.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: true}
}

// Close leaves the record of a clean close.
func (s *Storage) Close() error {
	if s.closed.Swap(true) {
		return tiered.ErrClosed
	}
	files, err := cleanclose.Snapshot(s.fs, s.dir, func(rel string) bool { return strings.Contains(rel, tmpMark) })
	if err == nil {
		err = cleanclose.Write(s.fs, s.dir, cleanclose.Record{Files: files})
	}
	if err != nil {
		return fmt.Errorf("localfs: %w", err)
	}
	return nil
}

func syncFile(fs vfs.FS, path string) error {
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("localfs: open %s: %w", path, err)
	}
	serr := f.Sync()
	cerr := f.Close()
	if serr != nil {
		return fmt.Errorf("localfs: sync %s: %w", path, serr)
	}
	return cerr
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("localfs: open directory %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("localfs: sync directory %s: %w", dir, serr)
	}
	if cerr != nil {
		return fmt.Errorf("localfs: close directory %s: %w", dir, cerr)
	}
	return nil
}
