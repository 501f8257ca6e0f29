package file

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// spareName is the file a preallocating engine fills with zeros, a little at
// each append, to become the next segment. It is never part of the log: open
// removes it.
const spareName = "spare.tmp"

// spareSyncStep is how much of the spare is written between two requests to
// the kernel to start writing it back (SyncTo, asynchronous where the file
// system allows it), so that the sync at rotation finds little left to do.
const spareSyncStep = 4 << 20

// spareFile is the next segment being prepared. Writer only, under wmu.
type spareFile struct {
	f      vfs.File
	filled int64 // zeros are written in [0, filled)
	synced int64 // SyncTo was asked up to here
}

func (e *Engine) sparePath() string { return e.fs.PathJoin(e.dir, spareName) }

// growSpare writes about step more bytes of zeros to the spare, creating it
// if needed. The spare is an optimization: on any error it is dropped and
// the next segment is created the slow way; the error is kept in spareErr.
func (e *Engine) growSpare(step int64) {
	if !e.prealloc {
		return
	}
	if e.spare == nil {
		f, err := e.fs.Create(e.sparePath(), vfs.WriteCategoryUnspecified)
		if err != nil {
			e.spareErr = fmt.Errorf("create %s: %w", e.sparePath(), err)
			return
		}
		e.spare = &spareFile{f: f}
	}
	sp := e.spare
	if sp.filled >= e.p.segmentSize {
		return
	}
	to := min(sp.filled+max(step, 64<<10), e.p.segmentSize)
	if err := writeZeros(sp.f, sp.filled, to, e.zeros()); err != nil {
		e.dropSpare(fmt.Errorf("write %s: %w", e.sparePath(), err))
		return
	}
	sp.filled = to
	if sp.filled-sp.synced >= spareSyncStep || sp.filled == e.p.segmentSize {
		if _, err := sp.f.SyncTo(sp.filled); err != nil {
			e.dropSpare(fmt.Errorf("sync %s: %w", e.sparePath(), err))
			return
		}
		sp.synced = sp.filled
	}
}

// dropSpare abandons the spare after err.
func (e *Engine) dropSpare(err error) {
	e.spareErr = err
	if e.spare == nil {
		return
	}
	_ = e.spare.f.Close()
	_ = e.fs.Remove(e.sparePath())
	e.spare = nil
}

// takeSpare turns a fully prepared spare into segment h.seq: the header is
// written, the file synced, renamed and the directory synced. It returns nil
// and no error when no spare is ready.
func (e *Engine) takeSpare(h segHeader) (*segment, error) {
	sp := e.spare
	if sp == nil || sp.filled < e.p.segmentSize {
		return nil, nil
	}
	e.spare = nil
	path := e.segPath(h.seq)
	err := func() error {
		if _, err := sp.f.WriteAt(encodeSegHeader(h), 0); err != nil {
			return fmt.Errorf("write %s: %w", e.sparePath(), err)
		}
		if err := e.sync(sp.f, false); err != nil {
			return fmt.Errorf("sync %s: %w", e.sparePath(), err)
		}
		if err := e.fs.Rename(e.sparePath(), path); err != nil {
			return fmt.Errorf("rename %s to %s: %w", e.sparePath(), path, err)
		}
		if !e.bugs.SkipDirSync {
			return e.syncDir()
		}
		return nil
	}()
	if err != nil {
		_ = sp.f.Close()
		return nil, err
	}
	return &segment{seq: h.seq, path: path, f: sp.f, size: segHeaderSize, alloc: e.p.segmentSize}, nil
}
