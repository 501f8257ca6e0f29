package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/internal/corruptcase"
)

// DefaultMetaFiles are the files the corruption case damages as metadata
// when a Harness names none: pebble's manifests, options and markers, and
// the segment engine's shard configurations and group offsets.
const DefaultMetaFiles = "MANIFEST-*|OPTIONS-*|CURRENT|marker.*|config|groups"

// corruptShard is what one shard must hold after the corruption case's
// history.
type corruptShard struct {
	cfg     adapter.ShardConfig
	next    uint64
	live    map[uint64]adapter.Record
	deleted map[uint64]bool
	groups  map[string]uint64
	// olderGroups are the offsets each group committed before its last.
	olderGroups map[string][]uint64
}

// corruptPlan is the corruption case's history: ops to run in order, and
// what every shard must hold after them.
type corruptPlan struct {
	ops    []func(ctx context.Context, a adapter.StorageAdapter) error
	shards map[string]*corruptShard
	gone   []string // shards created, written and deleted
}

// makeCorruptPlan draws a history over three shards (their storage types
// taken from storageTypes in turn) of some 800 records (0.4 MB; three times
// that in the long form, see corruptcase.Scale), most in batches,
// about one in twelve deleted by offset or by key, with group offsets
// committed along the way, and a fourth shard written and then deleted.
func makeCorruptPlan(seed uint64, storageTypes []string) *corruptPlan {
	rng := rand.New(rand.NewPCG(seed, 0xADA7))
	p := &corruptPlan{shards: map[string]*corruptShard{}}
	names := []string{"orders", "payments", "audit", "scratch"}
	for i, name := range names {
		cfg := adapter.ShardConfig{Name: name}
		if n := len(storageTypes); n > 0 {
			cfg.StorageType = storageTypes[i%n]
		}
		p.shards[name] = &corruptShard{cfg: cfg, live: map[uint64]adapter.Record{}, deleted: map[uint64]bool{}, groups: map[string]uint64{}, olderGroups: map[string][]uint64{}}
		p.ops = append(p.ops, func(ctx context.Context, a adapter.StorageAdapter) error { return a.CreateShard(ctx, cfg) })
	}
	record := func(s *corruptShard) adapter.Record {
		r := adapter.Record{
			Key:       fmt.Sprintf("k%d", rng.IntN(400)),
			Timestamp: 1_700_000_000_000 + int64(s.next)*10 + int64(rng.IntN(10)),
			Data:      make([]byte, 20+rng.IntN(900)),
		}
		if rng.IntN(3) > 0 {
			r.Tags = []string{fmt.Sprintf("t%d", rng.IntN(6))}
		}
		if rng.IntN(4) == 0 {
			r.Headers = []adapter.Header{{Name: "h", Value: []byte(fmt.Sprint(rng.IntN(100)))}}
		}
		for i := range r.Data {
			r.Data[i] = byte(rng.Uint32())
		}
		return r
	}
	for total := 0; total < 800*corruptcase.Scale(); {
		name := names[rng.IntN(len(names))]
		s := p.shards[name]
		switch x := rng.IntN(20); {
		case x < 14:
			rs := make([]adapter.Record, 1+rng.IntN(30))
			for i := range rs {
				rs[i] = record(s)
				rs[i].Offset = s.next
				s.live[s.next] = rs[i]
				s.next++
			}
			total += len(rs)
			batch := slices.Clone(rs)
			p.ops = append(p.ops, func(ctx context.Context, a adapter.StorageAdapter) error {
				_, err := a.BatchWrite(ctx, name, batch)
				return err
			})
		case x < 16 && len(s.live) > 0:
			off := s.liveOffsets()[rng.IntN(len(s.live))]
			delete(s.live, off)
			s.deleted[off] = true
			p.ops = append(p.ops, func(ctx context.Context, a adapter.StorageAdapter) error { return a.DeleteByOffset(ctx, name, off) })
		case x < 17 && len(s.live) > 0:
			key := s.live[s.liveOffsets()[rng.IntN(len(s.live))]].Key
			for off, r := range s.live {
				if r.Key == key {
					delete(s.live, off)
					s.deleted[off] = true
				}
			}
			p.ops = append(p.ops, func(ctx context.Context, a adapter.StorageAdapter) error { return a.DeleteByKey(ctx, name, key) })
		default:
			group := fmt.Sprintf("g%d", rng.IntN(3))
			off := uint64(rng.IntN(int(s.next) + 1))
			if old, ok := s.groups[group]; ok {
				s.olderGroups[group] = append(s.olderGroups[group], old)
			}
			s.groups[group] = off
			p.ops = append(p.ops, func(ctx context.Context, a adapter.StorageAdapter) error {
				return a.CommitOffset(ctx, group, name, off)
			})
		}
	}
	p.ops = append(p.ops, func(ctx context.Context, a adapter.StorageAdapter) error { return a.DeleteShard(ctx, "scratch") })
	delete(p.shards, "scratch")
	p.gone = []string{"scratch"}
	return p
}

