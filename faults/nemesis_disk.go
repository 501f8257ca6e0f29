package faults

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
)

// awaitLimit is how many operations an armed fault waits to fire before it
// fires between operations (a crash) or gives up (an fsync failure).
const awaitLimit = 64

func diskTarget(name string, t Target) (DiskTarget, error) {
	dt, ok := t.(DiskTarget)
	if !ok || !t.Traits().UsesFS {
		return nil, fmt.Errorf("%w: %s needs the engine's files on an in-memory disk (Capabilities().UsesFS) or on a crashable mount (lazyfs)", ErrUnavailable, name)
	}
	if !t.Traits().Persistent {
		return nil, fmt.Errorf("%w: %s needs a persistent engine", ErrUnavailable, name)
	}
	return dt, nil
}

// crashNemesis cuts the power: the engine's disk keeps what was synced and
// a seeded share of what was not, and the engine is opened again on it.
// Half the crashes strike between operations; the other half strike inside
// one, at the n-th file-system operation from now.
type crashNemesis struct{}

func (crashNemesis) Name() string { return "crash" }

func (n crashNemesis) Available(t Target) error {
	if _, ok := t.(MountTarget); ok && t.Traits().Mount {
		_, err := mountTarget(n.Name(), t)
		return err
	}
	_, err := diskTarget(n.Name(), t)
	return err
}

func (n crashNemesis) Inject(ctx context.Context, log *slog.Logger, t Target, rng *rand.Rand) (*Fault, error) {
	if mt, err := mountTarget(n.Name(), t); err == nil {
		return crashMount(ctx, log, mt, rng)
	}
	dt, err := diskTarget(n.Name(), t)
	if err != nil {
		return nil, err
	}
	seed := rng.Uint64()
	pct := []int{0, 25, 50, 50, 75, 100}[rng.IntN(6)]
	if rng.IntN(2) == 0 {
		f := &Fault{Nemesis: n.Name(), Detail: fmt.Sprintf("power loss between operations, %d%% of unsynced blocks kept, seed %d", pct, seed)}
		log.Info("nemesis", "fault", f.Detail)
		if err := powerCycle(ctx, dt, seed, pct); err != nil {
			return f, err
		}
		f.Restarted = true
		return f, nil
	}
	// Most crash points are syncs: the moment written data is not yet
	// durable, where torn writes come from.
	after, syncs, what := 1+rng.IntN(4), true, "sync"
	if rng.IntN(4) == 0 {
		after, syncs, what = 1+rng.IntN(6), false, "file operation"
	}
	cp := &crashPoint{after: after, syncsOnly: syncs, disk: dt.Disk(), slot: dt.Slot(), seed: seed, pct: pct}
	dt.Slot().Set(cp)
	f := &Fault{Nemesis: n.Name(), Detail: fmt.Sprintf("power loss at the %d-th %s from now, %d%% of unsynced blocks kept, seed %d", after, what, pct, seed)}
	log.Info("nemesis", "fault", f.Detail, "armed", true)
	waited := 0
	f.await = func(ctx context.Context, f *Fault) (bool, error) {
		clone, fired, err := cp.result()
		if err != nil {
			dt.Slot().Set(nil)
			return true, err
		}
		if fired {
			dt.Slot().Set(nil)
			f.CutLast, f.Restarted = true, true
			log.Info("nemesis", "fault", "power lost", "during", cp.op.String())
			f.Detail += "; struck during " + cp.op.String()
			return true, dt.Reopen(ctx, clone)
		}
		if waited++; waited < awaitLimit {
			return false, nil
		}
		dt.Slot().Set(nil)
		f.Detail += "; no file operation came, power lost between operations"
		if err := powerCycle(ctx, dt, seed, pct); err != nil {
			return true, err
		}
		f.Restarted = true
		return true, nil
	}
	return f, nil
}

