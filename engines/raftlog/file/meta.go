package file

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// The hard state lives in its own file of two fixed-size slots; a save
// overwrites the slot not holding the newest state and syncs once.
const (
	hardStateName  = "hardstate"
	hardStateTmp   = "hardstate.tmp"
	hardStateMagic = "ordealhs"

	// Version 1 is the former format: the whole file is one record. It is
	// read at open only, to be rewritten as version 2.
	hardStateV1      = 1
	hardStateV1Fixed = 8 + 4 + 4 + 8 + 8 + 8 // magic, version, candidate length, term, vote term, commit
	maxHardStateV1   = 1 << 20

	// Version 2 is the slot record.
	hardStateVersion = 2
	slotFixed        = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 4 // magic, version, flags, sequence, term, vote term, commit, candidate length
	slotAlign        = 4096                          // slot sizes are multiples of this, so a torn slot leaves the other whole
	maxSlotSize      = 2 << 20

	slotHoldsState = 1 // flag: the slot holds a hard state (else: none saved yet)
)

// encodeSlot encodes a slot record with sequence number seq; a nil hs
// records that no hard state was saved.
func encodeSlot(seq uint64, hs *raftlog.HardState) []byte {
	var cand string
	if hs != nil {
		cand = hs.Vote.Candidate
	}
	b := make([]byte, slotFixed+len(cand)+4)
	copy(b, hardStateMagic)
	binary.LittleEndian.PutUint32(b[8:], hardStateVersion)
	binary.LittleEndian.PutUint64(b[16:], seq)
	if hs != nil {
		binary.LittleEndian.PutUint32(b[12:], slotHoldsState)
		binary.LittleEndian.PutUint64(b[24:], hs.Term)
		binary.LittleEndian.PutUint64(b[32:], hs.Vote.Term)
		binary.LittleEndian.PutUint64(b[40:], hs.Commit)
	}
	binary.LittleEndian.PutUint32(b[48:], uint32(len(cand)))
	copy(b[slotFixed:], cand)
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc(b[:n]))
	return b
}

// slotRecord is a decoded slot.
type slotRecord struct {
	seq uint64
	hs  raftlog.HardState
	ok  bool // hs holds a hard state
}

