package file

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
	"github.com/ordeal-dev/ordeal/internal/durable"
)

func init() {
	raftlog.Register("file", func(o raftlog.Options) (raftlog.Engine, error) { return Open(o) })
}

// Bugs plants known defects so the checks can be shown to catch them.
// The zero value is the correct engine.
type Bugs struct {
	SkipSync             bool // acknowledge before fsync: segment data is never synced
	RetrySyncAfterError  bool // after a failed fsync, sync again and acknowledge if that succeeds
	ForgetPurgeBoundary  bool // the purge boundary is not persisted; reopen derives the first index from the kept segments
	SkipDirSync          bool // no directory fsync after creating or removing a segment
	VolatileTruncate     bool // truncate is applied in memory only, never persisted
	AcceptTornRecord     bool // recovery keeps a tail record whose checksum fails
	StaleLastIndex       bool // LastIndex is cached and not updated by Truncate
	TrustPageCache       bool // recovery builds on the last segment as read, without writing it back
	IgnoreWriteBackError bool // a failed write-back of the hard state at open is ignored and the state read is served
	IgnoreCloseRecord    bool // recovery after a clean close cuts a damaged tail as if a crash had torn it
}

// preallocChunk is how far ahead of the writes a preallocating engine fills
// a segment with zeros.
const preallocChunk = 4 << 20

// Engine is the segmented write-ahead log. It is its own LogStore and
// MetaStore; Flush serves both.
type Engine struct {
	fs       vfs.FS
	dir      string
	p        params
	prealloc bool
	bugs     Bugs
	// strict is set when the engine closed cleanly last time (see "Clean
	// close" in the package documentation): recovery then cuts nothing.
	strict bool

	// wmu serializes the log's mutations; the writer holds it across its
	// writes and syncs, and takes mu only to publish the result.
	wmu sync.Mutex
	// mu guards st, segs and closed.
	mu     sync.RWMutex
	st     logState
	segs   []*segment // by sequence number, consecutive; the last is active
	closed bool
	last   atomic.Uint64 // LastIndex, stored under mu

	failed atomic.Pointer[failure]

	// Scratch of the writer, under wmu.
	buf        []byte
	rel        []int64
	locs       []loc
	zbuf       []byte
	crcScratch [28]byte

	spare    *spareFile
	spareErr error // why the last spare was dropped, for diagnosis

	// hsMu guards the hard state: the state last acknowledged (hs, hsOK,
	// or hsErr if the file is malformed) and its file, whose slot hsCur
	// holds the newest record, numbered hsSeq. hsFile is nil while the file
	// is malformed.
	hsMu       sync.Mutex
	hs         raftlog.HardState
	hsOK       bool
	hsErr      error
	hsFile     vfs.File
	hsSlotSize int64
	hsCur      int
	hsSeq      uint64
}

type failure struct{ err error }

var (
	_ raftlog.Engine    = (*Engine)(nil)
	_ raftlog.LogStore  = (*Engine)(nil)
	_ raftlog.MetaStore = (*Engine)(nil)
)

// segment is one open segment file.
type segment struct {
	seq    uint64
	path   string
	f      vfs.File
	size   int64 // offset of the next frame (writer only)
	alloc  int64 // the file holds zeros in [size, alloc) (writer only)
	sealed bool
}

// loc is where an entry's encoding lies.
type loc struct {
	off int64
	n   uint32
	seq uint32
}

// logState is the log as replayed or as kept in memory: the purge boundary,
// and the location of every entry base+1..last. While replaying, base may
// lie above purged.Index: the entries in between are in segments that are
// gone, which is only sound if a later purge covers them.
type logState struct {
	purged raftlog.LogID
	base   uint64
	locs   []loc
}

func (s *logState) lastIndex() uint64 { return s.base + uint64(len(s.locs)) }

func (s *logState) at(index uint64) loc { return s.locs[index-s.base-1] }

// truncate removes the entries >= from; purged.Index < from <= lastIndex().
func (s *logState) truncate(from uint64) {
	if from-1 <= s.base {
		s.base, s.locs = from-1, s.locs[:0]
		return
	}
	s.locs = s.locs[:from-1-s.base]
}

// purge moves the boundary up to id.
func (s *logState) purge(id raftlog.LogID) {
	if id.Index <= s.purged.Index {
		return
	}
	switch {
	case id.Index >= s.lastIndex():
		s.base, s.locs = id.Index, nil
	case id.Index >= s.base:
		s.locs = s.locs[id.Index-s.base:]
		s.base = id.Index
	}
	s.purged = id
}

