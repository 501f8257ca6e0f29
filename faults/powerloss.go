package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BlockSize is the unit in which a power loss keeps or loses unsynced file
// data.
const BlockSize = 4096

// PowerLoss returns the state of mem after a power loss now: everything
// synced, and of what was not synced each 4 KiB block and directory entry
// kept with probability unsyncedPercent/100, chosen by a generator seeded
// with seed. unsyncedPercent is clamped to [0, 100]. mem must come from
// vfs.NewCrashableMem; PowerLoss returns nil for any other MemFS. mem is
// left as it was. Writes that an FS in front of mem holds in memory are not
// on mem, so they are lost here whatever unsyncedPercent says; cut the
// power with Disk.PowerLoss to count them as unsynced data.
func PowerLoss(mem *vfs.MemFS, seed uint64, unsyncedPercent int) *vfs.MemFS {
	clone, _ := powerLoss(mem, newRand(seed), unsyncedPercent)
	return clone
}

// newRand returns the generator every seeded decision in this package uses.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func powerLoss(mem *vfs.MemFS, rng *rand.Rand, unsyncedPercent int) (clone *vfs.MemFS, err error) {
	if mem == nil {
		return nil, ErrNotCrashable
	}
	defer func() {
		// CrashClone panics on a MemFS made by vfs.NewMem.
		if r := recover(); r != nil {
			clone, err = nil, fmt.Errorf("%w: %v", ErrNotCrashable, r)
		}
	}()
	pct := min(max(unsyncedPercent, 0), 100)
	return mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rng}), nil
}

// Disk is a crashable in-memory disk seen through an injector: hand FS to
// an engine, cut the power with PowerLoss, and open the engine again on the
// returned disk.
type Disk struct {
	mem *vfs.MemFS
	fs  *FS
}

// NewDisk returns an empty crashable disk seen through inj (nil: no
// faults).
func NewDisk(inj Injector) *Disk {
	mem := vfs.NewCrashableMem()
	return &Disk{mem: mem, fs: Wrap(mem, inj)}
}

// FS returns the file system to hand to an engine.
func (d *Disk) FS() *FS { return d.fs }

// Mem returns the memory file system under the injector.
func (d *Disk) Mem() *vfs.MemFS { return d.mem }

// PowerLoss returns the disk as it is after a power loss now, seen through
// inj (nil: no faults): everything synced survives, and each 4 KiB block
// and directory entry not synced survives with probability
// unsyncedPercent/100, drawn from a generator seeded with seed. Blocks that
// d's FS holds unsynced in memory count as unsynced data too, so torn writes
// happen whether or not the injector may fail a sync.
//
// The power of d stays off: every operation through d's FS fails with EIO
// from now on, and so does every one that was running when the power went,
// whatever it did, so that nothing missing from the clone is reported as
// done. The engine on d can only be closed or abandoned. d's content is
// left as it was, and PowerLoss may be called on it again to draw another
// outcome of the same cut.
//
// A seed gives one outcome when d's FS holds the unsynced data (its
// injector may fail a sync, as a Slot's does): pebble's CrashClone walks
// directories in map order while it draws, so the unsynced directory
// entries are then kept or lost all together, by one draw, and the held
// data block by block in the order of the files' names.
func (d *Disk) PowerLoss(seed uint64, unsyncedPercent int, inj Injector) (*Disk, error) {
	d.fs.off.Store(true)
	rng := newRand(seed)
	entries := unsyncedPercent
	if d.fs.hold && entries > 0 && entries < 100 {
		entries = 0
		if rng.IntN(100) < unsyncedPercent {
			entries = 100
		}
	}
	clone, err := powerLoss(d.mem, rng, entries)
	if err != nil {
		return nil, err
	}
	if unsyncedPercent > 0 {
		if err := d.fs.spill(clone, rng, min(unsyncedPercent, 100)); err != nil {
			return nil, err
		}
	}
	return &Disk{mem: clone, fs: Wrap(clone, inj)}, nil
}

// spill copies into clone, block by block with probability pct/100, the
// unsynced writes fs holds, for each file whose name survived in clone.
// Files go in the order of their names, so that a seed gives one outcome;
// each is locked on its own while it is copied.
func (fs *FS) spill(clone *vfs.MemFS, rng *rand.Rand, pct int) error {
	fs.mu.Lock()
	first := make(map[*fileState]string)
	for k, st := range fs.files {
		if name, ok := first[st]; !ok || k < name {
			first[st] = k
		}
	}
	fs.mu.Unlock()
	states := make([]*fileState, 0, len(first))
	for st := range first {
		states = append(states, st)
	}
	sort.Slice(states, func(i, j int) bool { return first[states[i]] < first[states[j]] })
	for _, st := range states {
		st.mu.Lock()
		var err error
		if st.path != "" && len(st.dirty) > 0 {
			err = st.spill(fs.fs, clone, rng, pct)
		}
		name := st.path
		st.mu.Unlock()
		if err != nil {
			return fmt.Errorf("faults: power loss of %s: %w", name, err)
		}
	}
	return nil
}

// spill copies the unsynced blocks of st kept by the draw into the file of
// the same name in clone. st.mu must be held.
func (s *fileState) spill(from vfs.FS, clone *vfs.MemFS, rng *rand.Rand, pct int) (err error) {
	if _, err := clone.Stat(s.path); err != nil {
		return nil // the directory entry did not survive
	}
	src, err := from.Open(s.path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, src.Close()) }()
	dst, err := clone.OpenReadWrite(s.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, dst.Close()) }()
	buf := make([]byte, BlockSize)
	var last int64 = -1
	for _, e := range s.dirty {
		for b := e.off / BlockSize * BlockSize; b < e.end(); b += BlockSize {
			if b <= last {
				continue
			}
			last = b
			if rng.IntN(100) >= pct {
				continue
			}
			n, err := s.readAt(buf, b, src)
			if n == 0 && err != nil {
				return err
			}
			if _, err := dst.WriteAt(buf[:n], b); err != nil {
				return err
			}
		}
	}
	return dst.Sync()
}
