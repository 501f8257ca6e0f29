package jepsenlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	raftmutants "github.com/ordeal-dev/ordeal/engines/raftlog/mutants"
	"github.com/ordeal-dev/ordeal/linearizability/kvmodel"
)

// The raftkv family: a replicated key-value store on hashicorp/raft, a
// cluster of 3 or 5 node processes (raftkv_node.go, cluster.go) whose log
// and stable stores are a raftlog engine, checked by kvmodel per key.
// Engines: raftkv/STORE for every raftlog engine (raftkv/file,
// raftkv/raft-wal, ...), and raftkv/mutant/NAME for every raftlog mutant
// under every node; raftkv/mutant/memory keeps every node's log and votes
// in memory, which a restart forgets. Parameters: nodes (3 or 5),
// op_deadline (the time a client operation may take, retries included),
// heartbeat (raft's heartbeat and election timeout), power (the share of
// the nodes a power loss hits: one, minority, majority or all; by default
// drawn per fault), snapshot_dir_sync
// (false: hashicorp's file snapshot store as it is, see syncedSnapshots);
// the others go to the store.
func init() {
	Register(Spec[struct{}, kvWork, kvmodel.Input, kvmodel.Output, struct{}]{
		Name:    "raftkv",
		Doc:     "replicated key-value store on hashicorp/raft, 3 or 5 node processes, each node's log and stable store a raftlog engine",
		Engines: raftkvEngines,
		Mutants: raftkvMutants,
		Open: func(engine string, _ OpenOptions) (struct{}, Info, struct{}, error) {
			return struct{}{}, Info{}, struct{}{}, fmt.Errorf("%w: raftkv/%s is a cluster of raftkv-node processes: jepsen-lite run starts it", ErrUsage, engine)
		},
		Cluster:   raftkvCluster,
		Input:     func(w kvWork) kvmodel.Input { return w.In },
		Workload:  newKVWorkload,
		Unknown:   kvmodel.Unknown,
		IsUnknown: func(o kvmodel.Output) bool { return o.Err == kvmodel.ErrUnknown },
		Crash:     func(d string) kvmodel.Input { return kvmodel.Input{Kind: kvmodel.KindCrash, Detail: d} },
		IsCrash:   func(in kvmodel.Input) bool { return in.Kind == kvmodel.KindCrash },
		Method:    func(in kvmodel.Input) string { return string(in.Kind) },
		Outcome:   func(o kvmodel.Output) string { return outcomeClass(string(o.Err)) },
		Check:     kvmodel.Check,
		Methods:   []string{"read", "write", "cas"},
		Outcomes:  []string{"ok", "mismatch", "unknown"},
	}.Family())
}

// raftkvMemory is the contrast mutant: every node on raftlog/memory.
const raftkvMemory = "mutant/memory"

// raftkvEngines are the raftlog engines but the mutants and memory.
func raftkvEngines() []string {
	var out []string
	for _, e := range raftlog.Engines() {
		if !strings.Contains(e, "/") && e != "memory" {
			out = append(out, e)
		}
	}
	return out
}

func raftkvMutants() []Mutant {
	out := []Mutant{{Name: raftkvMemory, Bug: "every node keeps its log and hard state in memory (raftlog/memory): a restarted node has forgotten its log and its votes"}}
	for _, m := range raftmutants.List() {
		out = append(out, Mutant{Name: m.Name, Bug: "every node's store is raftlog/" + m.Name + ": " + m.Bug})
	}
	return out
}

// raftkvCluster says how to run engine: its store and the parameters.
func raftkvCluster(engine string, params map[string]string) (*ClusterSpec, error) {
	spec := &ClusterSpec{Store: engine, Nodes: 3, StoreParams: map[string]string{}}
	if engine == raftkvMemory {
		spec.Store = "memory"
	}
	for k, v := range params {
		switch k {
		case "nodes":
			n, err := strconv.Atoi(v)
			if err != nil || (n != 3 && n != 5) {
				return nil, fmt.Errorf("%w: --param nodes=%s: want 3 or 5", ErrUsage, v)
			}
			spec.Nodes = n
		case "power":
			if !slices.Contains(PowerShares, v) {
				return nil, fmt.Errorf("%w: --param power=%s: want one of %s", ErrUsage, v, strings.Join(PowerShares, ", "))
			}
			spec.Power = v
		case "snapshot_dir_sync":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%w: --param snapshot_dir_sync=%s: want true or false", ErrUsage, v)
			}
			spec.RawSnapshots = !b
		case "op_deadline", "heartbeat":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: --param %s=%s: want a positive duration", ErrUsage, k, v)
			}
			if k == "op_deadline" {
				spec.OpDeadline = d
			} else {
				spec.Heartbeat = d
			}
		default:
			spec.StoreParams[k] = v
		}
	}
	return spec, nil
}

// kvKeys are the keys a run reads and writes.
var kvKeys = []string{"k0", "k1", "k2", "k3"}

// kvWorkload: each client reads, writes and compares-and-sets keys drawn
// from its own seeded source, in a session of its own. Every input is
// drawn from the seed alone, never from an output: a CAS expects a value
// handed out earlier for its key (the latest one, or one before it), so
// that two runs of a seed ask the cluster the same things.
type kvWorkload struct {
	rngs    []*rand.Rand
	seqs    []uint64
	written map[string][]string
	fin     bool
}

func newKVWorkload(seed uint64, clients int, _ Info, _ struct{}) TypedWorkload[kvWork, kvmodel.Output] {
	w := &kvWorkload{seqs: make([]uint64, clients+1), written: map[string][]string{}}
	for c := range clients {
		w.rngs = append(w.rngs, rand.New(rand.NewPCG(seed, 0x6b76+uint64(c))))
	}
	return w
}

func (w *kvWorkload) Next(client int) kvWork {
	r := w.rngs[client]
	w.seqs[client]++
	seq := w.seqs[client]
	key := kvKeys[r.IntN(len(kvKeys))]
	x := r.IntN(100)
	value := fmt.Sprintf("%d.%d", client, seq)
	in := kvmodel.Input{Kind: kvmodel.KindRead, Key: key}
	switch {
	case x < 40:
	case x < 70:
		in = kvmodel.Input{Kind: kvmodel.KindWrite, Key: key, Value: value}
		w.written[key] = append(w.written[key], value)
	default:
		old := "none"
		if vs := w.written[key]; len(vs) > 0 {
			old = vs[len(vs)-1]
			if r.IntN(4) == 0 {
				old = vs[r.IntN(len(vs))]
			}
		}
		in = kvmodel.Input{Kind: kvmodel.KindCAS, Key: key, Old: old, Value: value}
		w.written[key] = append(w.written[key], value)
	}
	return kvWork{In: in, Client: client, Seq: seq}
}

func (w *kvWorkload) Observe(int, kvWork, kvmodel.Output) {}

func (w *kvWorkload) Crashed() {}

// Final reads every key once more, in a session of its own.
func (w *kvWorkload) Final() []kvWork {
	if w.fin {
		return nil
	}
	w.fin = true
	s := len(w.seqs) - 1
	var out []kvWork
	for _, k := range kvKeys {
		w.seqs[s]++
		out = append(out, kvWork{In: kvmodel.Input{Kind: kvmodel.KindRead, Key: k}, Client: s, Seq: w.seqs[s]})
	}
	return out
}

// raftkvUnavailable is the output of an operation no node took.
func raftkvUnavailable(why string) kvmodel.Output {
	return kvmodel.Output{Err: kvmodel.ErrUnavailable, Message: why}
}