// powerCycle cuts the power of dt's disk now and reopens the engine.
func powerCycle(ctx context.Context, dt DiskTarget, seed uint64, pct int) error {
	clone, err := dt.Disk().PowerLoss(seed, pct, dt.Slot())
	if err != nil {
		return err
	}
	return dt.Reopen(ctx, clone)
}

// crashPoint is an injector that cuts the power at the after-th operation
// that changes the disk (create, write, sync, remove, rename, link, mkdir,
// preallocate), or the after-th sync if syncsOnly: it takes the disk as it is after a power loss at that
// instant, then fails that operation and every later one with EIO, as the
// dead machine would answer nothing.
type crashPoint struct {
	after     int
	syncsOnly bool
	disk      *Disk
	slot      *Slot
	seed      uint64
	pct       int

	mu    sync.Mutex
	seen  int
	fired bool
	op    Op
	clone *Disk
	err   error
}

var _ Injector = (*crashPoint)(nil)

func (c *crashPoint) String() string {
	return fmt.Sprintf("crashpoint(%d,%v,%d%%,%d)", c.after, c.syncsOnly, c.pct, c.seed)
}

func (c *crashPoint) MaybeError(op Op) error {
	switch op.Kind {
	case OpRead, OpOpen, OpList, OpStat, OpLock:
		c.mu.Lock()
		fired := c.fired
		c.mu.Unlock()
		if fired {
			return Inject(op, syscall.EIO, c.String())
		}
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired {
		return Inject(op, syscall.EIO, c.String())
	}
	if c.syncsOnly && op.Kind != OpSync {
		return nil
	}
	c.seen++
	if c.seen < c.after {
		return nil
	}
	c.fired, c.op = true, op
	c.clone, c.err = c.disk.PowerLoss(c.seed, c.pct, c.slot)
	return Inject(op, syscall.EIO, c.String())
}

func (c *crashPoint) result() (*Disk, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clone, c.fired, c.err
}

// fsyncNemesis fails one sync with EIO, with Linux semantics: the writes
// since the file's last good sync are dropped. The engine must report the
// error and refuse later writes; after a few more operations it is opened
// again on the same disk, which recovers what survived.
type fsyncNemesis struct{}

func (fsyncNemesis) Name() string { return "fsync" }

func (n fsyncNemesis) Available(t Target) error {
	if _, ok := t.(MountTarget); ok && t.Traits().Mount {
		_, err := mountTarget(n.Name(), t)
		return err
	}
	_, err := diskTarget(n.Name(), t)
	return err
}

func (n fsyncNemesis) Inject(ctx context.Context, log *slog.Logger, t Target, rng *rand.Rand) (*Fault, error) {
	if mt, err := mountTarget(n.Name(), t); err == nil {
		return fsyncMount(ctx, log, mt, rng)
	}
	dt, err := diskTarget(n.Name(), t)
	if err != nil {
		return nil, err
	}
	linger := rng.IntN(6)
	trig := NewTrigger(OpSync, syscall.EIO)
	trig.Arm(1)
	dt.Slot().Set(trig)
	f := &Fault{Nemesis: n.Name(), Detail: fmt.Sprintf("next sync fails with EIO; reopen %d operations later", linger)}
	log.Info("nemesis", "fault", f.Detail, "armed", true)
	waited, after := 0, -1
	f.await = func(ctx context.Context, f *Fault) (bool, error) {
		waited++
		if after < 0 && trig.Fired() > 0 {
			after = 0
		}
		if after < 0 {
			if waited < awaitLimit {
				return false, nil
			}
			trig.Disarm()
			dt.Slot().Set(nil)
			f.Detail += "; no sync came, fault withdrawn"
			return true, nil
		}
		if after++; after <= linger {
			return false, nil
		}
		dt.Slot().Set(nil)
		f.Restarted = true
		log.Info("nemesis", "fault", "reopen after the failed sync")
		return true, dt.Reopen(ctx, dt.Disk())
	}
	return f, nil
}
