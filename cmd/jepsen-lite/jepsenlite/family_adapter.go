package jepsenlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/manager"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/memory"
	adaptermutants "github.com/ordeal-dev/ordeal/engines/adapter/mutants"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/segment"
	"github.com/ordeal-dev/ordeal/linearizability/adaptermodel"
)

// adapterShards are the shards every adapter run uses.
var adapterShards = []string{"s0", "s1"}

// The adapter family: RobustMQ's message-queue StorageAdapter, checked by
// adaptermodel per shard.
func init() {
	Register(Spec[adapter.StorageAdapter, adaptermodel.Input, adaptermodel.Input, adaptermodel.Output, adaptermodel.Traits]{
		Name:    "adapter",
		Doc:     "message-queue storage adapter (shards, offsets, tags, keys, consumer groups)",
		Engines: adapter.Engines,
		Mutants: func() []Mutant {
			var out []Mutant
			for _, m := range adaptermutants.All() {
				out = append(out, Mutant{Name: m.Name, Bug: m.Bug})
			}
			return out
		},
		Open:  openAdapter,
		Close: func(a adapter.StorageAdapter) error { return a.Close() },
		Apply: func(a adapter.StorageAdapter, in adaptermodel.Input) adaptermodel.Output {
			return adaptermodel.Apply(context.Background(), a, in)
		},
		Input:     func(in adaptermodel.Input) adaptermodel.Input { return in },
		Workload:  newAdapterWorkload,
		Unknown:   adaptermodel.Unknown,
		IsUnknown: func(o adaptermodel.Output) bool { return o.Err == adaptermodel.ErrUnknown },
		Crash:     func(d string) adaptermodel.Input { return adaptermodel.Input{Kind: adaptermodel.KindCrash, Detail: d} },
		IsCrash:   func(in adaptermodel.Input) bool { return in.Kind == adaptermodel.KindCrash },
		Method:    func(in adaptermodel.Input) string { return string(in.Kind) },
		Outcome:   func(o adaptermodel.Output) string { return outcomeClass(string(o.Err)) },
		Check:     adaptermodel.Check,
		Methods:   []string{"write", "read_offset", "read_tag", "read_key", "seek", "delete_offset", "delete_key", "commit", "group"},
		Outcomes:  []string{"ok", "unknown", "notfound", "failed", "io"},
	}.Family())
}

// openAdapter opens an adapter engine and creates the run's shards it
// does not have (all of them at first).
func openAdapter(name string, o OpenOptions) (adapter.StorageAdapter, Info, adaptermodel.Traits, error) {
	params := map[string]string{}
	for k, v := range o.Params {
		params[k] = v
	}
	if name == "manager" && params["storage_types"] == "" {
		params["storage_types"] = "pebble,segment"
	}
	a, err := adapter.Open(name, adapter.Options{Dir: o.Dir, FS: o.FS, Params: params})
	if err != nil {
		return nil, Info{}, adaptermodel.Traits{}, err
	}
	c := a.Capabilities()
	if !c.UsesFS && o.FS != nil && c.Persistent {
		_ = a.Close()
		return nil, Info{}, adaptermodel.Traits{}, ErrNoFS
	}
	ctx := context.Background()
	infos, err := a.ListShards(ctx, adapter.ShardFilter{})
	if err != nil {
		_ = a.Close()
		return nil, Info{}, adaptermodel.Traits{}, err
	}
	for i, s := range adapterShards {
		if slices.ContainsFunc(infos, func(in adapter.ShardInfo) bool { return in.Config.Name == s }) {
			continue
		}
		st := name
		if name == "manager" {
			types := strings.Split(params["storage_types"], ",")
			st = strings.TrimSpace(types[i%len(types)])
		}
		if err := a.CreateShard(ctx, adapter.ShardConfig{Name: s, StorageType: st}); err != nil {
			_ = a.Close()
			return nil, Info{}, adaptermodel.Traits{}, fmt.Errorf("create shard %s: %w", s, err)
		}
	}
	return a, Info{Persistent: c.Persistent, SyncOnWrite: c.SyncOnWrite, UsesFS: c.UsesFS}, adaptermodel.TraitsOf(c), nil
}

