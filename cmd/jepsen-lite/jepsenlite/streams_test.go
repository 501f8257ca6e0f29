package jepsenlite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// streamsSeeds is how many seeds the streams runs try: a few, or 50 with
// ORDEAL_LONG=1.
func streamsSeeds() uint64 {
	if os.Getenv("ORDEAL_LONG") == "1" {
		return 50
	}
	return 3
}

func streamsConfig(engine string, seed uint64, nemeses ...string) Config {
	return Config{Engine: engine, Nemeses: nemeses, Seed: seed, Ops: 300, Clients: 3, OpTimeout: 20 * time.Second, CheckTimeout: 30 * time.Second}
}

func TestStreamsAcidPassesKills(t *testing.T) {
	for seed := uint64(1); seed <= streamsSeeds(); seed++ {
		res, err := RunStreams(context.Background(), streamsConfig("streams/acid", seed, "kill"))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if res.Verdict != linearizability.Ok || res.Faults == 0 {
			t.Errorf("seed %d: %v after %d faults: %s %v", seed, res.Verdict, res.Faults, res.Check.Reason, res.History.Failures)
		}
	}
}

func TestStreamsAcidPassesLazyfsCrashes(t *testing.T) {
	if err := lazyAvailable(); err != nil {
		t.Skip(err)
	}
	for seed := uint64(1); seed <= streamsSeeds(); seed++ {
		res, err := RunStreams(context.Background(), streamsConfig("streams/acid", seed, "crash", "kill"))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if res.Verdict != linearizability.Ok || res.Faults == 0 {
			t.Errorf("seed %d: %v after %d faults: %s %v", seed, res.Verdict, res.Faults, res.Check.Reason, res.History.Failures)
		}
	}
}

// caught runs engine over up to budget seeds and reports the first seed
// whose verdict is Illegal, or 0.
func caught(t *testing.T, engine string, budget uint64, nemeses ...string) uint64 {
	t.Helper()
	for seed := uint64(1); seed <= budget; seed++ {
		res, err := RunStreams(context.Background(), streamsConfig(engine, seed, nemeses...))
		if err != nil {
			t.Fatalf("%s seed %d: %v", engine, seed, err)
		}
		if res.Verdict == linearizability.Illegal {
			return seed
		}
	}
	return 0
}

func TestStreamsMutantsCaught(t *testing.T) {
	if seed := caught(t, "streams/mutant/producer-state-outside-txn", 5, "kill"); seed == 0 {
		t.Error("producer-state-outside-txn passed 5 seeds under kill")
	}
	if seed := caught(t, "streams/mutant/fork-read-past-offset", 5); seed == 0 {
		t.Error("fork-read-past-offset passed 5 seeds")
	}
	if err := lazyAvailable(); err != nil {
		t.Log("no lazyfs, crash not tried:", err)
		return
	}
	if seed := caught(t, "streams/mutant/producer-state-outside-txn", 5, "crash"); seed == 0 {
		t.Error("producer-state-outside-txn passed 5 seeds under lazyfs crashes")
	}
}

func TestStreamsRefusals(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want error
	}{
		{streamsConfig("streams/acid", 1, "pause"), ErrUsage},
		{streamsConfig("streams/memory", 1, "kill"), ErrSetup},
		{streamsConfig("streams/nope", 1), ErrSetup},
	} {
		if _, err := RunStreams(context.Background(), c.cfg); !errors.Is(err, c.want) {
			t.Errorf("%s %v: %v, want %v", c.cfg.Engine, c.cfg.Nemeses, err, c.want)
		}
	}
}

func TestStreamsCommandLine(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := MainIO([]string{"run", "--engine", "streams/acid", "--nemesis", "kill", "--ops", "200", "--seed", "4", "--out", out}, nil, &stdout, &stderr)
	if code != ExitPass {
		t.Fatalf("run: exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], "replay     jepsen-lite run --engine streams/acid --nemesis kill") {
		t.Errorf("summary does not end with the replay command: %q", stdout.String())
	}
	for _, f := range []string{"history.json", "verdict.json", "summary.txt", "timeline.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	stdout.Reset()
	if code := MainIO([]string{"check", "--timeline=false", out}, nil, &stdout, &stderr); code != ExitPass {
		t.Errorf("check: exit %d: %s", code, stdout.String())
	}
	if code := MainIO([]string{"run", "--engine", "streams/mutant/fork-read-past-offset", "--ops", "300", "--seed", "1"}, nil, &stdout, &stderr); code != ExitViolation {
		t.Errorf("mutant run: exit %d, want %d", code, ExitViolation)
	}
	if code := MainIO([]string{"run", "--engine", "streams/acid", "--nemesis", "fsync"}, nil, &stdout, &stderr); code != ExitUsage {
		t.Errorf("fsync nemesis: exit %d, want %d", code, ExitUsage)
	}
	stdout.Reset()
	if code := MainIO([]string{"list"}, nil, &stdout, &stderr); code != ExitPass {
		t.Errorf("list: exit %d", code)
	}
	for _, want := range []string{"streams/acid", "streams/mutant/producer-state-outside-txn"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("list does not name %s", want)
		}
	}
}
