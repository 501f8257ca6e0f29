package adaptermodel_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/memory"
	"github.com/ordeal-dev/ordeal/linearizability"
	am "github.com/ordeal-dev/ordeal/linearizability/adaptermodel"
)

var durable = am.Traits{Persistent: true, SyncOnWrite: true}

// builder writes sequential histories by hand.
type builder struct {
	t   int64
	ops []am.Op
}

func (b *builder) do(in am.Input, out am.Output) {
	b.ops = append(b.ops, am.Op{Client: 0, Input: in, Output: out, Call: b.t + 1, Return: b.t + 2})
	b.t += 2
}

func ref(key, tag string, ts int64, seed uint64) am.RecRef {
	return am.NewRecRef(key, []string{tag}, ts, seed, 16)
}

func write(shard string, refs ...am.RecRef) am.Input {
	return am.Input{Kind: am.KindWrite, Shard: shard, Records: refs}
}

func offs(os ...uint64) am.Output { return am.Output{Offsets: os} }

func got(o uint64, r am.RecRef) am.Got { return am.Got{Offset: o, Sum: r.Sum} }

func check(t *testing.T, tr am.Traits, ops []am.Op) linearizability.Verdict {
	t.Helper()
	h := &am.History{Traits: tr, Ops: ops}
	v := am.Check(h, 0, false).Verdict
	whole := linearizability.FromPorcupine(porcupine.CheckOperationsTimeout(am.Model(tr, false), h.Operations(), 0))
	if whole != v && v != linearizability.Unknown {
		t.Errorf("partitioned check says %v, whole history %v", v, whole)
	}
	return v
}

