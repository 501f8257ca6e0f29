package segment

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// indexEntry locates a frame of records: its position, its first offset and
// the highest timestamp of all records before it in the shard.
type indexEntry struct {
	pos    int64
	first  uint64
	maxTsB int64
}

type segment struct {
	base     uint64
	next     uint64 // one past the last record in the segment
	size     int64  // bytes of good frames readers may read (under shard.mu)
	wsize    int64  // bytes written and synced or being written (under shard.wmu)
	maxTs    int64  // newest record timestamp, math.MinInt64 if none
	index    []indexEntry
	lastIdx  int64 // position of the last indexed frame, -1 if none
	r        vfs.File
	w        vfs.File // open for writing on the last segment only
	fileName string
}

type shard struct {
	e   *Engine
	dir string

	// Lock order: wmu, then mu, then gmu. Writers append to the log under
	// wmu without blocking readers, and publish what they wrote (sizes,
	// indexes, NextOffset) under mu.
	wmu   sync.Mutex
	wnext uint64 // next offset to assign (under wmu)

	qmu     sync.Mutex // guards queue and leading
	queue   []*pending // batches waiting for the next group commit
	leading bool       // a writer is committing groups

	mu      sync.RWMutex // guards what readers see
	cfg     adapter.ShardConfig
	gone    bool // deleted or closed (set under wmu and mu)
	segs    []*segment
	next    uint64
	runMax  int64 // highest timestamp ever written (including dropped records)
	deleted map[uint64]bool
	tags    map[string][]uint64 // ascending offsets, deleted ones included
	keys    map[string][]uint64 // ascending offsets, deleted ones included

	// recovered holds the group offsets read at open until the groups
	// file is rewritten compacted.
	recovered map[string]uint64

	gmu    sync.Mutex // guards groups, gfile, gcount
	groups map[string]uint64
	gfile  vfs.File
	gsize  int64
}

func newShard(e *Engine, cfg adapter.ShardConfig) *shard {
	return &shard{e: e, cfg: cfg, dir: e.fs.PathJoin(e.root, cfg.Name), runMax: math.MinInt64,
		deleted: map[uint64]bool{}, tags: map[string][]uint64{}, keys: map[string][]uint64{}, groups: map[string]uint64{}}
}

func (s *shard) start() uint64 { return s.segs[0].base }

func (s *shard) isDeleted(o uint64) bool { return s.deleted[o] }

func (s *shard) segmentSize() int64 {
	if s.cfg.SegmentSize > 0 {
		return s.cfg.SegmentSize
	}
	return s.e.defaultSize
}

func (s *shard) path(name string) string { return s.e.fs.PathJoin(s.dir, name) }

func (s *shard) closeFiles() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, g := range s.segs {
		if g.r != nil {
			keep(g.r.Close())
			g.r = nil
		}
		if g.w != nil {
			keep(g.w.Close())
			g.w = nil
		}
	}
	if s.gfile != nil {
		keep(s.gfile.Close())
		s.gfile = nil
	}
	return first
}

// writeFileAtomic writes a file through a temporary name, syncs it, renames
// it into place and syncs the directory.
func writeFileAtomic(fs vfs.FS, dir, name string, data []byte) error {
	tmp := fs.PathJoin(dir, name+".tmp")
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("segment: create %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("segment: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("segment: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("segment: close %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, fs.PathJoin(dir, name)); err != nil {
		return fmt.Errorf("segment: rename %s: %w", tmp, err)
	}
	return syncDir(fs, dir)
}

// createShard makes the shard's directory, its first segment and, last,
// its config, which is what makes the shard exist.
func (e *Engine) createShard(cfg adapter.ShardConfig) (*shard, error) {
	s := newShard(e, cfg)
	if err := e.fs.RemoveAll(s.dir); err != nil {
		return nil, fmt.Errorf("segment: clear %s: %w", s.dir, err)
	}
	if err := e.fs.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", s.dir, err)
	}
	if err := syncDir(e.fs, e.root); err != nil {
		return nil, err
	}
	g, err := s.newSegment(0)
	if err != nil {
		return nil, err
	}
	s.segs = []*segment{g}
	if err := s.openGroups(nil); err != nil {
		_ = s.closeFiles()
		return nil, err
	}
	if err := writeFileAtomic(e.fs, s.dir, "config", appendFrame(nil, encodeConfig(cfg))); err != nil {
		_ = s.closeFiles()
		return nil, err
	}
	return s, nil
}