func (s *corruptShard) liveOffsets() []uint64 {
	out := make([]uint64, 0, len(s.live))
	for off := range s.live {
		out = append(out, off)
	}
	slices.Sort(out)
	return out
}

// corruptSubject is the corruption case's view of h.
func corruptSubject(h Harness) corruptcase.Subject {
	meta := h.MetaFiles
	if meta == "" {
		meta = DefaultMetaFiles
	}
	open := func(dir string) (adapter.StorageAdapter, error) {
		return h.Open(adapter.Options{Dir: dir, Params: h.Params})
	}
	return corruptcase.Subject{
		Name:      h.Name,
		Meta:      meta,
		IsCorrupt: func(err error) bool { return errors.Is(err, adapter.ErrCorrupt) },
		Write: func(t testing.TB, dir string, seed uint64) bool {
			t.Helper()
			a, err := open(dir)
			if err != nil {
				t.Fatalf("%s: open: %v", h.Name, err)
			}
			if !a.Capabilities().Persistent {
				_ = a.Close()
				t.Skipf("%s keeps nothing across Close: the corruption case does not apply", h.Name)
				return false
			}
			ctx := context.Background()
			for k, op := range makeCorruptPlan(seed, h.StorageTypes).ops {
				if err := op(ctx, a); err != nil {
					_ = a.Close()
					t.Fatalf("%s: step %d of the history: %v", h.Name, k, err)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatalf("%s: close: %v", h.Name, err)
			}
			return true
		},
		Check: func(dir string, seed uint64, v *corruptcase.Verdict) {
			a, err := open(dir)
			if v.Err("open", err) {
				return
			}
			defer func() { v.Err("close", a.Close()) }()
			checkCorrupted(a, makeCorruptPlan(seed, h.StorageTypes), v)
		},
	}
}

// checkCorrupted compares everything a holds with p.
func checkCorrupted(a adapter.StorageAdapter, p *corruptPlan, v *corruptcase.Verdict) {
	ctx := context.Background()
	infos, err := a.ListShards(ctx, adapter.ShardFilter{})
	if v.Err("ListShards", err) {
		infos = nil
	}
	listed := map[string]adapter.ShardInfo{}
	for _, in := range infos {
		listed[in.Config.Name] = in
	}
	for _, name := range p.gone {
		if _, ok := listed[name]; ok {
			v.Resurrected("deleted shard %q is listed again", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.shards)) {
		s := p.shards[name]
		in, ok := listed[name]
		if err == nil && !ok {
			v.Lost("shard %q is not listed", name)
		}
		if ok && in.NextOffset != s.next {
			if in.NextOffset < s.next {
				v.Lost("shard %q: NextOffset %d, want %d: offsets would be handed out again", name, in.NextOffset, s.next)
			} else {
				v.Wrong("shard %q: NextOffset %d, want %d", name, in.NextOffset, s.next)
			}
		}
		checkShardRecords(ctx, a, name, s, v)
		for group, want := range s.groups {
			got, err := a.OffsetByGroup(ctx, group, name)
			switch {
			case errors.Is(err, adapter.ErrNotFound):
				v.Lost("shard %q: group %q has no offset, want %d", name, group, want)
			case v.Err(fmt.Sprintf("OffsetByGroup(%q, %q)", group, name), err):
			case got != want && slices.Contains(s.olderGroups[group], got):
				v.Wrong("shard %q: group %q is back at an older commit %d, want %d", name, group, got, want)
			case got != want:
				v.Wrong("shard %q: group %q at %d, want %d", name, group, got, want)
			}
		}
	}
}

// checkShardRecords reads the shard by offset, by key and by tag.
func checkShardRecords(ctx context.Context, a adapter.StorageAdapter, name string, s *corruptShard, v *corruptcase.Verdict) {
	seen := map[uint64]bool{}
	from := uint64(0)
	for from < s.next {
		rs, err := a.ReadByOffset(ctx, name, from, 200)
		if v.Err(fmt.Sprintf("ReadByOffset(%q, %d)", name, from), err) {
			// Skip past the damage to check the rest.
			from += 200
			continue
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			compareRecord(name, s, r, v, "ReadByOffset")
			seen[r.Offset] = true
		}
		from = rs[len(rs)-1].Offset + 1
	}
	for _, off := range s.liveOffsets() {
		if !seen[off] {
			v.Lost("shard %q: record %d is missing from ReadByOffset", name, off)
		}
	}
	// The newest live record of each key, and the records of each tag.
	newest := map[string]uint64{}
	byTag := map[string][]uint64{}
	for _, off := range s.liveOffsets() {
		r := s.live[off]
		newest[r.Key] = off
		for _, tag := range r.Tags {
			byTag[tag] = append(byTag[tag], off)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(newest)) {
		r, err := a.ReadByKey(ctx, name, key)
		switch {
		case errors.Is(err, adapter.ErrNotFound):
			v.Lost("shard %q: ReadByKey(%q) finds nothing, want record %d", name, key, newest[key])
		case v.Err(fmt.Sprintf("ReadByKey(%q, %q)", name, key), err):
		case r.Offset != newest[key] && s.deleted[r.Offset]:
			v.Resurrected("shard %q: ReadByKey(%q) returns deleted record %d", name, key, r.Offset)
		case r.Offset != newest[key]:
			v.Wrong("shard %q: ReadByKey(%q) returns record %d, want %d", name, key, r.Offset, newest[key])
		default:
			compareRecord(name, s, r, v, "ReadByKey")
		}
	}
	for _, tag := range slices.Sorted(maps.Keys(byTag)) {
		rs, err := a.ReadByTag(ctx, name, tag, 0, 1<<20)
		if v.Err(fmt.Sprintf("ReadByTag(%q, %q)", name, tag), err) {
			continue
		}
		got := make([]uint64, 0, len(rs))
		for _, r := range rs {
			got = append(got, r.Offset)
			compareRecord(name, s, r, v, "ReadByTag")
		}
		if want := byTag[tag]; !slices.Equal(got, want) && len(got) < len(want) {
			v.Lost("shard %q: ReadByTag(%q) returns %d records, want %d", name, tag, len(got), len(want))
		}
	}
}

// compareRecord checks one record read back.
func compareRecord(name string, s *corruptShard, r adapter.Record, v *corruptcase.Verdict, how string) {
	want, ok := s.live[r.Offset]
	switch {
	case !ok && s.deleted[r.Offset]:
		v.Resurrected("shard %q: %s returns deleted record %d", name, how, r.Offset)
	case !ok:
		v.Wrong("shard %q: %s returns record %d, never written", name, how, r.Offset)
	case !sameRecord(r, want):
		v.Wrong("shard %q: %s returns record %d with other contents (key %q, %d tags, %d bytes; want key %q, %d tags, %d bytes)",
			name, how, r.Offset, r.Key, len(r.Tags), len(r.Data), want.Key, len(want.Tags), len(want.Data))
	}
}

func sameRecord(a, b adapter.Record) bool {
	norm := func(r adapter.Record) adapter.Record {
		r = r.Clone()
		if len(r.Tags) == 0 {
			r.Tags = nil
		}
		for i := range r.Headers {
			if len(r.Headers[i].Value) == 0 {
				r.Headers[i].Value = nil
			}
		}
		return r
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func testCorruption(t testing.TB, h Harness) {
	corruptcase.Report(t, h.Name, corruptcase.Run(t, corruptSubject(h), corruptcase.Default()))
}

// Corruption runs the corruption case's trials on h and returns every
// result, passing or not: the corruption table is made of them. Under a
// *testing.T each trial reopens the engine in a child process re-running
// t's test, which must therefore call Corruption the same way.
func Corruption(t testing.TB, h Harness, trials []corruptcase.Trial) []corruptcase.Result {
	t.Helper()
	return corruptcase.Run(t, corruptSubject(h), trials)
}
