package faults

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"syscall"
)

func processTarget(name string, t Target) (ProcessTarget, error) {
	pt, ok := t.(ProcessTarget)
	if !ok || !t.Traits().Process {
		return nil, fmt.Errorf("%w: %s needs the engine in a child process", ErrUnavailable, name)
	}
	return pt, nil
}

// killNemesis kills the engine's process with SIGKILL and starts it again.
// Where the child can kill itself inside an operation (KillArmer), half
// the kills land there, at a seeded sync; the others land between
// operations, with operations of other clients in flight.
type killNemesis struct{}

func (killNemesis) Name() string { return "kill" }

func (n killNemesis) Available(t Target) error {
	if _, err := processTarget(n.Name(), t); err != nil {
		return err
	}
	if !t.Traits().Persistent {
		return fmt.Errorf("%w: %s needs a persistent engine: nothing to recover", ErrUnavailable, n.Name())
	}
	return nil
}

func (n killNemesis) Inject(ctx context.Context, log *slog.Logger, t Target, rng *rand.Rand) (*Fault, error) {
	pt, err := processTarget(n.Name(), t)
	if err != nil {
		return nil, err
	}
	if ka, ok := pt.(KillArmer); ok && ka.CanArmKill() {
		at := 1 + rng.IntN(4)
		if rng.IntN(2) == 0 {
			return armKill(ctx, log, ka, at)
		}
	}
	f := &Fault{Nemesis: n.Name(), Detail: "SIGKILL between operations, then restart"}
	log.Info("nemesis", "fault", f.Detail)
	return f, killNow(ctx, pt, f)
}

// killNow kills the child, starts it again and marks f restarted.
func killNow(ctx context.Context, pt ProcessTarget, f *Fault) error {
	if err := pt.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	if err := pt.Respawn(ctx); err != nil {
		return err
	}
	f.Restarted = true
	return nil
}

// armKill makes the child kill itself at its at-th sync from now, inside
// an operation; if no such sync comes within awaitLimit operations, the
// kill lands between operations.
func armKill(ctx context.Context, log *slog.Logger, ka KillArmer, at int) (*Fault, error) {
	f := &Fault{Nemesis: "kill", Detail: fmt.Sprintf("SIGKILL at the %d-th sync from now, inside an operation, then restart", at)}
	log.Info("nemesis", "fault", f.Detail, "armed", true)
	if err := ka.ArmKill(at); err != nil {
		return f, err
	}
	waited := 0
	f.await = func(ctx context.Context, f *Fault) (bool, error) {
		if ka.Died() {
			f.CutLast = true
			if err := ka.Respawn(ctx); err != nil {
				return true, err
			}
			f.Restarted = true
			return true, nil
		}
		if waited++; waited < awaitLimit {
			return false, nil
		}
		f.Detail += "; no sync came, killed between operations"
		return true, killNow(ctx, ka, f)
	}
	return f, nil
}

// pauseNemesis stops the engine's process with SIGSTOP for a few
// operations (which time out, their outcome unknown) and resumes it with
// SIGCONT.
type pauseNemesis struct{}

func (pauseNemesis) Name() string { return "pause" }

func (n pauseNemesis) Available(t Target) error {
	_, err := processTarget(n.Name(), t)
	return err
}

func (n pauseNemesis) Inject(ctx context.Context, log *slog.Logger, t Target, rng *rand.Rand) (*Fault, error) {
	pt, err := processTarget(n.Name(), t)
	if err != nil {
		return nil, err
	}
	ops := 1 + rng.IntN(4)
	f := &Fault{Nemesis: n.Name(), Detail: fmt.Sprintf("SIGSTOP for %d operations, then SIGCONT", ops)}
	log.Info("nemesis", "fault", f.Detail, "armed", true)
	if err := pt.Signal(syscall.SIGSTOP); err != nil {
		return f, err
	}
	waited := 0
	f.await = func(ctx context.Context, f *Fault) (bool, error) {
		if waited++; waited < ops {
			return false, nil
		}
		log.Info("nemesis", "fault", "SIGCONT")
		return true, pt.Signal(syscall.SIGCONT)
	}
	return f, nil
}
