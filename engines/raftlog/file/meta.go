package file

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// The hard state lives in its own small file, replaced atomically.
const (
	hardStateName    = "hardstate"
	hardStateTmp     = "hardstate.tmp"
	hardStateMagic   = "ordealhs"
	hardStateVersion = 1
	hardStateFixed   = 8 + 4 + 4 + 8 + 8 + 8 // magic, version, candidate length, term, vote term, commit
	maxHardStateSize = 1 << 20
)

func encodeHardState(hs raftlog.HardState) []byte {
	b := make([]byte, hardStateFixed+len(hs.Vote.Candidate)+4)
	copy(b, hardStateMagic)
	binary.LittleEndian.PutUint32(b[8:], hardStateVersion)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(hs.Vote.Candidate)))
	binary.LittleEndian.PutUint64(b[16:], hs.Term)
	binary.LittleEndian.PutUint64(b[24:], hs.Vote.Term)
	binary.LittleEndian.PutUint64(b[32:], hs.Commit)
	copy(b[hardStateFixed:], hs.Vote.Candidate)
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc(b[:n]))
	return b
}

// decodeHardState returns the hard state in b, or what is wrong with it and
// the offset where.
func decodeHardState(b []byte) (raftlog.HardState, int64, string) {
	if len(b) < hardStateFixed+4 {
		return raftlog.HardState{}, int64(len(b)), fmt.Sprintf("%d bytes is too short", len(b))
	}
	if string(b[:8]) != hardStateMagic {
		return raftlog.HardState{}, 0, "bad magic number"
	}
	n := len(b) - 4
	if binary.LittleEndian.Uint32(b[n:]) != crc(b[:n]) {
		return raftlog.HardState{}, int64(n), "checksum mismatch"
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != hardStateVersion {
		return raftlog.HardState{}, 8, fmt.Sprintf("unknown version %d", v)
	}
	if l := binary.LittleEndian.Uint32(b[12:]); int64(l) != int64(n-hardStateFixed) {
		return raftlog.HardState{}, 12, fmt.Sprintf("candidate of %d bytes in %d", l, n-hardStateFixed)
	}
	return raftlog.HardState{
		Term:   binary.LittleEndian.Uint64(b[16:]),
		Vote:   raftlog.Vote{Term: binary.LittleEndian.Uint64(b[24:]), Candidate: string(b[hardStateFixed:n])},
		Commit: binary.LittleEndian.Uint64(b[32:]),
	}, 0, ""
}

// loadHardState reads the hard state file, if any. A malformed one is kept
// as the error LoadHardState returns, so the log stays readable.
func (e *Engine) loadHardState(names []string) error {
	if !slices.Contains(names, hardStateName) {
		return nil
	}
	path := e.fs.PathJoin(e.dir, hardStateName)
	f, err := e.fs.Open(path)
	if err != nil {
		return fmt.Errorf("file: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("file: stat %s: %w", path, err)
	}
	if fi.Size() > maxHardStateSize {
		e.hsErr = corruptErr(path, 0, "hard state of %d bytes is too large", fi.Size())
		return nil
	}
	b := make([]byte, fi.Size())
	if n, err := f.ReadAt(b, 0); n != len(b) {
		return fmt.Errorf("file: read %s: %w", path, err)
	}
	hs, off, reason := decodeHardState(b)
	if reason != "" {
		e.hsErr = corruptErr(path, off, "hard state: %s", reason)
		return nil
	}
	e.hs, e.hsOK = hs, true
	return nil
}

// SaveHardState writes the state to a temporary file, syncs it, renames it
// over the hard state file and syncs the directory.
func (e *Engine) SaveHardState(hs raftlog.HardState) error {
	e.hsMu.Lock()
	defer e.hsMu.Unlock()
	if err := e.writable(); err != nil {
		return err
	}
	tmp := e.fs.PathJoin(e.dir, hardStateTmp)
	path := e.fs.PathJoin(e.dir, hardStateName)
	f, err := e.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return e.fail("save hard state", fmt.Errorf("create %s: %w", tmp, err))
	}
	_, err = f.Write(encodeHardState(hs))
	if err == nil {
		err = e.sync(f, false)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return e.fail("save hard state", fmt.Errorf("write %s: %w", tmp, err))
	}
	if err := e.fs.Rename(tmp, path); err != nil {
		return e.fail("save hard state", fmt.Errorf("rename %s: %w", tmp, err))
	}
	if err := e.syncDir(); err != nil {
		return e.fail("save hard state", err)
	}
	e.hs, e.hsOK, e.hsErr = hs, true, nil
	return nil
}

// LoadHardState returns the state last saved.
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
