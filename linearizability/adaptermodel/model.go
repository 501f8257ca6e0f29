package adaptermodel

import (
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Traits are the engine's declarations the model depends on.
type Traits struct {
	// Persistent engines keep their state across a crash; others lose it.
	Persistent bool `json:"persistent"`
	// SyncOnWrite engines make every acknowledged mutation durable.
	SyncOnWrite bool `json:"sync_on_write"`
}

// TraitsOf returns the traits an engine declares.
func TraitsOf(c adapter.Capabilities) Traits {
	return Traits{Persistent: c.Persistent, SyncOnWrite: c.SyncOnWrite}
}

// rec is a record as the model keeps it; its offset is its position.
type rec struct {
	key  string
	tags []string
	ts   int64
	sum  uint64
}

type groupOff struct {
	name string
	off  uint64
}

// shard is one state of a shard. recs is shared between states and only
// ever appended to through a clipped slice; dead and groups are copied on
// change.
type shard struct {
	recs   []rec
	dead   []uint64   // deleted offsets, ascending
	groups []groupOff // by name
}

func (s shard) next() uint64 { return uint64(len(s.recs)) }

func (s shard) live(o uint64) bool {
	_, found := slices.BinarySearch(s.dead, o)
	return o < s.next() && !found
}

func (s shard) equal(o shard) bool {
	if len(s.recs) != len(o.recs) || !slices.Equal(s.dead, o.dead) || !slices.Equal(s.groups, o.groups) {
		return false
	}
	for i := range s.recs {
		if s.recs[i].sum != o.recs[i].sum {
			return false
		}
	}
	return true
}

func (s shard) hash(h uint64) uint64 {
	for _, r := range s.recs {
		h = mix(h, r.sum)
	}
	h = mix(h, uint64(len(s.recs)))
	for _, d := range s.dead {
		h = mix(h, d)
	}
	for _, g := range s.groups {
		for i := 0; i < len(g.name); i++ {
			h = mix(h, uint64(g.name[i]))
		}
		h = mix(h, g.off)
	}
	return mix(h, uint64(len(s.dead))<<32|uint64(len(s.groups)))
}

func (s shard) group(name string) (uint64, bool) {
	i, found := slices.BinarySearchFunc(s.groups, name, func(g groupOff, n string) int { return strings.Compare(g.name, n) })
	if !found {
		return 0, false
	}
	return s.groups[i].off, true
}

func (s shard) withDead(offs []uint64) shard {
	n := s
	n.dead = slices.Clone(s.dead)
	for _, o := range offs {
		if i, found := slices.BinarySearch(n.dead, o); !found {
			n.dead = slices.Insert(n.dead, i, o)
		}
	}
	return n
}

// apply returns the shard after a mutation (nil: it changes nothing) and
// the error class the mutation must report.
func (s shard) apply(in Input) (next *shard, want ErrClass) {
	switch in.Kind {
	case KindWrite:
		if len(in.Records) == 0 {
			return nil, ErrNone
		}
		n := s
		n.recs = slices.Clip(s.recs)
		for _, r := range in.Records {
			n.recs = append(n.recs, rec{key: r.Key, tags: r.Tags, ts: r.TS, sum: r.Sum})
		}
		return &n, ErrNone
	case KindDeleteOffset:
		if !s.live(in.Offset) {
			return nil, ErrNotFound
		}
		n := s.withDead([]uint64{in.Offset})
		return &n, ErrNone
	case KindDeleteKey:
		var offs []uint64
		for o, r := range s.recs {
			if r.key == in.Key && s.live(uint64(o)) {
				offs = append(offs, uint64(o))
			}
		}
		if len(offs) == 0 {
			return nil, ErrNotFound
		}
		n := s.withDead(offs)
		return &n, ErrNone
	case KindCommit:
		if cur, ok := s.group(in.Group); ok && cur == in.Offset {
			return nil, ErrNone
		}
		n := s
		n.groups = slices.Clone(s.groups)
		i, found := slices.BinarySearchFunc(n.groups, in.Group, func(g groupOff, name string) int { return strings.Compare(g.name, name) })
		if found {
			n.groups[i].off = in.Offset
		} else {
			n.groups = slices.Insert(n.groups, i, groupOff{in.Group, in.Offset})
		}
		return &n, ErrNone
	}
	return nil, ErrNone
}

// read checks a read's output against s.
func (s shard) read(in Input, out Output) bool {
	if readFailed(out.Err) {
		return true // a read that failed tells nothing
	}
	scan := func(match func(rec) bool) bool {
		if out.Err != ErrNone {
			return false
		}
		var want []Got
		for o := in.Offset; o < s.next() && len(want) < in.Limit; o++ {
			if r := s.recs[o]; s.live(o) && match(r) {
				want = append(want, Got{Offset: o, Sum: r.sum})
			}
		}
		return slices.Equal(want, out.Records)
	}
	switch in.Kind {
	case KindReadOffset:
		return scan(func(rec) bool { return true })
	case KindReadTag:
		return scan(func(r rec) bool { return slices.Contains(r.tags, in.Tag) })
	case KindReadKey:
		for o := int(s.next()) - 1; o >= 0; o-- {
			if r := s.recs[o]; r.key == in.Key && s.live(uint64(o)) {
				return out.Err == ErrNone && slices.Equal(out.Records, []Got{{Offset: uint64(o), Sum: r.sum}})
			}
		}
		return out.Err == ErrNotFound
	case KindSeek:
		for o, r := range s.recs {
			if r.ts >= in.TS && s.live(uint64(o)) {
				return out.Err == ErrNone && out.Value == uint64(o)
			}
		}
		return out.Err == ErrNotFound
	case KindGroup:
		if off, ok := s.group(in.Group); ok {
			return out.Err == ErrNone && out.Value == off
		}
		return out.Err == ErrNotFound
	}
	return false
}

// readFailed reports whether a read's error tells nothing of the state.
func readFailed(e ErrClass) bool {
	return e == ErrStorage || e == ErrEngineFailed || e == ErrUnknown
}

// part is the model of one shard: the live state, the states a crash may
// leave (oldest, durable, first), and whether the engine has failed.
type part struct {
	live   shard
	crash  []shard
	failed bool
}

func emptyPart() part { return part{crash: []shard{{}}} }

func (p part) equal(o part) bool {
	if p.failed != o.failed || !p.live.equal(o.live) || len(p.crash) != len(o.crash) {
		return false
	}
	for i := range p.crash {
		if !p.crash[i].equal(o.crash[i]) {
			return false
		}
	}
	return true
}

// mutate steps a part through a mutation whose effect, if it happened, is
// next (nil: no change) and whose required error is want.
func (p part) mutate(tr Traits, in Input, next *shard, want ErrClass, out Output) []part {
	grow := func() []shard { return append(slices.Clip(p.crash), *next) }
	switch out.Err {
	case ErrNone:
		if want != ErrNone || p.failed && next != nil {
			return nil // a failed engine must refuse every mutation
		}
		if in.Kind == KindWrite && !offsetsFrom(out.Offsets, p.live.next(), len(in.Records)) {
			return nil
		}
		if next == nil {
			return []part{p}
		}
		q := part{live: *next}
		if tr.SyncOnWrite {
			q.crash = []shard{q.live}
		} else {
			q.crash = append(slices.Clip(p.crash), q.live)
		}
		return []part{q}
	case ErrEngineFailed, ErrStorage:
		// The SPI lets a mutation that returned an error have happened:
		// a read racing it may see it. Either way it may survive a crash,
		// and the engine has failed.
		q := p
		q.failed = true
		if want != ErrNone || next == nil {
			return []part{q}
		}
		q.crash = grow()
		return []part{q, {live: *next, crash: q.crash, failed: true}}
	case ErrUnknown:
		outs := []part{p}
		if want == ErrNone && next != nil {
			hidden := p
			hidden.failed = true
			hidden.crash = grow()
			outs = append(outs, hidden)
			if !p.failed {
				outs = append(outs, part{live: *next, crash: grow()})
			}
		}
		return outs
	case ErrCorruptData, ErrSemantic:
		return nil
	}
	if out.Err == want {
		return []part{p}
	}
	return nil
}

func offsetsFrom(offs []uint64, first uint64, n int) bool {
	if len(offs) != n {
		return false
	}
	for i, o := range offs {
		if o != first+uint64(i) {
			return false
		}
	}
	return true
}

// crashed returns the parts a crash may leave.
func (p part) crashed(tr Traits) []part {
	if !tr.Persistent {
		return []part{emptyPart()}
	}
	outs := make([]part, 0, len(p.crash))
	for _, s := range p.crash {
		q := part{live: s, crash: []shard{s}}
		if !slices.ContainsFunc(outs, q.equal) {
			outs = append(outs, q)
		}
	}
	return outs
}

// named is one shard's part in a state.
type named struct {
	name string
	p    part
}

// state is the model's state: the shards touched so far, by name. A
// partitioned check holds one.
type state []named

func (s state) get(name string) (part, int) {
	i, found := slices.BinarySearchFunc(s, name, func(n named, x string) int { return strings.Compare(n.name, x) })
	if !found {
		return emptyPart(), -i - 1
	}
	return s[i].p, i
}

func (s state) with(name string, i int, p part) state {
	n := slices.Clone(s)
	if i < 0 {
		return slices.Insert(n, -i-1, named{name, p})
	}
	n[i].p = p
	return n
}

func step(tr Traits, st state, in Input, out Output) []state {
	if in.Kind == KindCrash {
		outs := []state{{}}
		for _, n := range st {
			var grown []state
			for _, q := range n.p.crashed(tr) {
				for _, o := range outs {
					grown = append(grown, append(slices.Clip(o), named{n.name, q}))
				}
			}
			outs = grown
		}
		return outs
	}
	p, i := st.get(in.Shard)
	if in.Kind.IsMutation() {
		next, want := p.live.apply(in)
		var outs []state
		for _, q := range p.mutate(tr, in, next, want, out) {
			outs = append(outs, st.with(in.Shard, i, q))
		}
		return outs
	}
	if p.live.read(in, out) {
		return []state{st}
	}
	return nil
}

func equalState(a, b state) bool {
	return slices.EqualFunc(a, b, func(x, y named) bool { return x.name == y.name && x.p.equal(y.p) })
}

func hashState(s state) uint64 {
	h := uint64(0xada9)
	for _, n := range s {
		for i := 0; i < len(n.name); i++ {
			h = mix(h, uint64(n.name[i]))
		}
		h = n.p.live.hash(h)
		for _, c := range n.p.crash {
			h = c.hash(h)
		}
		if n.p.failed {
			h = mix(h, 7)
		}
	}
	return h
}

// mix folds v into h (a splitmix64 step).
func mix(h, v uint64) uint64 {
	h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ (h >> 31)
}

func describeState(s state) string {
	parts := make([]string, 0, len(s))
	for _, n := range s {
		str := fmt.Sprintf("%s: next %d, %d deleted, %d groups", n.name, n.p.live.next(), len(n.p.live.dead), len(n.p.live.groups))
		if len(n.p.crash) > 1 {
			str += fmt.Sprintf(" (crash: %d states)", len(n.p.crash))
		}
		if n.p.failed {
			str += " failed"
		}
		parts = append(parts, str)
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, "; ")
}

// Partition splits a history by shard; crashes go to every partition (see
// the package documentation for why this is sound).
func Partition(history []porcupine.Operation) [][]porcupine.Operation {
	var names []string
	by := map[string][]porcupine.Operation{}
	var crashes []int
	for i, op := range history {
		in := op.Input.(Input)
		if in.Kind == KindCrash {
			crashes = append(crashes, i)
			continue
		}
		if _, ok := by[in.Shard]; !ok {
			names = append(names, in.Shard)
		}
		by[in.Shard] = append(by[in.Shard], op)
	}
	if len(names) == 0 {
		return [][]porcupine.Operation{history}
	}
	slices.Sort(names)
	parts := make([][]porcupine.Operation, 0, len(names))
	for _, n := range names {
		ops := by[n]
		for _, c := range crashes {
			ops = append(ops, history[c])
		}
		parts = append(parts, ops)
	}
	return parts
}

// Model returns the porcupine model of an engine with the given traits.
// With partition false the history is checked as one piece (slower; the
// tests use it to confirm the partitioned verdict).
func Model(tr Traits, partition bool) porcupine.Model {
	t := linearizability.Typed[state, Input, Output]{
		Init:              func() state { return state{} },
		Step:              func(s state, in Input, out Output) []state { return step(tr, s, in, out) },
		Equal:             equalState,
		Hash:              hashState,
		DescribeOperation: func(in Input, out Output) string { return in.String() + " -> " + out.String() },
		DescribeState:     describeState,
	}
	if partition {
		t.Partition = Partition
	}
	return t.Model()
}