// removeShard removes the config first (the shard is gone once that is
// durable), then the rest.
func (e *Engine) removeShard(s *shard) error {
	_ = s.closeFiles()
	if err := e.fs.Remove(s.path("config")); err != nil {
		return fmt.Errorf("segment: remove config of %q: %w", s.cfg.Name, err)
	}
	if err := syncDir(e.fs, s.dir); err != nil {
		return err
	}
	if err := e.fs.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("segment: remove %s: %w", s.dir, err)
	}
	return syncDir(e.fs, e.root)
}

// newSegment creates an empty segment file starting at base, syncs its
// directory entry and opens it for appending.
func (s *shard) newSegment(base uint64) (*segment, error) {
	fs := s.e.fs
	g := &segment{base: base, next: base, maxTs: math.MinInt64, lastIdx: -1, fileName: segName(base)}
	w, err := fs.Create(s.path(g.fileName), vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", g.fileName, err)
	}
	g.w = w
	if err := syncDir(fs, s.dir); err != nil {
		_ = w.Close()
		return nil, err
	}
	if g.r, err = fs.Open(s.path(g.fileName)); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("segment: open %s: %w", g.fileName, err)
	}
	return g, nil
}

// pending is a batch waiting for a group commit.
type pending struct {
	rs   []adapter.Record
	offs []uint64
	err  error
	wake chan bool // true: lead the next group; false: done
}

