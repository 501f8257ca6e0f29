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
type killNemesis struct{}

func (killNemesis) Name() string { return "kill" }

func (n killNemesis) Available(t Target) error {
	_, err := processTarget(n.Name(), t)
	return err
}

func (n killNemesis) Inject(ctx context.Context, log *slog.Logger, t Target, _ *rand.Rand) (*Fault, error) {
	pt, err := processTarget(n.Name(), t)
	if err != nil {
		return nil, err
	}
	f := &Fault{Nemesis: n.Name(), Detail: "SIGKILL, then restart"}
	log.Info("nemesis", "fault", f.Detail)
	if err := pt.Signal(syscall.SIGKILL); err != nil {
		return f, err
	}
	if err := pt.Respawn(ctx); err != nil {
		return f, err
	}
	f.Restarted = true
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