// adapterWorkload draws every client's operations from one seeded source,
// aimed at the offsets handed out so far.
type adapterWorkload struct {
	seed       uint64
	rng        *rand.Rand
	persistent bool
	next       map[string]uint64 // offsets handed out per shard, as seen
	seq        uint64            // records generated
	fin        bool
}

func newAdapterWorkload(seed uint64, _ int, info Info, _ adaptermodel.Traits) TypedWorkload[adaptermodel.Input, adaptermodel.Output] {
	return &adapterWorkload{seed: seed, rng: rand.New(rand.NewPCG(seed, 0xada)), persistent: info.Persistent, next: map[string]uint64{}}
}

func (w *adapterWorkload) Observe(_ int, in adaptermodel.Input, out adaptermodel.Output) {
	if in.Kind == adaptermodel.KindWrite && out.Err == adaptermodel.ErrNone && len(out.Offsets) > 0 {
		w.next[in.Shard] = max(w.next[in.Shard], out.Offsets[len(out.Offsets)-1]+1)
	}
}

func (w *adapterWorkload) Crashed() {
	if !w.persistent {
		clear(w.next)
	}
}

// Final reads every shard and group once more, so that a loss the
// workload's reads missed still shows.
func (w *adapterWorkload) Final() []adaptermodel.Input {
	if w.fin {
		return nil
	}
	w.fin = true
	var out []adaptermodel.Input
	for _, s := range adapterShards {
		out = append(out, adaptermodel.Input{Kind: adaptermodel.KindReadOffset, Shard: s, Limit: 100000})
		for g := range 2 {
			out = append(out, adaptermodel.Input{Kind: adaptermodel.KindGroup, Shard: s, Group: "g" + strconv.Itoa(g)})
		}
		for t := range 3 {
			out = append(out, adaptermodel.Input{Kind: adaptermodel.KindReadTag, Shard: s, Tag: "t" + strconv.Itoa(t), Limit: 100000})
		}
	}
	return out
}

// Next draws one client operation.
func (w *adapterWorkload) Next(int) adaptermodel.Input {
	rng := w.rng
	shard := adapterShards[rng.IntN(len(adapterShards))]
	next := w.next[shard]
	key := func() string { return "k" + strconv.Itoa(rng.IntN(6)) }
	in := adaptermodel.Input{Shard: shard}
	switch x := rng.IntN(100); {
	case x < 35:
		in.Kind = adaptermodel.KindWrite
		for range 1 + rng.IntN(3) {
			w.seq++
			tags := []string{"t" + strconv.Itoa(rng.IntN(3))}
			if rng.IntN(4) == 0 {
				tags = append(tags, "t"+strconv.Itoa(3+rng.IntN(2)))
			}
			n := 8 + rng.IntN(120)
			if rng.IntN(6) == 0 {
				n = 2000 + rng.IntN(4000) // frames that cross the blocks a power loss keeps or loses
			}
			in.Records = append(in.Records, adaptermodel.NewRecRef(key(), tags, int64(rng.IntN(1000)), w.seed<<20^w.seq, n))
		}
	case x < 50:
		in.Kind, in.Offset, in.Limit = adaptermodel.KindReadOffset, rng.Uint64N(next+2), 1+rng.IntN(8)
	case x < 60:
		in.Kind, in.Tag, in.Offset, in.Limit = adaptermodel.KindReadTag, "t"+strconv.Itoa(rng.IntN(5)), rng.Uint64N(next+2), 1+rng.IntN(8)
	case x < 70:
		in.Kind, in.Key = adaptermodel.KindReadKey, key()
	case x < 77:
		in.Kind, in.TS = adaptermodel.KindSeek, int64(rng.IntN(1100))
	case x < 85:
		in.Kind = adaptermodel.KindDeleteOffset
		in.Offset = rng.Uint64N(next + 1)
		if next > 0 && rng.IntN(2) == 0 {
			in.Offset = next - 1 // the last record: its offset must not come back
		}
	case x < 89:
		in.Kind, in.Key = adaptermodel.KindDeleteKey, key()
	case x < 95:
		in.Kind, in.Group, in.Offset = adaptermodel.KindCommit, "g"+strconv.Itoa(rng.IntN(2)), rng.Uint64N(next+5)
	default:
		in.Kind, in.Group = adaptermodel.KindGroup, "g"+strconv.Itoa(rng.IntN(2))
	}
	return in
}