// batchWrite appends a batch through group commit: concurrent batches to a
// shard are gathered into one frame, written and synced once by whichever
// writer leads; each batch still gets consecutive offsets and the frame
// survives a crash whole or not at all.
func (s *shard) batchWrite(rs []adapter.Record) ([]uint64, error) {
	p := &pending{rs: rs, wake: make(chan bool, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	if s.leading {
		s.qmu.Unlock()
		if !<-p.wake {
			return p.offs, p.err
		}
		s.qmu.Lock()
	} else {
		s.leading = true
	}
	group := s.queue
	s.queue = nil
	s.qmu.Unlock()

	s.commitBatches(group)
	for _, q := range group {
		if q != p {
			q.wake <- false
		}
	}
	s.qmu.Lock()
	if len(s.queue) > 0 {
		s.queue[0].wake <- true
	} else {
		s.leading = false
	}
	s.qmu.Unlock()
	return p.offs, p.err
}

// usable returns why the shard cannot be used, or nil.
func (s *shard) usable() error {
	switch {
	case s.gone && s.e.closedFlag.Load():
		return adapter.ErrClosed
	case s.gone:
		return fmt.Errorf("%w: %q", adapter.ErrShardNotFound, s.cfg.Name)
	case s.e.failed.Load():
		return adapter.ErrFailed
	}
	return nil
}

// commitBatches writes a group of batches as one frame with one sync and
// publishes it.
func (s *shard) commitBatches(group []*pending) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	setErr := func(err error) {
		for _, q := range group {
			q.offs, q.err = nil, err
		}
	}
	if err := s.usable(); err != nil {
		setErr(err)
		return
	}
	first := s.wnext
	var all []adapter.Record
	for _, q := range group {
		q.offs = make([]uint64, len(q.rs))
		for i := range q.rs {
			q.offs[i] = first + uint64(len(all)+i)
		}
		all = append(all, q.rs...)
	}
	frame := appendFrame(nil, encodeRecords(first, all))
	act := s.segs[len(s.segs)-1]
	if act.wsize > 0 && act.wsize+int64(len(frame)) > s.segmentSize() {
		g, err := s.roll(act, first)
		if err != nil {
			setErr(err)
			return
		}
		act = g
	}
	pos := act.wsize
	if err := s.writeSynced(act, frame); err != nil {
		setErr(err)
		return
	}
	s.wnext = first + uint64(len(all))
	s.mu.Lock()
	act.size = act.wsize
	s.indexFrame(act, pos, first, all)
	s.mu.Unlock()
}

// roll seals the active segment and starts a new one at offset base. It
// holds s.wmu.
func (s *shard) roll(act *segment, base uint64) (*segment, error) {
	g, err := s.newSegment(base)
	if err != nil {
		return nil, s.e.fail(err)
	}
	if err := act.w.Close(); err != nil {
		_ = g.w.Close()
		_ = g.r.Close()
		return nil, s.e.fail(fmt.Errorf("segment: close %s: %w", act.fileName, err))
	}
	s.mu.Lock()
	act.w = nil
	s.segs = append(s.segs, g)
	s.mu.Unlock()
	return g, nil
}

// writeSynced appends a frame to the active segment and syncs it. It holds
// s.wmu.
func (s *shard) writeSynced(act *segment, frame []byte) error {
	if _, err := act.w.WriteAt(frame, act.wsize); err != nil {
		return s.e.fail(fmt.Errorf("segment: write %s: %w", act.fileName, err))
	}
	if !s.e.bugs.AckBeforeSync {
		err := act.w.Sync()
		if err != nil && s.e.bugs.RetrySyncAfterEIO {
			err = act.w.Sync()
		}
		if err != nil {
			return s.e.fail(fmt.Errorf("segment: sync %s: %w", act.fileName, err))
		}
	}
	act.wsize += int64(len(frame))
	return nil
}

// indexFrame adds a frame of records written at pos to the indexes.
func (s *shard) indexFrame(g *segment, pos int64, first uint64, rs []adapter.Record) {
	if g.lastIdx < 0 || pos-g.lastIdx >= s.e.indexInterval {
		g.index = append(g.index, indexEntry{pos: pos, first: first, maxTsB: s.runMax})
		g.lastIdx = pos
	}
	for i, r := range rs {
		o := first + uint64(i)
		s.indexRecord(o, r, true)
		g.maxTs = max(g.maxTs, r.Timestamp)
		s.runMax = max(s.runMax, r.Timestamp)
	}
	g.next = first + uint64(len(rs))
	s.next = g.next
}

func (s *shard) indexRecord(o uint64, r adapter.Record, withTags bool) {
	if withTags {
		for i, t := range r.Tags {
			if !slices.Contains(r.Tags[:i], t) {
				s.tags[t] = append(s.tags[t], o)
			}
		}
	}
	if r.Key != "" {
		s.keys[r.Key] = append(s.keys[r.Key], o)
	}
}

// tombstone deletes offsets durably. It holds s.wmu.
func (s *shard) tombstone(offs []uint64) error {
	act := s.segs[len(s.segs)-1]
	if err := s.writeSynced(act, appendFrame(nil, encodeTombstone(offs))); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	act.size = act.wsize
	for _, o := range offs {
		s.deleted[o] = true
	}
	return nil
}

// segmentFor returns the index of the segment holding offset o, or -1.
func (s *shard) segmentFor(o uint64) int {
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].base > o }) - 1
	if i < 0 || o >= s.segs[i].next {
		return -1
	}
	return i
}

// cursor is a place to start reading: a segment and a frame position.
type cursor struct {
	seg int
	pos int64
}

// offsetStart is where to start reading to find offset o.
func (s *shard) offsetStart(o uint64) cursor {
	o = max(o, s.start())
	i := s.segmentFor(o)
	if i < 0 {
		return cursor{seg: len(s.segs)}
	}
	g := s.segs[i]
	j := sort.Search(len(g.index), func(j int) bool { return g.index[j].first > o }) - 1
	if j < 0 {
		return cursor{seg: i}
	}
	return cursor{seg: i, pos: g.index[j].pos}
}

// timeStart is where to start reading to find the first record with a
// timestamp >= ts: the last indexed frame before which every record is
// older than ts.
func (s *shard) timeStart(ts int64) cursor {
	c := cursor{}
	for i, g := range s.segs {
		j := sort.Search(len(g.index), func(j int) bool { return g.index[j].maxTsB >= ts }) - 1
		if j < 0 {
			break
		}
		c = cursor{seg: i, pos: g.index[j].pos}
		if j < len(g.index)-1 {
			break
		}
	}
	return c
}

// scan calls fn for every record with offset >= from, deleted ones
// included, in offset order, until fn returns false.
func (s *shard) scan(from uint64, fn func(adapter.Record) bool) error {
	return s.scanFrom(s.offsetStart(from), func(r adapter.Record) bool {
		if r.Offset < from {
			return true
		}
		return fn(r)
	})
}