// Open opens (creating if needed) the log in o.Dir, recovering whatever it
// holds. Parameters: segment_size and preallocate (see ParamSegmentSize and
// ParamPreallocate).
func Open(o raftlog.Options) (*Engine, error) { return OpenWithBugs(o, Bugs{}) }

// OpenWithBugs opens the log with the given defects planted.
func OpenWithBugs(o raftlog.Options, b Bugs) (*Engine, error) {
	p, err := parseParams(o.Params)
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: engine file needs Options.Dir", raftlog.ErrBadOption)
	}
	e := &Engine{fs: o.FSOrDefault(), dir: o.Dir, p: p, bugs: b, prealloc: p.prealloc == preallocOn}
	if err := e.makeDir(); err != nil {
		return nil, err
	}
	closedAt, strict, err := e.checkCloseRecord()
	if err != nil {
		return nil, err
	}
	e.strict = strict && !b.IgnoreCloseRecord
	names, err := e.fs.List(e.dir)
	if err != nil {
		return nil, fmt.Errorf("file: list %s: %w", e.dir, err)
	}
	if err := e.recover(names); err != nil {
		e.closeFiles()
		return nil, err
	}
	if err := e.loadHardState(names); err != nil {
		e.closeFiles()
		return nil, err
	}
	if strict {
		var err error
		if e.strict {
			err = e.checkHardStateSeq(closedAt)
		}
		if err == nil {
			// Recovery changed no size the record lists: from here on the
			// files may change, so the record goes.
			err = cleanclose.Remove(e.fs, e.dir)
		}
		if err != nil {
			e.closeFiles()
			return nil, err
		}
	}
	return e, nil
}

// Log returns the engine itself.
func (e *Engine) Log() raftlog.LogStore { return e }

// Meta returns the engine itself.
func (e *Engine) Meta() raftlog.MetaStore { return e }

// Capabilities: persistent, durable on return, every file through Options.FS.
func (e *Engine) Capabilities() raftlog.Capabilities {
	return raftlog.Capabilities{Persistent: true, SyncOnWrite: true, UsesFS: true}
}

// Close closes the segment files. It waits for a mutation in progress.
func (e *Engine) Close() error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	e.hsMu.Lock()
	defer e.hsMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	e.closed = true
	if e.spare != nil {
		_ = e.spare.f.Close()
		e.spare = nil
	}
	if err := e.closeFiles(); err != nil {
		return err
	}
	if e.failed.Load() != nil {
		// What failed may not be durable: the next open recovers as after
		// a crash.
		return nil
	}
	return e.writeCloseRecord()
}

func (e *Engine) closeFiles() error {
	var first error
	for _, s := range e.segs {
		if s.f == nil {
			continue
		}
		if err := s.f.Close(); err != nil && first == nil {
			first = fmt.Errorf("file: close %s: %w", s.path, err)
		}
		s.f = nil
	}
	e.segs = nil
	if e.hsFile != nil {
		if err := e.hsFile.Close(); err != nil && first == nil {
			first = fmt.Errorf("file: close %s: %w", hardStateName, err)
		}
		e.hsFile = nil
	}
	return first
}

// writable says whether a mutation may proceed.
func (e *Engine) writable() error {
	e.mu.RLock()
	closed := e.closed
	e.mu.RUnlock()
	if closed {
		return raftlog.ErrClosed
	}
	if f := e.failed.Load(); f != nil {
		return fmt.Errorf("%w (first failure: %w)", raftlog.ErrFailed, f.err)
	}
	return nil
}

// fail records a storage error: the engine refuses mutations from now on.
func (e *Engine) fail(op string, err error) error {
	e.failed.CompareAndSwap(nil, &failure{err: err})
	return fmt.Errorf("file: %s: %w", op, err)
}

func (e *Engine) active() *segment { return e.segs[len(e.segs)-1] }

// segBySeq finds an open segment; the caller holds mu.
func (e *Engine) segBySeq(seq uint32) (*segment, error) {
	if len(e.segs) > 0 {
		if i := uint64(seq) - e.segs[0].seq; uint64(seq) >= e.segs[0].seq && i < uint64(len(e.segs)) {
			return e.segs[i], nil
		}
	}
	return nil, fmt.Errorf("%w: segment %d is not open", raftlog.ErrCorrupt, seq)
}

