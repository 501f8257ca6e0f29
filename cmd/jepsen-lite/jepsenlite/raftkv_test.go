package jepsenlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/kvmodel"
)

// The nodes of a raftkv cluster are this test binary, serving as
// jepsen-lite (see TestMain).
func init() { raftkvNodeEnv = []string{"ORDEAL_TEST_JEPSEN_LITE=1"} }

// windows counts a history's fault windows by nemesis.
func windows(h *History) map[string]int {
	out := map[string]int{}
	for _, w := range h.Faults {
		out[w.Nemesis]++
	}
	return out
}

// TestRaftkvFileOk: a 3-node cluster on raftlog/file passes under kill,
// pause and partition, each fault took effect, the leader of each term is
// on the timeline, and check reproduces the verdict from the run's files.
func TestRaftkvFileOk(t *testing.T) {
	for _, nem := range []string{"kill", "pause", "partition"} {
		for seed := range uint64(seedsFor(2, 5)) {
			t.Run(fmt.Sprintf("%s/seed-%d", nem, seed+1), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "run")
				res := run(t, Config{Engine: "raftkv/file", Nemeses: []string{nem}, Seed: seed + 1, Ops: 150, Out: out})
				if res.Verdict != linearizability.Ok {
					t.Fatalf("%v: %s\n%s", res.Verdict, res.Reason, strings.Join(res.History.Failures, "\n"))
				}
				w := windows(res.History)
				if res.Struck == 0 || w[nem] == 0 || w["leader"] == 0 {
					t.Errorf("struck %d, windows %v", res.Struck, w)
				}
				if nem != "partition" && w["node"] == 0 {
					t.Errorf("no window names the node %s hit: %v", nem, w)
				}
				code, stdout, stderr := mainRun(t, "check", "--timeline=false", out)
				if code != ExitPass || !strings.Contains(stdout, fmt.Sprintf("(%d ops,", len(res.History.Ops))) {
					t.Errorf("check exit %d: %s%s", code, stdout, stderr)
				}
			})
		}
	}
}

// TestRaftkvMutantCaught: a raftlog mutant that acknowledges appends it
// never synced is caught at the cluster level: a power loss of its nodes
// leaves them unable to recover, or loses acknowledged writes.
func TestRaftkvMutantCaught(t *testing.T) {
	needLazyfs(t)
	res := run(t, Config{Engine: "raftkv/mutant/ack-before-fsync", Nemeses: []string{"crash"}, Seed: 1, Ops: 300})
	if res.Verdict != linearizability.Illegal {
		t.Fatalf("%v: %s", res.Verdict, res.Reason)
	}
	if w := windows(res.History); w["node"] == 0 {
		t.Errorf("no window names the nodes that lost power: %v", w)
	}
}

// TestRaftkvReferenceCrash: the reference file store passes power losses
// of one node up to all of them.
func TestRaftkvReferenceCrash(t *testing.T) {
	needLazyfs(t)
	res := run(t, Config{Engine: "raftkv/file", Nemeses: []string{"crash"}, Seed: 2, Ops: 200})
	if res.Verdict != linearizability.Ok || res.Crashes == 0 {
		t.Fatalf("%v after %d restarts: %s", res.Verdict, res.Crashes, res.Reason)
	}
}

// TestRaftkvSameSeedSameSchedule: a cluster runs in real time, so which
// operation times out can differ between two runs of a seed; what is
// asked of the cluster, in which order, and every fault the nemesis
// injects are the same.
func TestRaftkvSameSeedSameSchedule(t *testing.T) {
	cfg := Config{Engine: "raftkv/file", Nemeses: []string{"kill"}, Seed: 4, Ops: 120}
	a, b := run(t, cfg), run(t, cfg)
	inputs := func(h *History) []kvmodel.Input {
		var out []kvmodel.Input
		for _, op := range h.Ops {
			if in := op.Input.(kvmodel.Input); in.Kind != kvmodel.KindCrash {
				out = append(out, in)
			}
		}
		return out
	}
	// The node a kill hits is the leader in half of them, and which node
	// leads is up to the cluster.
	nemesis := func(h *History) []string {
		var out []string
		for _, w := range h.Faults {
			switch w.Nemesis {
			case "kill":
				out = append(out, w.Detail)
			case "node":
				out = append(out, "a node")
			}
		}
		return out
	}
	if !reflect.DeepEqual(inputs(a.History), inputs(b.History)) {
		t.Errorf("the same seed asked different things")
	}
	if !reflect.DeepEqual(nemesis(a.History), nemesis(b.History)) || a.Command != b.Command {
		t.Errorf("the same seed gave different faults:\n%v\n%v", nemesis(a.History), nemesis(b.History))
	}
}

// TestRaftkvNodeDeathIsFailure: a node that dies behind the nemesis's
// back is a recorded failure, never a silent loss of a replica.
func TestRaftkvNodeDeathIsFailure(t *testing.T) {
	fam, engine, err := ResolveEngine("raftkv/file")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := fam.cluster(engine, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Engine: "raftkv/file", Seed: 1}.withDefaults()
	c, err := startCluster(fam, engine, *spec, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	w := kvWork{In: kvmodel.Input{Kind: kvmodel.KindWrite, Key: "k0", Value: "v"}, Client: 0, Seq: 1}
	if out, _, f := c.exec(w, false); f != nil || out.(kvmodel.Output).Err != kvmodel.ErrNone {
		t.Fatalf("write: %v, %v", out, f)
	}
	if err := c.nodes[1].p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.nodes[1].p.Wait(5 * time.Second)
	w.Seq = 2
	_, _, f := c.exec(w, false)
	if f == nil || !strings.Contains(f.what, "n2 exited on its own") {
		t.Fatalf("failure %v", f)
	}
}

// TestRaftkvUsage: bad parameters and targets are usage errors, before a
// node starts; nemeses that cannot act on a single process say so.
func TestRaftkvUsage(t *testing.T) {
	for _, cfg := range []Config{
		{Engine: "raftkv/file", Params: map[string]string{"nodes": "4"}},
		{Engine: "raftkv/file", Params: map[string]string{"op_deadline": "-1s"}},
		{Engine: "raftkv/file", Target: "process"},
		{Engine: "raftkv/no-such-store"},
	} {
		if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrUsage) {
			t.Errorf("%+v: %v, want a usage error", cfg, err)
		}
	}
	if _, err := Run(context.Background(), Config{Engine: "raftlog/file", Nemeses: []string{"partition"}}); !errors.Is(err, faults.ErrUnavailable) {
		t.Errorf("partition of a single node: %v", err)
	}
	av, err := Availability("raftkv/file", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(av["partition"], "proxies") || !strings.Contains(av["kill"], "leader") {
		t.Errorf("raftkv/file: %v", av)
	}
	if av, _ := Availability("raftlog/file", nil); !strings.Contains(av["partition"], "not applicable") {
		t.Errorf("raftlog/file: %v", av)
	}
}

// TestRaftkvFiveNodes: a 5-node cluster passes partitions.
func TestRaftkvFiveNodes(t *testing.T) {
	res := run(t, Config{Engine: "raftkv/pebble", Nemeses: []string{"partition"}, Seed: 3, Ops: 100, Params: map[string]string{"nodes": "5"}})
	if res.Verdict != linearizability.Ok || res.Struck == 0 {
		t.Fatalf("%v, struck %d: %s", res.Verdict, res.Struck, res.Reason)
	}
	if !strings.Contains(res.Command, "--param nodes=5") {
		t.Errorf("the replay command does not name the nodes: %s", res.Command)
	}
}