func (s *shard) scanFrom(c cursor, fn func(adapter.Record) bool) error {
	for i := c.seg; i < len(s.segs); i++ {
		g := s.segs[i]
		pos := int64(0)
		if i == c.seg {
			pos = c.pos
		}
		fr := newFrameReader(g.r, pos, g.size)
		fr.trust = s.e.bugs.SkipChecksums
		for {
			p, at, err := fr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%w: %s at %d: %v", adapter.ErrCorrupt, g.fileName, at, err)
			}
			if p[0] != kindRecords {
				continue
			}
			stop := false
			if err := decodeRecords(p, func(r adapter.Record) bool {
				if !fn(r) {
					stop = true
					return false
				}
				return true
			}); err != nil {
				return fmt.Errorf("%s at %d: %w", g.fileName, at, err)
			}
			if stop {
				return nil
			}
		}
	}
	return nil
}

// get reads the record at offset o, deleted or not.
func (s *shard) get(o uint64) (adapter.Record, error) {
	var out adapter.Record
	found := false
	err := s.scan(o, func(r adapter.Record) bool {
		out, found = r, r.Offset == o
		return false
	})
	if err != nil {
		return adapter.Record{}, err
	}
	if !found {
		return adapter.Record{}, fmt.Errorf("%w: offset %d indexed but not in the log of %q", adapter.ErrCorrupt, o, s.cfg.Name)
	}
	return out, nil
}

// retain drops sealed segments whose newest record is older than cutoff,
// oldest first, each removal made durable before the next. It holds s.wmu
// and s.mu.
func (s *shard) retain(cutoff int64) error {
	dropped := false
	for len(s.segs) > 1 && s.segs[0].maxTs < cutoff {
		g := s.segs[0]
		if g.r != nil {
			_ = g.r.Close()
			g.r = nil
		}
		if err := s.e.fs.Remove(s.path(g.fileName)); err != nil {
			return s.e.fail(fmt.Errorf("segment: remove %s: %w", g.fileName, err))
		}
		if err := syncDir(s.e.fs, s.dir); err != nil {
			return s.e.fail(err)
		}
		s.segs = s.segs[1:]
		dropped = true
	}
	if dropped {
		s.trimIndexes()
	}
	return nil
}

// trimIndexes forgets offsets below the start of the log.
func (s *shard) trimIndexes() {
	start := s.start()
	for o := range s.deleted {
		if o < start {
			delete(s.deleted, o)
		}
	}
	for _, m := range []map[string][]uint64{s.tags, s.keys} {
		for k, offs := range m {
			i, _ := slices.BinarySearch(offs, start)
			if i == len(offs) {
				delete(m, k)
			} else if i > 0 {
				m[k] = slices.Clone(offs[i:])
			}
		}
	}
}

// commitGroup appends a group offset to the groups file and syncs it.
func (s *shard) commitGroup(group string, offset uint64) error {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	frame := appendFrame(nil, encodeGroup(group, offset))
	if _, err := s.gfile.WriteAt(frame, s.gsize); err != nil {
		return s.e.fail(fmt.Errorf("segment: write groups of %q: %w", s.cfg.Name, err))
	}
	if !s.e.bugs.AckBeforeSync {
		if err := s.gfile.Sync(); err != nil {
			return s.e.fail(fmt.Errorf("segment: sync groups of %q: %w", s.cfg.Name, err))
		}
	}
	s.gsize += int64(len(frame))
	s.groups[group] = offset
	return nil
}

// openGroups writes a compacted groups file holding groups and opens it for
// appending.
func (s *shard) openGroups(groups map[string]uint64) error {
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	var data []byte
	for _, g := range names {
		data = appendFrame(data, encodeGroup(g, groups[g]))
	}
	if err := writeFileAtomic(s.e.fs, s.dir, "groups", data); err != nil {
		return err
	}
	f, err := s.e.fs.OpenReadWrite(s.path("groups"), vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("segment: open groups of %q: %w", s.cfg.Name, err)
	}
	s.gfile, s.gsize = f, int64(len(data))
	if groups != nil {
		s.groups = groups
	}
	return nil
}
