// Package logcheck holds the argument checks of raftlog.LogStore, worded
// alike for every engine: each returns nil or an error wrapping the sentinel
// the SPI prescribes (see raftlog.LogStore).
package logcheck

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Batch checks that a PersistEntries batch starts at next and is
// consecutive: raftlog.ErrNonContiguous otherwise.
func Batch(entries []raftlog.Entry, next uint64) error {
	for i := range entries {
		if want := next + uint64(i); entries[i].Index != want {
			return fmt.Errorf("%w: entry %d of the batch has index %d, want %d", raftlog.ErrNonContiguous, i, entries[i].Index, want)
		}
	}
	return nil
}

// Index checks the argument of Entry against the purge boundary and the last
// index: raftlog.ErrCompacted at or below purged, raftlog.ErrNotFound above
// last.
func Index(index, purged, last uint64) error {
	if index <= purged {
		return fmt.Errorf("%w: index %d, purged up to %d", raftlog.ErrCompacted, index, purged)
	}
	if index > last {
		return fmt.Errorf("%w: index %d, last is %d", raftlog.ErrNotFound, index, last)
	}
	return nil
}

// Range checks the arguments of Entries, which need no state:
// raftlog.ErrInvalidRange if lo == 0 or lo > hi.
func Range(lo, hi uint64) error {
	if lo == 0 || lo > hi {
		return fmt.Errorf("%w: [%d, %d]", raftlog.ErrInvalidRange, lo, hi)
	}
	return nil
}

// RangeStart checks the start of an Entries range against the purge
// boundary: raftlog.ErrCompacted at or below it.
func RangeStart(lo, purged uint64) error {
	if lo <= purged {
		return fmt.Errorf("%w: range starts at %d, purged up to %d", raftlog.ErrCompacted, lo, purged)
	}
	return nil
}

// TruncateFrom checks the argument of Truncate against the purge boundary:
// raftlog.ErrCompacted at or below it.
func TruncateFrom(from, purged uint64) error {
	if from <= purged {
		return fmt.Errorf("%w: truncate from %d, purged up to %d", raftlog.ErrCompacted, from, purged)
	}
	return nil
}
