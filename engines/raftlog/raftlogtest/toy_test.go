package raftlogtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
	durablefs "github.com/ordeal-dev/ordeal/internal/durable"
)

// toyEngine is a small persistent engine for the suite's own tests: it keeps
// the whole state in one file, rewritten through Options.FS on every
// mutation (write a temporary file, sync it, rename it over the state, sync
// the directory). With no bugs set it keeps the contract; each bug breaks
// one promise, so that the suite's tests can show which case catches it
// without depending on the engines under test.

type toyEngine struct {
	fs   vfs.FS
	dir  string
	bugs toyBugs

	mu     sync.RWMutex
	m      *model
	hs     raftlog.HardState
	hsSet  bool
	closed bool
	failed bool
	saved  bool // the state file was saved once, and the marker with it
}

type toyBugs struct {
	skipSync          bool // never syncs the state file
	skipDirSync       bool // never syncs the directory after the rename
	retrySync         bool // retries a failed sync and acknowledges
	noFailedState     bool // reports a failed save but carries on as if nothing happened
	offByOneEntries   bool // Entries returns lo+1..hi+1
	staleTruncate     bool // Truncate leaves LastIndex where it was
	keepCallerData    bool // stores the caller's Data slices
	forgetPurge       bool // does not save the purge boundary
	volatileTruncate  bool // Truncate changes memory but not the file
	entryNotFoundZero bool // Entry below the boundary reports ErrNotFound
	plainMkdir        bool // creates its directory without syncing the parent
	trustPageCache    bool // serves the state file as read at open, without writing it back
	ignoreWriteBack   bool // serves the state file read at open though writing it back failed

	// flushOnly is a mode, not a bug: mutations are saved at Flush only,
	// and the engine declares SyncOnWrite false.
	flushOnly bool
}

var (
	_ raftlog.Engine    = (*toyEngine)(nil)
	_ raftlog.LogStore  = (*toyEngine)(nil)
	_ raftlog.MetaStore = (*toyEngine)(nil)
)

type toyState struct {
	Purged raftlog.LogID
	Ents   []raftlog.Entry
	HS     raftlog.HardState
	HSSet  bool
}

// encodeToy writes the state as varints and length-prefixed bytes.
func encodeToy(st toyState) []byte {
	var b []byte
	u := func(v uint64) { b = binary.AppendUvarint(b, v) }
	bs := func(p []byte) { u(uint64(len(p))); b = append(b, p...) }
	u(st.Purged.Index)
	u(st.Purged.Term)
	hsSet := uint64(0)
	if st.HSSet {
		hsSet = 1
	}
	u(hsSet)
	u(st.HS.Term)
	u(st.HS.Vote.Term)
	bs([]byte(st.HS.Vote.Candidate))
	u(st.HS.Commit)
	u(uint64(len(st.Ents)))
	for _, e := range st.Ents {
		u(e.Index)
		u(e.Term)
		u(uint64(e.Type))
		bs(e.Data)
	}
	return b
}

var errToyShort = errors.New("toy: state file too short")

// decodeToy reads what encodeToy wrote.
func decodeToy(b []byte) (toyState, error) {
	var st toyState
	var bad bool
	u := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	bs := func() []byte {
		n := u()
		if bad || n > uint64(len(b)) {
			bad = true
			return nil
		}
		p := bytes.Clone(b[:n])
		b = b[n:]
		return p
	}
	st.Purged.Index, st.Purged.Term = u(), u()
	st.HSSet = u() == 1
	st.HS.Term, st.HS.Vote.Term = u(), u()
	st.HS.Vote.Candidate = string(bs())
	st.HS.Commit = u()
	n := u()
	for i := uint64(0); i < n && !bad; i++ {
		e := raftlog.Entry{Index: u(), Term: u(), Type: raftlog.EntryType(u())}
		e.Data = bs()
		st.Ents = append(st.Ents, e)
	}
	if bad {
		return toyState{}, errToyShort
	}
	return st, nil
}