// decodeSlot decodes the record at the start of slot b, or says what is
// wrong with it and the offset where (within the slot).
func decodeSlot(b []byte) (slotRecord, int64, string) {
	if len(b) < slotFixed+4 {
		return slotRecord{}, int64(len(b)), fmt.Sprintf("slot of %d bytes is too short", len(b))
	}
	if string(b[:8]) != hardStateMagic {
		return slotRecord{}, 0, "bad magic number"
	}
	l := binary.LittleEndian.Uint32(b[48:])
	if int64(l) > int64(len(b)-slotFixed-4) {
		return slotRecord{}, 48, fmt.Sprintf("candidate of %d bytes in a slot of %d", l, len(b))
	}
	n := slotFixed + int(l)
	if binary.LittleEndian.Uint32(b[n:]) != crc(b[:n]) {
		return slotRecord{}, int64(n), "checksum mismatch"
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != hardStateVersion {
		return slotRecord{}, 8, fmt.Sprintf("unknown version %d", v)
	}
	r := slotRecord{seq: binary.LittleEndian.Uint64(b[16:])}
	switch flags := binary.LittleEndian.Uint32(b[12:]); flags {
	case 0:
		if l != 0 || binary.LittleEndian.Uint64(b[24:]) != 0 || binary.LittleEndian.Uint64(b[32:]) != 0 || binary.LittleEndian.Uint64(b[40:]) != 0 {
			return slotRecord{}, 12, "a record of no hard state holds one"
		}
	case slotHoldsState:
		r.ok = true
		r.hs = raftlog.HardState{
			Term:   binary.LittleEndian.Uint64(b[24:]),
			Vote:   raftlog.Vote{Term: binary.LittleEndian.Uint64(b[32:]), Candidate: string(b[slotFixed:n])},
			Commit: binary.LittleEndian.Uint64(b[40:]),
		}
	default:
		return slotRecord{}, 12, fmt.Sprintf("unknown flags %#x", flags)
	}
	return r, 0, ""
}

// decodeHardStateV1 returns the hard state of a version 1 file, or what is
// wrong with it and the offset where.
func decodeHardStateV1(b []byte) (raftlog.HardState, int64, string) {
	if len(b) < hardStateV1Fixed+4 {
		return raftlog.HardState{}, int64(len(b)), fmt.Sprintf("%d bytes is too short", len(b))
	}
	if string(b[:8]) != hardStateMagic {
		return raftlog.HardState{}, 0, "bad magic number"
	}
	n := len(b) - 4
	if binary.LittleEndian.Uint32(b[n:]) != crc(b[:n]) {
		return raftlog.HardState{}, int64(n), "checksum mismatch"
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != hardStateV1 {
		return raftlog.HardState{}, 8, fmt.Sprintf("unknown version %d", v)
	}
	if l := binary.LittleEndian.Uint32(b[12:]); int64(l) != int64(n-hardStateV1Fixed) {
		return raftlog.HardState{}, 12, fmt.Sprintf("candidate of %d bytes in %d", l, n-hardStateV1Fixed)
	}
	return raftlog.HardState{
		Term:   binary.LittleEndian.Uint64(b[16:]),
		Vote:   raftlog.Vote{Term: binary.LittleEndian.Uint64(b[24:]), Candidate: string(b[hardStateV1Fixed:n])},
		Commit: binary.LittleEndian.Uint64(b[32:]),
	}, 0, ""
}

// slotSizeFor is the smallest slot size that holds a record of n bytes.
func slotSizeFor(n int) int64 {
	return max(slotAlign, (int64(n)+slotAlign-1)/slotAlign*slotAlign)
}

// loadHardState opens the hard state file, creating it if missing and
// rewriting a version 1 file as version 2. A malformed file is kept, and
// kept as the error LoadHardState returns, so the log stays readable; the
// next SaveHardState replaces it.
func (e *Engine) loadHardState(names []string) error {
	if !slices.Contains(names, hardStateName) {
		return e.rewriteHardState(encodeSlot(0, nil))
	}
	path := e.fs.PathJoin(e.dir, hardStateName)
	b, err := e.readHardStateFile(path)
	if err != nil || b == nil {
		return err
	}
	if len(b) <= maxHardStateV1 {
		if hs, _, reason := decodeHardStateV1(b); reason == "" {
			e.hsSeq = 1
			if err := e.rewriteHardState(encodeSlot(e.hsSeq, &hs)); err != nil {
				return err
			}
			e.hs, e.hsOK = hs, true
			return nil
		}
	}
	size := int64(len(b)) / 2
	if len(b)%2 != 0 || size == 0 || size%slotAlign != 0 {
		e.hsErr = corruptErr(path, int64(len(b)), "hard state: %d bytes are not two slots of a multiple of %d bytes", len(b), slotAlign)
		return nil
	}
	var (
		best    = -1
		rec     [2]slotRecord
		offs    [2]int64
		reasons [2]string
	)
	for i := range rec {
		rec[i], offs[i], reasons[i] = decodeSlot(b[int64(i)*size : int64(i+1)*size])
		offs[i] += int64(i) * size
		if reasons[i] == "" && (best < 0 || rec[i].seq > rec[best].seq) {
			best = i
		}
	}
	if best < 0 {
		e.hsErr = corruptErr(path, offs[0], "hard state: slot 0: %s; slot 1 at offset %d: %s", reasons[0], offs[1], reasons[1])
		return nil
	}
	f, err := e.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("file: open %s: %w", path, err)
	}
	if !e.bugs.TrustPageCache {
		// What was read may be a save whose sync failed, still in the page
		// cache but not on disk (see writeBack): make it durable before
		// serving it.
		_, err := f.WriteAt(b, 0)
		if err == nil {
			err = f.SyncData()
		}
		if err != nil && !e.bugs.IgnoreWriteBackError {
			_ = f.Close()
			return fmt.Errorf("file: write back %s: %w", path, err)
		}
	}
	e.hsFile, e.hsSlotSize, e.hsCur, e.hsSeq = f, size, best, rec[best].seq
	e.hs, e.hsOK = rec[best].hs, rec[best].ok
	return nil
}

// readHardStateFile reads the hard state file whole. A file too large to be
// one is recorded as corrupt, and nil returned.
func (e *Engine) readHardStateFile(path string) ([]byte, error) {
	f, err := e.fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("file: stat %s: %w", path, err)
	}
	if fi.Size() > 2*maxSlotSize {
		e.hsErr = corruptErr(path, 0, "hard state of %d bytes is too large", fi.Size())
		return nil, nil
	}
	b := make([]byte, fi.Size())
	if n, err := f.ReadAt(b, 0); n != len(b) {
		return nil, fmt.Errorf("file: read %s: %w", path, err)
	}
	return b, nil
}