func (e *Engine) segPath(seq uint64) string {
	return e.fs.PathJoin(e.dir, fmt.Sprintf("%020d%s", seq, segSuffix))
}

// sync syncs a file's data, with the planted defects.
func (e *Engine) sync(f vfs.File, segmentData bool) error {
	if segmentData && e.bugs.SkipSync {
		return nil
	}
	err := f.SyncData()
	if err != nil && e.bugs.RetrySyncAfterError {
		if f.SyncData() == nil {
			return nil
		}
	}
	return err
}

// makeDir creates the directory, and any missing parent, durably.
func (e *Engine) makeDir() error {
	if err := durable.MkdirAll(e.fs, e.dir, 0o755); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	return nil
}

func (e *Engine) syncDir() error { return durable.SyncDir(e.fs, e.dir) }

// writeZeros writes zeros to f in [from, to), with z as scratch.
func writeZeros(f vfs.File, from, to int64, z []byte) error {
	for off := from; off < to; {
		n := min(int64(len(z)), to-off)
		// Cleared each time: a File may modify what it is given.
		clear(z[:n])
		if _, err := f.WriteAt(z[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// writeFrames writes buf, whole frames, at the end of s and syncs it.
func (e *Engine) writeFrames(s *segment, buf []byte) error {
	off := s.size
	if _, err := s.f.WriteAt(buf, off); err != nil {
		return fmt.Errorf("write %s at %d: %w", s.path, off, err)
	}
	end := off + int64(len(buf))
	if e.prealloc && end > s.alloc {
		to := max(min(end+preallocChunk, e.p.segmentSize), end)
		if err := writeZeros(s.f, end, to, e.zeros()); err != nil {
			return fmt.Errorf("preallocate %s at %d: %w", s.path, end, err)
		}
		s.alloc = to
	}
	if err := e.sync(s.f, true); err != nil {
		return fmt.Errorf("sync %s: %w", s.path, err)
	}
	return nil
}

// zeros returns the writer's scratch for writing zeros.
func (e *Engine) zeros() []byte {
	if e.zbuf == nil {
		e.zbuf = make([]byte, 1<<20)
	}
	return e.zbuf
}

// createSegment creates, syncs and names in the directory a new segment.
func (e *Engine) createSegment(h segHeader) (*segment, error) {
	path := e.segPath(h.seq)
	f, err := e.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	s := &segment{seq: h.seq, path: path, f: f, size: segHeaderSize, alloc: segHeaderSize}
	err = func() error {
		if _, err := f.WriteAt(encodeSegHeader(h), 0); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if e.prealloc {
			s.alloc = min(e.p.segmentSize, preallocChunk)
			if err := writeZeros(f, segHeaderSize, s.alloc, e.zeros()); err != nil {
				return fmt.Errorf("preallocate %s: %w", path, err)
			}
		}
		if err := e.sync(f, false); err != nil {
			return fmt.Errorf("sync %s: %w", path, err)
		}
		if !e.bugs.SkipDirSync {
			return e.syncDir()
		}
		return nil
	}()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return s, nil
}

// headerState is the state a new segment's header records.
func (e *Engine) headerState(seq uint64) segHeader {
	h := segHeader{seq: seq, purged: e.st.purged, last: e.st.lastIndex()}
	if e.bugs.ForgetPurgeBoundary {
		h.purged = raftlog.LogID{}
	}
	return h
}

// room returns the segment a frame of size bytes goes to, sealing the active
// one and starting the next when it would overflow. The caller holds wmu.
func (e *Engine) room(size int64) (*segment, error) {
	s := e.active()
	sealSize := frameSize(8)
	if s.size <= segHeaderSize || s.size+size+sealSize <= e.p.segmentSize {
		return s, nil
	}
	seal := appendFrame(nil, kindSeal, u64Payload(s.seq+1), s.seq, s.size)
	if err := e.writeFrames(s, seal); err != nil {
		return nil, e.fail("seal segment", err)
	}
	s.size += int64(len(seal))
	s.sealed = true
	h := e.headerState(s.seq + 1)
	ns, err := e.takeSpare(h)
	if err == nil && ns == nil {
		ns, err = e.createSegment(h)
	}
	if err != nil {
		return nil, e.fail("start segment", err)
	}
	e.mu.Lock()
	e.segs = append(e.segs, ns)
	e.mu.Unlock()
	return ns, nil
}

// appendControl writes one control frame durably. The caller holds wmu.
func (e *Engine) appendControl(op string, kind frameKind, payload []byte) error {
	size := frameSize(len(payload))
	s, err := e.room(size)
	if err != nil {
		return err
	}
	buf := appendFrame(e.buf[:0], kind, payload, s.seq, s.size)
	e.buf = buf
	if err := e.writeFrames(s, buf); err != nil {
		return e.fail(op, err)
	}
	s.size += int64(len(buf))
	return nil
}

// PersistEntries appends the batch as one frame with one write and one sync.
func (e *Engine) PersistEntries(batch []raftlog.Entry) error {
	if len(batch) == 0 {
		return nil
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	next := e.st.lastIndex() + 1
	for i := range batch {
		if batch[i].Index != next+uint64(i) {
			return fmt.Errorf("%w: entry %d of the batch has index %d, want %d", raftlog.ErrNonContiguous, i, batch[i].Index, next+uint64(i))
		}
	}
	n := entriesPayloadSize(batch)
	if n >= maxPayload {
		return fmt.Errorf("file: a batch of %d bytes is larger than a frame can hold (%d)", n, maxPayload)
	}
	size := frameSize(n)
	s, err := e.room(size)
	if err != nil {
		return err
	}
	off := s.size
	if int64(cap(e.buf)) < size {
		e.buf = make([]byte, size, size+size/4)
	}
	buf := e.buf[:size]
	e.rel = putEntries(buf[frameHeaderSize:frameHeaderSize+n], batch, e.rel[:0])
	finishFrame(buf, kindEntries, n, s.seq, off, &e.crcScratch)
	if err := e.writeFrames(s, buf); err != nil {
		return e.fail("persist entries", err)
	}
	s.size += size
	locs := e.locs[:0]
	base := off + frameHeaderSize
	for i, r := range e.rel {
		locs = append(locs, loc{off: base + r, n: uint32(entryHeaderSize + len(batch[i].Data)), seq: uint32(s.seq)})
	}
	e.locs = locs
	e.mu.Lock()
	e.st.locs = append(e.st.locs, locs...)
	e.last.Store(e.st.lastIndex())
	e.mu.Unlock()
	e.growSpare(size + size/4)
	return nil
}

// Entry reads one entry with one ReadAt.
func (e *Engine) Entry(index uint64) (raftlog.Entry, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.Entry{}, raftlog.ErrClosed
	}
	if index <= e.st.purged.Index {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, purged up to %d", raftlog.ErrCompacted, index, e.st.purged.Index)
	}
	if last := e.st.lastIndex(); index > last {
		return raftlog.Entry{}, fmt.Errorf("%w: index %d, last is %d", raftlog.ErrNotFound, index, last)
	}
	l := e.st.at(index)
	s, err := e.segBySeq(l.seq)
	if err != nil {
		return raftlog.Entry{}, err
	}
	buf := make([]byte, l.n)
	if _, err := s.f.ReadAt(buf, l.off); err != nil {
		return raftlog.Entry{}, fmt.Errorf("file: read entry %d from %s at %d: %w", index, s.path, l.off, err)
	}
	return decodeEntry(buf, index)
}

// maxReadSpan bounds one ReadAt of Entries.
const maxReadSpan = 16 << 20

// Entries reads lo..hi, with one ReadAt per run of entries that lie close
// together in one segment.
func (e *Engine) Entries(lo, hi uint64) ([]raftlog.Entry, error) {
	if lo == 0 || lo > hi {
		return nil, fmt.Errorf("%w: [%d, %d]", raftlog.ErrInvalidRange, lo, hi)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, raftlog.ErrClosed
	}
	if lo <= e.st.purged.Index {
		return nil, fmt.Errorf("%w: range starts at %d, purged up to %d", raftlog.ErrCompacted, lo, e.st.purged.Index)
	}
	hi = min(hi, e.st.lastIndex())
	if lo > hi {
		return nil, nil
	}
	locs := e.st.locs[lo-e.st.base-1 : hi-e.st.base]
	out := make([]raftlog.Entry, len(locs))
	for i := 0; i < len(locs); {
		first := locs[i]
		end := first.off + int64(first.n)
		j := i + 1
		for ; j < len(locs); j++ {
			l := locs[j]
			if l.seq != first.seq || l.off < end || l.off-end > 64 || l.off+int64(l.n)-first.off > maxReadSpan {
				break
			}
			end = l.off + int64(l.n)
		}
		s, err := e.segBySeq(first.seq)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, end-first.off)
		if _, err := s.f.ReadAt(buf, first.off); err != nil {
			return nil, fmt.Errorf("file: read entries %d..%d from %s at %d: %w", lo+uint64(i), lo+uint64(j-1), s.path, first.off, err)
		}
		for k := i; k < j; k++ {
			rel := locs[k].off - first.off
			n := int64(locs[k].n)
			if out[k], err = decodeEntry(buf[rel:rel+n:rel+n], lo+uint64(k)); err != nil {
				return nil, err
			}
		}
		i = j
	}
	return out, nil
}

// Purge records the boundary durably, then removes the segments that hold
// no entry above it.
func (e *Engine) Purge(upTo raftlog.LogID) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	if upTo.Index <= e.st.purged.Index {
		return nil
	}
	if !e.bugs.ForgetPurgeBoundary {
		if err := e.appendControl("purge", kindPurge, u64Payload(upTo.Index, upTo.Term)); err != nil {
			return err
		}
	}
	e.mu.Lock()
	e.st.purge(upTo)
	e.last.Store(e.st.lastIndex())
	keepFrom := e.active().seq
	if len(e.st.locs) > 0 {
		keepFrom = min(keepFrom, uint64(e.st.locs[0].seq))
	}
	k := 0
	for k < len(e.segs) && e.segs[k].seq < keepFrom {
		k++
	}
	dropped := e.dropSegments(k)
	e.mu.Unlock()
	return e.removeSegments(dropped)
}

// dropSegments takes the first k segments out of segs; the caller holds mu.
func (e *Engine) dropSegments(k int) []*segment {
	if k == 0 {
		return nil
	}
	dropped := append([]*segment(nil), e.segs[:k]...)
	e.segs = append([]*segment(nil), e.segs[k:]...)
	return dropped
}

// removeSegments closes and removes segments no reader can reach any more.
func (e *Engine) removeSegments(dropped []*segment) error {
	if len(dropped) == 0 {
		return nil
	}
	for _, s := range dropped {
		if err := s.f.Close(); err != nil {
			return e.fail("remove segment", fmt.Errorf("close %s: %w", s.path, err))
		}
		if err := e.fs.Remove(s.path); err != nil {
			return e.fail("remove segment", fmt.Errorf("remove %s: %w", s.path, err))
		}
	}
	if !e.bugs.SkipDirSync {
		if err := e.syncDir(); err != nil {
			return e.fail("remove segment", err)
		}
	}
	return nil
}

// Truncate records durably that the entries >= from are gone.
func (e *Engine) Truncate(from uint64) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	if from <= e.st.purged.Index {
		return fmt.Errorf("%w: truncate from %d, purged up to %d", raftlog.ErrCompacted, from, e.st.purged.Index)
	}
	if from > e.st.lastIndex() {
		return nil
	}
	if !e.bugs.VolatileTruncate {
		if err := e.appendControl("truncate", kindTruncate, u64Payload(from)); err != nil {
			return err
		}
	}
	e.mu.Lock()
	e.st.truncate(from)
	if !e.bugs.StaleLastIndex {
		e.last.Store(e.st.lastIndex())
	}
	e.mu.Unlock()
	return nil
}

// Reset records durably that the log is empty, then removes every segment
// but the active one.
func (e *Engine) Reset() error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	if err := e.appendControl("reset", kindReset, nil); err != nil {
		return err
	}
	e.mu.Lock()
	e.st = logState{}
	e.last.Store(0)
	dropped := e.dropSegments(len(e.segs) - 1)
	e.mu.Unlock()
	return e.removeSegments(dropped)
}

// Flush has nothing to do: every mutation is durable on return.
func (e *Engine) Flush() error { return e.writable() }

// FirstIndex is PurgedID().Index+1.
func (e *Engine) FirstIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st.purged.Index + 1
}

// LastIndex is the index of the last entry; it does no I/O and takes no lock.
func (e *Engine) LastIndex() uint64 { return e.last.Load() }

// PurgedID is the purge boundary.
func (e *Engine) PurgedID() raftlog.LogID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st.purged
}