func openToy(o raftlog.Options, bugs toyBugs) (*toyEngine, error) {
	e := &toyEngine{fs: o.FSOrDefault(), dir: o.Dir, bugs: bugs, m: &model{}}
	mkdir := func() error { return durablefs.MkdirAll(e.fs, o.Dir, 0o755) }
	if bugs.plainMkdir {
		mkdir = func() error { return e.fs.MkdirAll(o.Dir, 0o755) }
	}
	if err := mkdir(); err != nil {
		return nil, err
	}
	f, err := e.fs.Open(e.fs.PathJoin(o.Dir, "state"))
	if err != nil {
		if _, serr := e.fs.Stat(e.fs.PathJoin(o.Dir, "saved")); serr == nil {
			return nil, fmt.Errorf("%w: the state file is gone but was saved", raftlog.ErrCorrupt)
		}
		return e, nil // a new engine
	}
	e.saved = true
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	if len(b) < 4 || crc32.ChecksumIEEE(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: state file fails its checksum", raftlog.ErrCorrupt)
	}
	st, err := decodeToy(b[:len(b)-4])
	if err != nil {
		return nil, fmt.Errorf("%w: state file: %v", raftlog.ErrCorrupt, err)
	}
	e.m = &model{purged: st.Purged, ents: st.Ents}
	e.hs, e.hsSet = st.HS, st.HSSet
	if !bugs.trustPageCache {
		// What was read may be in the page cache only (a process killed
		// before its sync): make it durable before serving it.
		if err := e.save(e.m, e.hs, e.hsSet); err != nil && !bugs.ignoreWriteBack {
			return nil, fmt.Errorf("toy: write back the state: %w", err)
		}
	}
	return e, nil
}

func (e *toyEngine) Log() raftlog.LogStore   { return e }
func (e *toyEngine) Meta() raftlog.MetaStore { return e }
func (e *toyEngine) Capabilities() raftlog.Capabilities {
	return raftlog.Capabilities{Persistent: true, SyncOnWrite: !e.bugs.flushOnly, UsesFS: true}
}

func (e *toyEngine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	e.closed = true
	return nil
}

func (e *toyEngine) save(m *model, hs raftlog.HardState, hsSet bool) error {
	if e.bugs.forgetPurge {
		m = &model{ents: m.ents}
	}
	b := encodeToy(toyState{Purged: m.purged, Ents: m.ents, HS: hs, HSSet: hsSet})
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	tmp, final := e.fs.PathJoin(e.dir, "state.tmp"), e.fs.PathJoin(e.dir, "state")
	f, err := e.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if !e.bugs.skipSync {
		if err := f.Sync(); err != nil {
			if !e.bugs.retrySync {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := e.fs.Rename(tmp, final); err != nil {
		return err
	}
	if e.bugs.skipDirSync {
		return nil
	}
	d, err := e.fs.OpenDir(e.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.Sync()
	if err != nil && e.bugs.retrySync {
		err = d.Sync()
	}
	if err != nil || e.saved {
		return err
	}
	// Mark the directory as holding a state, once the state is durable, so
	// that a state file deleted later is told from one never saved.
	mark, err := e.fs.Create(e.fs.PathJoin(e.dir, "saved"), vfs.WriteCategoryUnspecified)
	if err == nil {
		err = mark.Close()
	}
	if err == nil {
		err = d.Sync()
	}
	e.saved = err == nil
	return err
}

// mutate applies f to a copy of the log and saves it; the copy replaces the
// log only once it is saved.
func (e *toyEngine) mutate(f func(m *model) error, persistIt bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return raftlog.ErrClosed
	}
	if e.failed {
		return raftlog.ErrFailed
	}
	next := e.m.clone()
	if err := f(next); err != nil {
		return err
	}
	if persistIt && !e.bugs.flushOnly {
		if err := e.save(next, e.hs, e.hsSet); err != nil {
			if !e.bugs.noFailedState {
				e.failed = true
			}
			return fmt.Errorf("toy: save: %w", err)
		}
	}
	e.m = next
	return nil
}

func (e *toyEngine) PersistEntries(b []raftlog.Entry) error {
	if len(b) == 0 {
		return nil
	}
	return e.mutate(func(m *model) error {
		if e.bugs.keepCallerData {
			for i, ent := range b {
				if ent.Index != m.last()+1+uint64(i) {
					return raftlog.ErrNonContiguous
				}
			}
			m.ents = append(m.ents, b...)
			return nil
		}
		return m.persist(b)
	}, true)
}

func (e *toyEngine) Purge(id raftlog.LogID) error {
	return e.mutate(func(m *model) error { m.purge(id); return nil }, true)
}

func (e *toyEngine) Truncate(from uint64) error {
	return e.mutate(func(m *model) error {
		if e.bugs.staleTruncate && from > m.purged.Index && from <= m.last() {
			// Removes the entries' content but keeps the count.
			for i := from; i <= m.last(); i++ {
				m.ents[i-m.purged.Index-1] = raftlog.Entry{Index: i}
			}
			return nil
		}
		return m.truncate(from)
	}, !e.bugs.volatileTruncate)
}

func (e *toyEngine) Reset() error {
	return e.mutate(func(m *model) error { m.reset(); return nil }, true)
}

func (e *toyEngine) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return raftlog.ErrClosed
	case e.failed:
		return raftlog.ErrFailed
	case !e.bugs.flushOnly:
		return nil
	}
	if err := e.save(e.m, e.hs, e.hsSet); err != nil {
		if !e.bugs.noFailedState {
			e.failed = true
		}
		return fmt.Errorf("toy: flush: %w", err)
	}
	return nil
}

func (e *toyEngine) Entry(i uint64) (raftlog.Entry, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.Entry{}, raftlog.ErrClosed
	}
	if i <= e.m.purged.Index {
		if e.bugs.entryNotFoundZero {
			return raftlog.Entry{}, raftlog.ErrNotFound
		}
		return raftlog.Entry{}, fmt.Errorf("%w: %d", raftlog.ErrCompacted, i)
	}
	ent, ok := e.m.entry(i)
	if !ok {
		return raftlog.Entry{}, fmt.Errorf("%w: %d", raftlog.ErrNotFound, i)
	}
	ent.Data = bytes.Clone(ent.Data)
	return ent, nil
}

