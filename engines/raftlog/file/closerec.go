package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/internal/cleanclose"
)

// checkCloseRecord reads the record of the last clean close, if any, and
// checks the files against it (see "Clean close" in the package
// documentation). It reports whether there was one; recovery is then
// strict.
func (e *Engine) checkCloseRecord() (hsSeq uint64, found bool, err error) {
	rec, found, err := cleanclose.Check(e.fs, e.dir)
	if errors.Is(err, cleanclose.ErrMismatch) {
		return 0, true, fmt.Errorf("%w: %w", raftlog.ErrCorrupt, err)
	}
	if err != nil || !found {
		return 0, false, err
	}
	if len(rec.Extra) != 8 {
		// Not a record this engine wrote: go by the files alone.
		return 0, true, nil
	}
	return binary.LittleEndian.Uint64(rec.Extra), true, nil
}

// checkHardStateSeq compares the newest hard state that checks out with
// the save the engine closed at: after a clean close the newest save was
// synced, so an older one means its slot was damaged, and serving the one
// before would let a node forget its vote.
func (e *Engine) checkHardStateSeq(closedAt uint64) error {
	if e.hsErr != nil || closedAt == 0 || e.hsSeq == closedAt {
		return nil
	}
	return corruptErr(e.fs.PathJoin(e.dir, hardStateName), 0,
		"hard state: the engine closed at save %d, the newest slot that checks out holds save %d", closedAt, e.hsSeq)
}

// writeCloseRecord leaves the record of a clean close: the size of every
// file and the number of the newest hard state save.
func (e *Engine) writeCloseRecord() error {
	files, err := cleanclose.Snapshot(e.fs, e.dir, func(rel string) bool {
		return rel == spareName || rel == hardStateTmp || strings.Contains(rel, "/")
	})
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	extra := binary.LittleEndian.AppendUint64(nil, e.hsSeq)
	if err := cleanclose.Write(e.fs, e.dir, cleanclose.Record{Files: files, Extra: extra}); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	return nil
}
