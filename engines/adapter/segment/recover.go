package segment

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"sort"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// recoverShard opens the shard in directory name. A directory without a
// config is the remains of a create or delete cut short by a crash; it is
// removed and recoverShard returns nil.
func (e *Engine) recoverShard(name string) (*shard, error) {
	fs := e.fs
	dir := fs.PathJoin(e.root, name)
	cfgData, err := readFile(fs, fs.PathJoin(dir, "config"))
	if errors.Is(err, errNotExist) && e.strict {
		return nil, fmt.Errorf("%w: the shard directory has no config, after a clean close", adapter.ErrCorrupt)
	}
	if errors.Is(err, errNotExist) {
		if err := fs.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove incomplete shard directory: %w", err)
		}
		return nil, syncDir(fs, e.root)
	}
	if err != nil {
		return nil, err
	}
	cfg, err := decodeConfigFile(cfgData)
	if err != nil {
		return nil, err
	}
	if cfg.Name != name {
		return nil, fmt.Errorf("%w: config names shard %q", adapter.ErrCorrupt, cfg.Name)
	}
	s := newShard(e, cfg)
	files, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var bases []uint64
	for _, f := range files {
		if b, ok := parseSegName(f); ok {
			bases = append(bases, b)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	if len(bases) == 0 {
		g, err := s.newSegment(0)
		if err != nil {
			return nil, err
		}
		s.segs = []*segment{g}
	}
	for i, b := range bases {
		if i > 0 && b != s.next {
			_ = s.closeFiles()
			return nil, fmt.Errorf("%w: segment %s follows a segment ending at offset %d", adapter.ErrCorrupt, segName(b), s.next)
		}
		if i == 0 {
			s.next = b
		}
		if err := s.recoverSegment(b, i == len(bases)-1); err != nil {
			_ = s.closeFiles()
			return nil, err
		}
	}
	start := s.start()
	for o := range s.deleted {
		if o < start || o >= s.next {
			delete(s.deleted, o)
		}
	}
	s.wnext = s.next
	if err := s.recoverGroups(); err != nil {
		_ = s.closeFiles()
		return nil, err
	}
	return s, nil
}

// recoverSegment reads one segment into the indexes. In the last segment a
// bad frame with no good frame after it is a torn write and is cut off.
func (s *shard) recoverSegment(base uint64, last bool) error {
	fs := s.e.fs
	g := &segment{base: base, next: base, maxTs: minInt64, lastIdx: -1, fileName: segName(base)}
	path := s.path(g.fileName)
	r, err := fs.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", g.fileName, err)
	}
	g.r = r
	s.segs = append(s.segs, g)
	st, err := r.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", g.fileName, err)
	}
	fileSize := st.Size()
	badAt, err := readAllFrames(r, fileSize, s.e.bugs.SkipChecksums, func(p []byte, pos int64) error {
		switch p[0] {
		case kindRecords:
			first, _, err := recordsHeader(p)
			if err != nil {
				return err
			}
			if first != s.next {
				return fmt.Errorf("%w: %s at %d: batch at offset %d, expected %d", adapter.ErrCorrupt, g.fileName, pos, first, s.next)
			}
			var rs []adapter.Record
			if err := decodeRecords(p, func(r adapter.Record) bool { rs = append(rs, r); return true }); err != nil {
				return fmt.Errorf("%s at %d: %w", g.fileName, pos, err)
			}
			s.recoverFrame(g, pos, first, rs)
		case kindTombstone:
			offs, err := decodeTombstone(p)
			if err != nil {
				return fmt.Errorf("%s at %d: %w", g.fileName, pos, err)
			}
			for _, o := range offs {
				s.deleted[o] = true
			}
		default:
			return fmt.Errorf("%w: %s at %d: frame kind %d", adapter.ErrCorrupt, g.fileName, pos, p[0])
		}
		g.size = pos + headerLen + int64(len(p))
		return nil
	})
	if err != nil && badAt < 0 {
		return err
	}
	if badAt >= 0 {
		if !last || s.e.strict || hasGoodFrameAfter(r, badAt, fileSize) {
			return fmt.Errorf("%w: %s: %v", adapter.ErrCorrupt, g.fileName, err)
		}
	}
	g.wsize = g.size
	if !last {
		return nil
	}
	if g.size < fileSize {
		if err := s.cutTail(g); err != nil {
			return err
		}
	}
	w, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("open %s for writing: %w", g.fileName, err)
	}
	g.w = w
	if s.e.bugs.TrustPageCache {
		return nil
	}
	return writeBack(g.r, w, g)
}