func (e *toyEngine) Entries(lo, hi uint64) ([]raftlog.Entry, error) {
	if lo == 0 || lo > hi {
		return nil, raftlog.ErrInvalidRange
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, raftlog.ErrClosed
	}
	if lo <= e.m.purged.Index {
		return nil, raftlog.ErrCompacted
	}
	if e.bugs.offByOneEntries {
		lo, hi = lo+1, hi+1
	}
	var out []raftlog.Entry
	for i := lo; i <= min(hi, e.m.last()); i++ {
		ent, _ := e.m.entry(i)
		ent.Data = bytes.Clone(ent.Data)
		out = append(out, ent)
	}
	return out, nil
}

func (e *toyEngine) FirstIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.m.first()
}

func (e *toyEngine) LastIndex() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.m.last()
}

func (e *toyEngine) PurgedID() raftlog.LogID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.m.purged
}

func (e *toyEngine) SaveHardState(hs raftlog.HardState) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return raftlog.ErrClosed
	case e.failed:
		return raftlog.ErrFailed
	}
	if e.bugs.flushOnly {
		e.hs, e.hsSet = hs, true
		return nil
	}
	if err := e.save(e.m, hs, true); err != nil {
		if !e.bugs.noFailedState {
			e.failed = true
		}
		return fmt.Errorf("toy: save: %w", err)
	}
	e.hs, e.hsSet = hs, true
	return nil
}

func (e *toyEngine) LoadHardState() (raftlog.HardState, bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return raftlog.HardState{}, false, raftlog.ErrClosed
	}
	return e.hs, e.hsSet, nil
}

// toyHarness is the harness of a toy engine with bugs. When the suite hands
// it the operating system's file system, it keeps the files in memory
// instead, one file system per directory, so that the suite's own tests do
// not wait on the disk.
func toyHarness(name string, bugs toyBugs) Harness {
	var mu sync.Mutex
	mems := map[string]*vfs.MemFS{}
	return Harness{
		Name: name,
		Open: func(o raftlog.Options) (raftlog.Engine, error) {
			if err := raftlog.CheckParams("toy", o.Params); err != nil {
				return nil, err
			}
			if o.FSOrDefault() == vfs.Default && strings.HasPrefix(filepath.Base(o.Dir), "raftlogtest-") {
				mu.Lock()
				if mems[o.Dir] == nil {
					mems[o.Dir] = vfs.NewMem()
				}
				o.FS = mems[o.Dir]
				mu.Unlock()
			}
			return openToy(o, bugs)
		},
		MetaFiles: "state",
	}
}