// rewriteHardState replaces the hard state file with a new one holding rec
// in its first slot and zeros in the second, durably: it writes
// hardstate.tmp, syncs it, renames it over hardstate and syncs the
// directory. The open file becomes the engine's hard state file.
func (e *Engine) rewriteHardState(rec []byte) error {
	size := slotSizeFor(len(rec))
	tmp := e.fs.PathJoin(e.dir, hardStateTmp)
	path := e.fs.PathJoin(e.dir, hardStateName)
	f, err := e.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	err = func() error {
		b := make([]byte, 2*size)
		copy(b, rec)
		if _, err := f.WriteAt(b, 0); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
		if err := e.sync(f, false); err != nil {
			return fmt.Errorf("sync %s: %w", tmp, err)
		}
		if err := e.fs.Rename(tmp, path); err != nil {
			return fmt.Errorf("rename %s: %w", tmp, err)
		}
		return e.syncDir()
	}()
	if err != nil {
		_ = f.Close()
		return err
	}
	if e.hsFile != nil {
		_ = e.hsFile.Close()
	}
	e.hsFile, e.hsSlotSize, e.hsCur = f, size, 0
	return nil
}

// SaveHardState writes the state to the slot not holding the newest one
// and syncs it (fdatasync). A file that is malformed, or whose slots are
// too small for the state, is replaced whole.
func (e *Engine) SaveHardState(hs raftlog.HardState) error {
	e.hsMu.Lock()
	defer e.hsMu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	rec := encodeSlot(e.hsSeq+1, &hs)
	if len(rec) > maxSlotSize {
		return fmt.Errorf("file: save hard state: %w: candidate of %d bytes", ErrHardStateTooLarge, len(hs.Vote.Candidate))
	}
	if e.hsFile == nil || int64(len(rec)) > e.hsSlotSize {
		if err := e.rewriteHardState(rec); err != nil {
			return e.fail("save hard state", err)
		}
	} else {
		slot := 1 - e.hsCur
		_, err := e.hsFile.WriteAt(rec, int64(slot)*e.hsSlotSize)
		if err == nil {
			err = e.sync(e.hsFile, false)
		}
		if err != nil {
			return e.fail("save hard state", fmt.Errorf("write %s slot %d: %w", hardStateName, slot, err))
		}
		e.hsCur = slot
	}
	e.hsSeq++
	e.hs, e.hsOK, e.hsErr = hs, true, nil
	return nil
}

// LoadHardState returns the state last saved, without I/O.
func (e *Engine) LoadHardState() (raftlog.HardState, bool, error) {
	e.hsMu.Lock()
	defer e.hsMu.Unlock()
	e.mu.RLock()
	closed := e.closed
	e.mu.RUnlock()
	if closed {
		return raftlog.HardState{}, false, raftlog.ErrClosed
	}
	if e.hsErr != nil {
		return raftlog.HardState{}, false, e.hsErr
	}
	return e.hs, e.hsOK, nil
}