func TestHandWrittenHistories(t *testing.T) {
	a, b, c := ref("k1", "t1", 10, 1), ref("k2", "t2", 20, 2), ref("k1", "t2", 5, 3)
	base := func() *builder {
		bd := &builder{}
		bd.do(write("p", a, b), offs(0, 1))
		bd.do(write("q", c), offs(0))
		bd.do(write("p", c), offs(2))
		return bd
	}
	cases := []struct {
		name string
		tr   am.Traits
		more func(*builder)
		want linearizability.Verdict
	}{
		{"reads agree", durable, func(bd *builder) {
			bd.do(am.Input{Kind: am.KindReadOffset, Shard: "p", Offset: 1, Limit: 5}, am.Output{Records: []am.Got{got(1, b), got(2, c)}})
			bd.do(am.Input{Kind: am.KindReadTag, Shard: "p", Tag: "t2", Limit: 1}, am.Output{Records: []am.Got{got(1, b)}})
			bd.do(am.Input{Kind: am.KindReadKey, Shard: "p", Key: "k1"}, am.Output{Records: []am.Got{got(2, c)}})
			bd.do(am.Input{Kind: am.KindSeek, Shard: "p", TS: 15}, am.Output{Value: 1})
			bd.do(am.Input{Kind: am.KindGroup, Shard: "p", Group: "g"}, am.Output{Err: am.ErrNotFound})
			bd.do(am.Input{Kind: am.KindCommit, Shard: "p", Group: "g", Offset: 7}, am.Output{})
			bd.do(am.Input{Kind: am.KindGroup, Shard: "p", Group: "g"}, am.Output{Value: 7})
		}, linearizability.Ok},
		{"delete then key falls back", durable, func(bd *builder) {
			bd.do(am.Input{Kind: am.KindDeleteOffset, Shard: "p", Offset: 2}, am.Output{})
			bd.do(am.Input{Kind: am.KindReadKey, Shard: "p", Key: "k1"}, am.Output{Records: []am.Got{got(0, a)}})
			bd.do(am.Input{Kind: am.KindDeleteOffset, Shard: "p", Offset: 2}, am.Output{Err: am.ErrNotFound})
			bd.do(am.Input{Kind: am.KindSeek, Shard: "p", TS: 1}, am.Output{Value: 0})
		}, linearizability.Ok},
		{"deleted record served by key", durable, func(bd *builder) {
			bd.do(am.Input{Kind: am.KindDeleteKey, Shard: "p", Key: "k1"}, am.Output{})
			bd.do(am.Input{Kind: am.KindReadKey, Shard: "p", Key: "k1"}, am.Output{Records: []am.Got{got(2, c)}})
		}, linearizability.Illegal},
		{"offset reused after a delete", durable, func(bd *builder) {
			bd.do(am.Input{Kind: am.KindDeleteOffset, Shard: "p", Offset: 2}, am.Output{})
			bd.do(write("p", a), offs(2))
		}, linearizability.Illegal},
		{"acknowledged write lost in a crash", durable, func(bd *builder) {
			bd.do(am.Input{Kind: am.KindCrash, Detail: "power loss"}, am.Output{})
			bd.do(am.Input{Kind: am.KindReadOffset, Shard: "p", Offset: 0, Limit: 10}, am.Output{Records: []am.Got{got(0, a), got(1, b)}})
		}, linearizability.Illegal},
		{"crash keeps everything acknowledged", durable, func(bd *builder) {
			bd.do(am.Input{Kind: am.KindCrash, Detail: "power loss"}, am.Output{})
			bd.do(am.Input{Kind: am.KindReadTag, Shard: "q", Tag: "t2", Limit: 10}, am.Output{Records: []am.Got{got(0, c)}})
			bd.do(write("p", b), offs(3))
		}, linearizability.Ok},
		{"a failed write may survive the crash", durable, func(bd *builder) {
			bd.do(write("p", a), am.Output{Err: am.ErrStorage})
			bd.do(am.Input{Kind: am.KindReadOffset, Shard: "p", Offset: 3, Limit: 10}, am.Output{Err: am.ErrEngineFailed})
			bd.do(am.Input{Kind: am.KindCrash, Detail: "reopen"}, am.Output{})
			bd.do(am.Input{Kind: am.KindReadOffset, Shard: "p", Offset: 3, Limit: 10}, am.Output{Records: []am.Got{got(3, a)}})
		}, linearizability.Ok},
		{"a failed engine acknowledges a write", durable, func(bd *builder) {
			bd.do(write("p", a), am.Output{Err: am.ErrStorage})
			bd.do(write("p", b), offs(3))
		}, linearizability.Illegal},
		{"a memory engine loses everything", am.Traits{SyncOnWrite: true}, func(bd *builder) {
			bd.do(am.Input{Kind: am.KindCrash, Detail: "restart"}, am.Output{})
			bd.do(am.Input{Kind: am.KindReadKey, Shard: "p", Key: "k1"}, am.Output{Err: am.ErrNotFound})
			bd.do(write("p", b), offs(0))
		}, linearizability.Ok},
		{"an unknown shard", durable, func(bd *builder) {
			bd.do(write("p", b), am.Output{Err: am.ErrSemantic})
		}, linearizability.Illegal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bd := base()
			tc.more(bd)
			if got := check(t, tc.tr, bd.ops); got != tc.want {
				t.Errorf("verdict %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPartialDeleteByKeySeen is the race adapter/pebble's ReadByTag had: a
// tag scan that checks each record's liveness as it goes sees a concurrent
// DeleteByKey half applied. DeleteByKey is atomic, so that is a violation;
// either whole outcome is legal.
func TestPartialDeleteByKeySeen(t *testing.T) {
	a, b, c := ref("k0", "t0", 1, 1), ref("k1", "t0", 2, 2), ref("k0", "t0", 3, 3)
	for _, tc := range []struct {
		name string
		seen []am.Got
		want linearizability.Verdict
	}{
		{"before the delete", []am.Got{got(0, a), got(1, b), got(2, c)}, linearizability.Ok},
		{"after the delete", []am.Got{got(1, b)}, linearizability.Ok},
		{"half the delete", []am.Got{got(0, a), got(1, b)}, linearizability.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := []am.Op{
				{Client: 0, Input: write("p", a, b, c), Output: offs(0, 1, 2), Call: 1, Return: 2},
				{Client: 0, Input: am.Input{Kind: am.KindDeleteKey, Shard: "p", Key: "k0"}, Call: 3, Return: 6},
				{Client: 1, Input: am.Input{Kind: am.KindReadTag, Shard: "p", Tag: "t0", Limit: 10}, Output: am.Output{Records: tc.seen}, Call: 4, Return: 5},
			}
			if v := check(t, durable, ops); v != tc.want {
				t.Errorf("verdict %v, want %v", v, tc.want)
			}
		})
	}
}

// TestRecorderOnMemory records concurrent clients on the memory engine and
// checks the history, then a copy with one read tampered with.
func TestRecorderOnMemory(t *testing.T) {
	e, err := memory.Open(adapter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range []string{"p", "q"} {
		if err := e.CreateShard(ctx, adapter.ShardConfig{Name: s}); err != nil {
			t.Fatal(err)
		}
	}
	rec := am.NewRecorder(&linearizability.Logical{})
	var wg sync.WaitGroup
	for c := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				shard := []string{"p", "q"}[(c+i)%2]
				var in am.Input
				switch i % 6 {
				case 0, 1:
					in = write(shard, ref("k"+string(rune('0'+i%3)), "t"+string(rune('0'+c)), int64(i), uint64(c*100+i)))
				case 2:
					in = am.Input{Kind: am.KindReadOffset, Shard: shard, Offset: uint64(i / 4), Limit: 3}
				case 3:
					in = am.Input{Kind: am.KindReadKey, Shard: shard, Key: "k1"}
				case 4:
					in = am.Input{Kind: am.KindDeleteOffset, Shard: shard, Offset: uint64(i / 5)}
				default:
					in = am.Input{Kind: am.KindCommit, Shard: shard, Group: "g", Offset: uint64(i)}
				}
				rec.Do(ctx, c, e, in)
			}
		}()
	}
	wg.Wait()
	h := &am.History{Engine: "adapter/memory", Traits: am.TraitsOf(e.Capabilities()), Clock: "logical", Ops: rec.Ops()}
	if r := am.Check(h, 0, true); r.Verdict != linearizability.Ok || r.Partitions != 2 {
		t.Fatalf("recorded history: %v (%s), %d partitions", r.Verdict, r.Reason, r.Partitions)
	}
	path := filepath.Join(t.TempDir(), "history.json")
	if err := h.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := am.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Ops) != len(h.Ops) {
		t.Fatalf("read back %d ops, wrote %d", len(back.Ops), len(h.Ops))
	}
	for i, op := range back.Ops {
		if op.Input.Kind == am.KindReadOffset && op.Output.Err == am.ErrNone && len(op.Output.Records) > 0 {
			back.Ops[i].Output.Records[0].Sum ^= 1
			break
		}
	}
	if v := am.Check(back, 0, false).Verdict; v != linearizability.Illegal {
		t.Errorf("tampered history: %v, want Illegal", v)
	}
}
