package faults

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
)

func mountTarget(name string, t Target) (MountTarget, error) {
	mt, ok := t.(MountTarget)
	if !ok || !t.Traits().Mount {
		return nil, fmt.Errorf("%w: %s needs the engine's files on a crashable mount (lazyfs)", ErrUnavailable, name)
	}
	if !t.Traits().Persistent {
		return nil, fmt.Errorf("%w: %s needs a persistent engine", ErrUnavailable, name)
	}
	return mt, nil
}

// crashMount cuts the power of a mount between operations: the engine's
// process is killed, the mount keeps what was synced and a seeded share of
// what was not, and the engine starts again on it.
func crashMount(ctx context.Context, log *slog.Logger, mt MountTarget, rng *rand.Rand) (*Fault, error) {
	seed := rng.Uint64()
	pct := []int{0, 25, 50, 50, 75, 100}[rng.IntN(6)]
	f := &Fault{Nemesis: "crash", Detail: fmt.Sprintf("SIGKILL and power loss of the mount between operations, %d%% of unsynced blocks and entries kept, seed %d", pct, seed)}
	log.Info("nemesis", "fault", f.Detail)
	if err := mt.PowerCycle(ctx, seed, pct); err != nil {
		return f, err
	}
	f.Restarted = true
	return f, nil
}

// fsyncMount fails the next sync of a file on the mount with EIO, with
// Linux semantics. A few operations after the failure the engine's process
// is killed and started again, in half the faults after a power loss of
// the mount as well (which drops what the failed sync never wrote); in the
// other half the dropped data stays readable until a later crash, as from
// a page cache.
func fsyncMount(ctx context.Context, log *slog.Logger, mt MountTarget, rng *rand.Rand) (*Fault, error) {
	linger := rng.IntN(6)
	power := rng.IntN(2) == 0
	seed := rng.Uint64()
	before := mt.FailedSyncs()
	if err := mt.FailNextSync(1); err != nil {
		return nil, err
	}
	how := "restart"
	if power {
		how = "power loss and restart"
	}
	f := &Fault{Nemesis: "fsync", Detail: fmt.Sprintf("next sync on the mount fails with EIO; %s %d operations later", how, linger)}
	log.Info("nemesis", "fault", f.Detail, "armed", true)
	waited, after := 0, -1
	f.await = func(ctx context.Context, f *Fault) (bool, error) {
		waited++
		if after < 0 && mt.FailedSyncs() > before {
			after = 0
		}
		if after < 0 {
			if waited < awaitLimit {
				return false, nil
			}
			f.Detail += "; no sync came, fault withdrawn"
			return true, mt.FailNextSync(0)
		}
		if after++; after <= linger {
			return false, nil
		}
		f.Restarted = true
		log.Info("nemesis", "fault", how+" after the failed sync")
		if power {
			return true, mt.PowerCycle(ctx, seed, 0)
		}
		return true, mt.Restart(ctx)
	}
	return f, nil
}