// writeBack writes the recovered bytes of the last segment over themselves
// and syncs them. After a failed fsync, Linux keeps the unwritten pages in
// the page cache marked clean: a process that opens the file later reads
// records that are not on disk and that no later sync will write, and a
// power loss then takes them, and everything acknowledged after them.
// Recovery cannot tell such pages from durable ones, so it makes durable
// what it read before anything is acknowledged on top of it.
func writeBack(r vfs.File, w vfs.File, g *segment) error {
	if g.size == 0 {
		return nil
	}
	buf := make([]byte, g.size)
	if n, err := r.ReadAt(buf, 0); int64(n) != g.size {
		return fmt.Errorf("write back %s: read %d of %d bytes: %w", g.fileName, n, g.size, err)
	}
	if _, err := w.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("write back %s: %w", g.fileName, err)
	}
	if err := w.SyncData(); err != nil {
		return fmt.Errorf("write back %s: sync: %w", g.fileName, err)
	}
	return nil
}

// recoverFrame indexes a frame read at open, honouring the ForgetTags bug.
func (s *shard) recoverFrame(g *segment, pos int64, first uint64, rs []adapter.Record) {
	if s.e.bugs.ForgetTags {
		saved := s.tags
		s.tags = map[string][]uint64{}
		s.indexFrame(g, pos, first, rs)
		s.tags = saved
		return
	}
	s.indexFrame(g, pos, first, rs)
}

// hasGoodFrameAfter reports whether the bad frame at pos is followed by a
// good one at the position its header claims the next frame starts: then
// the damage is in the middle of the file, not a torn tail.
func hasGoodFrameAfter(f vfs.File, pos, size int64) bool {
	var h [headerLen]byte
	if _, err := f.ReadAt(h[:], pos); err != nil {
		return false
	}
	n := int64(uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16 | uint32(h[3])<<24)
	next := pos + headerLen + n
	return n > 0 && n <= maxPayload && next < size && validFrameAt(f, next, size)
}

// cutTail replaces a segment by its first g.size bytes: vfs.File cannot
// truncate, so the good prefix is copied to a new file renamed over it.
func (s *shard) cutTail(g *segment) error {
	buf := make([]byte, g.size)
	if g.size > 0 {
		if _, err := g.r.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && g.size == int64(len(buf))) {
			return fmt.Errorf("read %s: %w", g.fileName, err)
		}
	}
	if err := g.r.Close(); err != nil {
		return fmt.Errorf("close %s: %w", g.fileName, err)
	}
	g.r = nil
	if err := writeFileAtomic(s.e.fs, s.dir, g.fileName, buf); err != nil {
		return err
	}
	r, err := s.e.fs.Open(s.path(g.fileName))
	if err != nil {
		return fmt.Errorf("reopen %s: %w", g.fileName, err)
	}
	g.r = r
	return nil
}

// recoverGroups replays the groups file (a torn last frame is ignored,
// unless the engine closed cleanly) into s.recovered; open then rewrites it
// compacted.
func (s *shard) recoverGroups() error {
	fs := s.e.fs
	groups := map[string]uint64{}
	f, err := fs.Open(s.path("groups"))
	if err == nil {
		st, serr := f.Stat()
		if serr != nil {
			_ = f.Close()
			return fmt.Errorf("stat groups: %w", serr)
		}
		badAt, rerr := readAllFrames(f, st.Size(), s.e.bugs.SkipChecksums, func(p []byte, pos int64) error {
			if p[0] != kindGroup {
				return fmt.Errorf("%w: groups at %d: frame kind %d", adapter.ErrCorrupt, pos, p[0])
			}
			g, o, err := decodeGroup(p)
			if err != nil {
				return fmt.Errorf("groups at %d: %w", pos, err)
			}
			groups[g] = o
			return nil
		})
		corrupt := rerr != nil && (badAt < 0 || s.e.strict || hasGoodFrameAfter(f, badAt, st.Size()))
		_ = f.Close()
		if corrupt {
			if badAt >= 0 {
				return fmt.Errorf("%w: groups: %v", adapter.ErrCorrupt, rerr)
			}
			return rerr
		}
	} else if !oserror(err) {
		return fmt.Errorf("open groups: %w", err)
	}
	s.recovered = groups
	return nil
}

const minInt64 = -1 << 63

var errNotExist = errors.New("segment: file does not exist")

// readFile reads a whole file; a missing file returns errNotExist.
func readFile(fs vfs.FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		if oserror(err) {
			return nil, errNotExist
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

func decodeConfigFile(data []byte) (adapter.ShardConfig, error) {
	f := vfs.NewMemFile(data)
	fr := newFrameReader(f, 0, int64(len(data)))
	p, _, err := fr.next()
	if err != nil {
		return adapter.ShardConfig{}, fmt.Errorf("%w: config: %v", adapter.ErrCorrupt, err)
	}
	if fr.pos != int64(len(data)) {
		return adapter.ShardConfig{}, fmt.Errorf("%w: config has trailing bytes", adapter.ErrCorrupt)
	}
	return decodeConfig(p)
}

func oserror(err error) bool { return errors.Is(err, iofs.ErrNotExist) }
