package file

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

const segSuffix = ".wal"

// parseSegName returns the sequence number of a segment file name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq == 0 || seq > 1<<32-1 {
		return 0, false
	}
	return seq, true
}

// corruptErr names the file and offset of a corruption.
func corruptErr(path string, off int64, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d: %s", raftlog.ErrCorrupt, path, off, fmt.Sprintf(format, args...))
}

// errDropSegment reports a last segment whose creation was cut short.
var errDropSegment = errors.New("segment creation was cut short")

// recover opens the segments, replays them and repairs a torn tail.
func (e *Engine) recover(names []string) error {
	var seqs []uint64
	for _, name := range names {
		if name == hardStateTmp || name == spareName {
			if err := e.fs.Remove(e.fs.PathJoin(e.dir, name)); err != nil {
				return fmt.Errorf("file: remove %s: %w", name, err)
			}
			continue
		}
		if seq, ok := parseSegName(name); ok {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	// Replay starts after the last gap in the numbers: a crash while Purge or
	// Reset removed segments may leave any of them behind. The segments
	// before a gap are obsolete if the rest replays to a log whose every
	// entry is found; else finishReplay reports the gap.
	var stale []uint64
	gap := ""
	for i := len(seqs) - 1; i > 0; i-- {
		if seqs[i] != seqs[i-1]+1 {
			stale, seqs = seqs[:i], seqs[i:]
			gap = fmt.Sprintf("segments %d..%d are missing", stale[len(stale)-1]+1, seqs[0]-1)
			break
		}
	}
	var data []byte
	for i, seq := range seqs {
		last := i == len(seqs)-1
		s := &segment{seq: seq, path: e.segPath(seq)}
		var err error
		if last {
			s.f, err = e.fs.OpenReadWrite(s.path, vfs.WriteCategoryUnspecified)
		} else {
			s.f, err = e.fs.Open(s.path)
		}
		if err != nil {
			return fmt.Errorf("file: open %s: %w", s.path, err)
		}
		e.segs = append(e.segs, s)
		if data, err = readAll(s, data); err != nil {
			return err
		}
		err = e.replay(s, data, i == 0, last)
		if errors.Is(err, errDropSegment) {
			// Only a segment that follows a sealed one, or the very first,
			// can have been cut short while being created.
			if i == 0 && seq != 1 {
				return corruptErr(s.path, 0, "the only segment has a bad header")
			}
			e.segs = e.segs[:len(e.segs)-1]
			if err := s.f.Close(); err != nil {
				return fmt.Errorf("file: close %s: %w", s.path, err)
			}
			if err := e.fs.Remove(s.path); err != nil {
				return fmt.Errorf("file: remove %s: %w", s.path, err)
			}
			if err := e.syncDir(); err != nil {
				return fmt.Errorf("file: %w", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		if last && !e.bugs.TrustPageCache {
			if err := writeBack(s, data[:min(s.size, int64(len(data)))]); err != nil {
				return err
			}
		}
	}
	if err := e.finishReplay(gap); err != nil {
		return err
	}
	if len(stale) > 0 {
		for _, seq := range stale {
			if err := e.fs.Remove(e.segPath(seq)); err != nil {
				return fmt.Errorf("file: remove obsolete segment: %w", err)
			}
		}
		if err := e.syncDir(); err != nil {
			return fmt.Errorf("file: %w", err)
		}
	}
	if len(e.segs) == 0 || e.active().sealed {
		next := uint64(1)
		if len(e.segs) > 0 {
			next = e.active().seq + 1
		}
		s, err := e.createSegment(e.headerState(next))
		if err != nil {
			return fmt.Errorf("file: %w", err)
		}
		e.segs = append(e.segs, s)
	}
	e.choosePrealloc()
	e.last.Store(e.st.lastIndex())
	return nil
}

// choosePrealloc settles whether segments are preallocated: in auto mode,
// when the files are the operating system's. A segment created before this
// is filled on its first write.
func (e *Engine) choosePrealloc() {
	switch e.p.prealloc {
	case preallocOn:
		e.prealloc = true
	case preallocOff:
		e.prealloc = false
	default:
		e.prealloc = e.active().f.Fd() != vfs.InvalidFd
	}
}

// writeBack writes the recovered bytes of the last segment over themselves
// and syncs them. After a failed fsync, Linux keeps the unwritten pages in
// the page cache marked clean: a process that opens the file later reads
// data that is not on disk and that no later sync will write. Recovery
// cannot tell such pages from durable ones, so it makes durable what it read
// before anything is acknowledged on top of it.
func writeBack(s *segment, valid []byte) error {
	if _, err := s.f.WriteAt(valid, 0); err != nil {
		return fmt.Errorf("file: write back the recovered %s: %w", s.path, err)
	}
	if err := s.f.SyncData(); err != nil {
		return fmt.Errorf("file: write back the recovered %s: sync: %w", s.path, err)
	}
	return nil
}

// readAll reads a segment into buf, reusing its space.
func readAll(s *segment, buf []byte) ([]byte, error) {
	fi, err := s.f.Stat()
	if err != nil {
		return buf, fmt.Errorf("file: stat %s: %w", s.path, err)
	}
	size := fi.Size()
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if n, err := s.f.ReadAt(buf, 0); n != len(buf) {
		return buf, fmt.Errorf("file: read %s: %d of %d bytes: %w", s.path, n, len(buf), err)
	}
	return buf, nil
}

// replay applies the frames of one segment to e.st. A torn tail of the last
// segment is cut; anything else that does not check out is corruption.
func (e *Engine) replay(s *segment, data []byte, first, last bool) error {
	h, err := decodeSegHeader(data)
	if err == nil && h.seq != s.seq {
		err = fmt.Errorf("header names segment %d", h.seq)
	}
	if err != nil {
		if last && !e.strict && findValidFrame(data, s.seq, segHeaderSize) < 0 {
			return errDropSegment
		}
		return corruptErr(s.path, 0, "%v", err)
	}
	if first {
		if h.purged.Index > h.last {
			return corruptErr(s.path, 0, "header has purge boundary %d above last index %d", h.purged.Index, h.last)
		}
		e.st = logState{purged: h.purged, base: h.last}
	} else if h.purged != e.st.purged || h.last != e.st.lastIndex() {
		return corruptErr(s.path, 0, "header records purge boundary %v and last index %d, the segments before it end with %v and %d",
			h.purged, h.last, e.st.purged, e.st.lastIndex())
	}
	off := int64(segHeaderSize)
	for {
		f, status, reason := parseFrame(data, s.seq, off)
		if status == frameOK || (status == framePayloadBad && last && e.bugs.AcceptTornRecord) {
			if err := e.apply(s, f); err != nil {
				if status == frameOK {
					return corruptErr(s.path, off, "%s frame: %v", f.kind, err)
				}
			} else {
				off = f.next
				if f.kind == kindSeal {
					s.size, s.alloc, s.sealed = off, off, true
					return nil
				}
				continue
			}
		}
		if status == frameEnd {
			if !last {
				return corruptErr(s.path, off, "segment ends without a seal but is not the last")
			}
			if off >= int64(len(data)) || allZero(data[off:]) {
				s.size, s.alloc = off, int64(len(data))
				return nil
			}
			reason = "zero frame header followed by data"
		}
		if !last {
			return corruptErr(s.path, off, "%s", reason)
		}
		if y := findValidFrame(data, s.seq, off+frameAlign); y >= 0 {
			return corruptErr(s.path, off, "%s, and a valid frame follows at offset %d", reason, y)
		}
		if e.strict {
			return corruptErr(s.path, off, "%s in the last segment of a log closed cleanly, whose every frame was synced", reason)
		}
		// A torn tail: zero it so that later appends are never followed by
		// leftover bytes.
		end := lastNonZero(data)
		if err := writeZeros(s.f, off, end, e.zeros()); err != nil {
			return fmt.Errorf("file: cut the torn tail of %s at %d: %w", s.path, off, err)
		}
		if err := s.f.SyncData(); err != nil {
			return fmt.Errorf("file: cut the torn tail of %s at %d: sync: %w", s.path, off, err)
		}
		s.size, s.alloc = off, int64(len(data))
		return nil
	}
}

// apply replays one frame onto e.st.
func (e *Engine) apply(s *segment, f frame) error {
	st := &e.st
	switch f.kind {
	case kindEntries:
		var idx []loc
		var first uint64
		err := walkEntries(f.payload, func(index uint64, off int64, n uint32) {
			if idx == nil {
				first = index
			}
			idx = append(idx, loc{off: f.off + frameHeaderSize + off, n: n, seq: uint32(s.seq)})
		})
		if err != nil {
			return err
		}
		if first <= st.purged.Index {
			return fmt.Errorf("batch starts at %d, at or below the purge boundary %d", first, st.purged.Index)
		}
		if first > st.lastIndex()+1 {
			return fmt.Errorf("batch starts at %d, the log ends at %d", first, st.lastIndex())
		}
		if first <= st.lastIndex() {
			st.truncate(first)
		}
		st.locs = append(st.locs, idx...)
	case kindTruncate:
		v, err := readU64s(f.payload, 1)
		if err != nil {
			return err
		}
		if v[0] <= st.purged.Index {
			return fmt.Errorf("truncate from %d, at or below the purge boundary %d", v[0], st.purged.Index)
		}
		if v[0] <= st.lastIndex() {
			st.truncate(v[0])
		}
	case kindPurge:
		v, err := readU64s(f.payload, 2)
		if err != nil {
			return err
		}
		st.purge(raftlog.LogID{Index: v[0], Term: v[1]})
	case kindReset:
		if len(f.payload) != 0 {
			return fmt.Errorf("reset payload of %d bytes", len(f.payload))
		}
		*st = logState{}
	case kindSeal:
		v, err := readU64s(f.payload, 1)
		if err != nil {
			return err
		}
		if v[0] != s.seq+1 {
			return fmt.Errorf("seal names next segment %d", v[0])
		}
	default:
		return fmt.Errorf("unknown frame kind %d", f.kind)
	}
	return nil
}

// finishReplay checks that every entry above the boundary was found.
func (e *Engine) finishReplay(gap string) error {
	st := &e.st
	if st.base == st.purged.Index {
		return nil
	}
	if e.bugs.ForgetPurgeBoundary {
		st.purged = raftlog.LogID{Index: st.base}
		return nil
	}
	path := e.dir
	if len(e.segs) > 0 {
		path = e.segs[0].path
	}
	if gap != "" {
		gap = " (" + gap + ")"
	}
	return corruptErr(path, 0, "entries %d..%d are in no segment%s", st.purged.Index+1, st.base, gap)
}
