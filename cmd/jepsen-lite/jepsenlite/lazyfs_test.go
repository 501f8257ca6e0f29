package jepsenlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	"github.com/ordeal-dev/ordeal/engines/raftlog/peers"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// needLazyfs skips the test where lazyfs cannot mount, saying why.
func needLazyfs(t testing.TB) {
	t.Helper()
	if err := lazyAvailable(); err != nil {
		t.Skipf("crash and fsync of an engine that writes around Options.FS need lazyfs: %v", err)
	}
}

// seedsFor is short seeds in the default run, long with ORDEAL_LONG=1.
func seedsFor(short, long int) int {
	if os.Getenv("ORDEAL_LONG") == "1" {
		return long
	}
	return short
}

// TestLazyfsBboltPasses: the bbolt engine, which syncs every transaction,
// survives power losses of its mount and failed fsyncs: every run is
// linearizable and durable, and every run crashed the engine.
func TestLazyfsBboltPasses(t *testing.T) {
	needLazyfs(t)
	for _, tc := range []struct {
		nemeses     []string
		short, long int
	}{
		{[]string{"crash"}, 3, 50},
		{[]string{"fsync"}, 2, 20},
		{[]string{"crash", "fsync", "kill", "pause"}, 1, 10},
	} {
		name := strings.Join(tc.nemeses, ",")
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			n := seedsFor(tc.short, tc.long)
			for seed := uint64(1); seed <= uint64(n); seed++ {
				res := run(t, Config{Engine: "bbolt", Nemeses: tc.nemeses, Seed: seed, Ops: 1000})
				if len(res.Used) != len(tc.nemeses) {
					t.Fatalf("seed %d: nemeses used %v, skipped %v, want all of %v", seed, res.Used, res.Skipped, tc.nemeses)
				}
				if res.Crashes == 0 {
					t.Errorf("seed %d: no crash or restart in %d faults", seed, res.Faults)
				}
				if res.Verdict != linearizability.Ok {
					t.Errorf("seed %d: %v: %s\nreplay: %s", seed, res.Verdict, firstLine(res.Check.Reason), res.Command)
				}
			}
			t.Logf("bbolt x %s on lazyfs: %d seeds in %v", name, n, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestLazyfsFaultWindows: the faults on the mount are recorded with what
// was done, and the crash is an operation of the history.
func TestLazyfsFaultWindows(t *testing.T) {
	needLazyfs(t)
	res := run(t, Config{Engine: "bbolt", Nemeses: []string{"crash", "fsync"}, Seed: 5, Ops: 600})
	var crash, fsync bool
	for _, w := range res.History.Faults {
		crash = crash || w.Nemesis == "crash" && strings.Contains(w.Detail, "power loss of the mount")
		fsync = fsync || w.Nemesis == "fsync" && strings.Contains(w.Detail, "sync on the mount fails")
		if w.End <= w.Start {
			t.Errorf("fault window %+v does not end after it starts", w)
		}
	}
	if !crash || !fsync {
		t.Errorf("want crash and fsync windows on the mount, got %+v", res.History.Faults)
	}
}

// TestLazyfsCatchesUnsyncedBbolt: bbolt with nosync, which the engine
// documents as possibly damaged by a power loss before Flush, is reported
// within a few seeds.
func TestLazyfsCatchesUnsyncedBbolt(t *testing.T) {
	needLazyfs(t)
	const budget = 5
	for seed := uint64(1); seed <= budget; seed++ {
		res := run(t, Config{Engine: "bbolt", Params: map[string]string{"nosync": "true"}, Nemeses: []string{"crash"}, Seed: seed, Ops: 1000})
		if res.Verdict == linearizability.Illegal {
			t.Logf("caught at seed %d: %s", seed, firstLine(res.Check.Reason))
			return
		}
	}
	t.Fatalf("bbolt nosync=true survived %d crash seeds on lazyfs", budget)
}

// TestLazyfsPeers runs the peer engines under power losses and failed
// syncs of their mount. Their findings are logged with the replay command,
// and the evidence kept in $TMPDIR/jepsen-lite-peer-findings, not failed:
// they are upstream code. What is asserted is that the faults reached them.
//
// Known peer findings (ops 1000, seeds 1 to 3):
//   - raft-boltdb x crash: seeds 2 and 3 lose the whole log and hard
//     state at the first power loss. The adapter opens raft-boltdb, which
//     creates raft.db and never syncs its directory, so the file's name is
//     not durable (ordeal's own bbolt engine syncs it).
//   - raft-boltdb x fsync: seeds 1 to 3 Illegal.
//   - raft-wal x fsync: seed 1 Illegal; raft-wal x crash passes.
func TestLazyfsPeers(t *testing.T) {
	needLazyfs(t)
	n := seedsFor(3, 10)
	for _, engine := range []string{peers.BoltDB, peers.WAL} {
		for _, nem := range []string{"crash", "fsync"} {
			t.Run(engine+"/"+nem, func(t *testing.T) {
				ok := 0
				for seed := uint64(1); seed <= uint64(n); seed++ {
					out := filepath.Join(os.TempDir(), "jepsen-lite-peer-findings", engine, nem, fmt.Sprintf("seed-%d", seed))
					if err := os.RemoveAll(out); err != nil {
						t.Fatal(err)
					}
					res := run(t, Config{Engine: engine, Nemeses: []string{nem}, Seed: seed, Ops: 1000, Out: out, OnlyFailures: true})
					if res.Faults == 0 || len(res.Used) != 1 {
						t.Errorf("seed %d: no %s fault reached %s (used %v, skipped %v)", seed, nem, engine, res.Used, res.Skipped)
					}
					if res.Verdict == linearizability.Ok {
						ok++
						continue
					}
					t.Logf("peer finding: %s x %s seed %d: %v: %s\nevidence: %s\nreplay: %s", engine, nem, seed, res.Verdict, firstLine(res.Check.Reason), out, res.Command)
				}
				t.Logf("%s x %s on lazyfs: %d of %d seeds pass", engine, nem, ok, n)
			})
		}
	}
}

// TestLazyfsUnavailable: where lazyfs cannot mount, a run that needs it is
// a setup error (exit code 2) that says why.
func TestLazyfsUnavailable(t *testing.T) {
	saved := lazyAvailable
	t.Cleanup(func() { lazyAvailable = saved })
	why := fmt.Errorf("%w: needs root for mount(2), euid is 1000", lazyfs.ErrUnavailable)
	lazyAvailable = func() error { return why }

	_, err := Run(context.Background(), Config{Engine: "bbolt", Nemeses: []string{"crash"}, Ops: 100})
	if !errors.Is(err, ErrSetup) || !errors.Is(err, faults.ErrUnavailable) || !errors.Is(err, lazyfs.ErrUnavailable) {
		t.Fatalf("run without lazyfs: %v, want ErrSetup, faults.ErrUnavailable and lazyfs.ErrUnavailable", err)
	}
	var stdout, stderr bytes.Buffer
	if code := MainIO([]string{"run", "--engine", "bbolt", "--nemesis", "fsync", "--ops", "100"}, nil, &stdout, &stderr); code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(stderr.String(), "euid is 1000") {
		t.Errorf("stderr does not say why: %q", stderr.String())
	}
	// Kill and pause need no mount.
	res := run(t, Config{Engine: "bbolt", Nemeses: []string{"kill"}, Ops: 200})
	if res.Verdict != linearizability.Ok {
		t.Errorf("bbolt x kill without lazyfs: %v", res.Verdict)
	}
	stdout.Reset()
	if code := MainIO([]string{"list"}, nil, &stdout, &stderr); code != ExitPass {
		t.Fatalf("list: exit %d", code)
	}
	if !strings.Contains(stdout.String(), "unavailable here") || !strings.Contains(stdout.String(), "needs lazyfs") {
		t.Errorf("list does not say that lazyfs is unavailable:\n%s", stdout.String())
	}
}

// TestListAvailability: list says where each nemesis acts on each engine.
func TestListAvailability(t *testing.T) {
	av, err := Availability("bbolt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(av["crash"], "lazyfs") || !strings.Contains(av["kill"], "child process") {
		t.Errorf("bbolt: %v", av)
	}
	av, err = Availability("memory", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(av["crash"], "not persistent") {
		t.Errorf("memory: %v", av)
	}
	av, err = Availability("file", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(av["fsync"], "in-memory disk") {
		t.Errorf("file: %v", av)
	}
	var stdout, stderr bytes.Buffer
	if code := MainIO([]string{"list"}, nil, &stdout, &stderr); code != ExitPass {
		t.Fatalf("list: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"nemeses by engine", "raftlog/bbolt", "raftlog/raft-wal", "crash,fsync", "family adapter", "adapter/segment",
		"family streams", "streams/acid", "streams/mutant/fork-read-past-offset", "adapter/mutant/ack-before-sync", "raftlog/mutant/ack-before-fsync"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("list output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestAdapterTrustPageCache: the segment engine made durable what it read
// at open only after the release campaign found it losing records on
// lazyfs (a failed fsync leaves the lost writes readable in the page
// cache); the planted bug that skips the write-back is caught there, and
// the engine passes the same seeds.
func TestAdapterTrustPageCache(t *testing.T) {
	needLazyfs(t)
	for _, tc := range []struct {
		engine string
		want   linearizability.Verdict
	}{
		{"adapter/mutant/trust-page-cache", linearizability.Illegal},
		{"adapter/segment", linearizability.Ok},
	} {
		res := run(t, Config{Engine: tc.engine, Nemeses: []string{"fsync"}, Target: "lazyfs", Seed: 1, Ops: 1000})
		if res.Verdict != tc.want {
			t.Errorf("%s x fsync on lazyfs, seed 1: %v (%s), want %v\nreplay: %s", tc.engine, res.Verdict, res.Reason, tc.want, res.Command)
		}
	}
}
