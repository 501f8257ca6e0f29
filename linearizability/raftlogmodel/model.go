package raftlogmodel

import (
	"fmt"
	"slices"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Traits are the engine's declarations the model depends on.
type Traits struct {
	// Persistent engines keep their state across a crash; others lose it.
	Persistent bool `json:"persistent"`
	// SyncOnWrite engines make every acknowledged mutation durable; others
	// only at a successful Flush.
	SyncOnWrite bool `json:"sync_on_write"`
}

// TraitsOf returns the traits an engine declares.
func TraitsOf(c raftlog.Capabilities) Traits {
	return Traits{Persistent: c.Persistent, SyncOnWrite: c.SyncOnWrite}
}

// entKey is an entry as the model keeps it; its index is its position.
type entKey struct{ term, sum uint64 }

// logState is one state of the log.
type logState struct {
	purged raftlog.LogID
	ents   []entKey // ents[i] is at index purged.Index+1+i
}

func (s logState) last() uint64 { return s.purged.Index + uint64(len(s.ents)) }

func (s logState) equal(o logState) bool {
	return s.purged == o.purged && slices.Equal(s.ents, o.ents)
}

func (s logState) hash(h uint64) uint64 {
	h = mix(h, s.purged.Index)
	h = mix(h, s.purged.Term)
	for _, e := range s.ents {
		h = mix(mix(h, e.term), e.sum)
	}
	return mix(h, uint64(len(s.ents)))
}

// apply returns the states after each step of a mutation (one per entry of
// an append, so that a crash may cut a batch; one otherwise) and the error
// class the mutation must report. No states means no change.
func (s logState) apply(in Input) (steps []logState, want ErrClass) {
	switch in.Kind {
	case KindAppend:
		if len(in.Entries) == 0 {
			return nil, ErrNone
		}
		for i, r := range in.Entries {
			if r.Index != s.last()+1+uint64(i) {
				return nil, ErrNonContiguous
			}
		}
		steps = make([]logState, len(in.Entries))
		for i := range in.Entries {
			ents := make([]entKey, len(s.ents), len(s.ents)+i+1)
			copy(ents, s.ents)
			for _, r := range in.Entries[:i+1] {
				ents = append(ents, entKey{term: r.Term, sum: r.Sum})
			}
			steps[i] = logState{purged: s.purged, ents: ents}
		}
		return steps, ErrNone
	case KindTruncate:
		if in.Index <= s.purged.Index {
			return nil, ErrCompacted
		}
		if in.Index > s.last() {
			return nil, ErrNone
		}
		return []logState{{purged: s.purged, ents: slices.Clone(s.ents[:in.Index-s.purged.Index-1])}}, ErrNone
	case KindPurge:
		if in.Index <= s.purged.Index {
			return nil, ErrNone
		}
		n := logState{purged: raftlog.LogID{Index: in.Index, Term: in.Term}}
		if in.Index < s.last() {
			n.ents = slices.Clone(s.ents[in.Index-s.purged.Index:])
		}
		return []logState{n}, ErrNone
	case KindReset:
		if s.purged == (raftlog.LogID{}) && len(s.ents) == 0 {
			return nil, ErrNone
		}
		return []logState{{}}, ErrNone
	}
	return nil, ErrNone
}

// read checks a read's output against s.
func (s logState) read(in Input, out Output) bool {
	if readFailed(out.Err) {
		return true // a read that failed tells nothing
	}
	match := func(lo uint64, got []EntryRef) bool {
		for i, r := range got {
			idx := lo + uint64(i)
			if r.Index != idx || idx <= s.purged.Index || idx > s.last() {
				return false
			}
			if e := s.ents[idx-s.purged.Index-1]; e.term != r.Term || e.sum != r.Sum {
				return false
			}
		}
		return true
	}
	switch in.Kind {
	case KindEntry:
		switch {
		case in.Index <= s.purged.Index:
			return out.Err == ErrCompacted
		case in.Index > s.last():
			return out.Err == ErrNotFound
		}
		return out.Err == ErrNone && len(out.Entries) == 1 && match(in.Index, out.Entries)
	case KindEntries:
		switch {
		case in.Index == 0 || in.Index > in.Hi:
			return out.Err == ErrInvalidRange
		case in.Index <= s.purged.Index:
			return out.Err == ErrCompacted
		}
		want := 0
		if hi := min(in.Hi, s.last()); in.Index <= hi {
			want = int(hi - in.Index + 1)
		}
		return out.Err == ErrNone && len(out.Entries) == want && match(in.Index, out.Entries)
	case KindLast:
		return out.Err == ErrNone && out.Value == s.last()
	case KindFirst:
		return out.Err == ErrNone && out.Value == s.purged.Index+1
	case KindPurgedID:
		return out.Err == ErrNone && out.ID == s.purged
	}
	return false
}

// readFailed reports whether a read's error tells nothing of the state: a
// storage error, an engine failed by an earlier one, no response.
func readFailed(e ErrClass) bool {
	return e == ErrStorage || e == ErrEngineFailed || e == ErrUnknown
}

// hsValue is the hard state register's value.
type hsValue struct {
	hs  raftlog.HardState
	set bool
}

// part is the model of one partition: S is logState or hsValue.
type part[S any] struct {
	live   S
	crash  []S // states a crash may leave, oldest (durable) first
	failed bool
}

// state is the model's state: both partitions (a partitioned check only
// ever changes one of them, and both see crashes).
type state struct {
	log  part[logState]
	meta part[hsValue]
}

func initState() state {
	return state{
		log:  part[logState]{crash: []logState{{}}},
		meta: part[hsValue]{crash: []hsValue{{}}},
	}
}

// mutate steps a partition through a mutation whose effect, if it happened,
// is steps (nil: it changes nothing) and whose required error is want.
// It returns the possible next partitions.
func mutate[S any](p part[S], tr Traits, steps []S, want ErrClass, out Output) []part[S] {
	noop := len(steps) == 0
	grow := func(crash []S) []S { return append(slices.Clip(crash), steps...) }
	switch out.Err {
	case ErrNone:
		if want != ErrNone {
			return nil
		}
		if noop {
			return []part[S]{p}
		}
		if p.failed {
			return nil // a failed engine must refuse every mutation
		}
		next := part[S]{live: steps[len(steps)-1]}
		if tr.SyncOnWrite {
			next.crash = []S{next.live}
		} else {
			next.crash = grow(p.crash)
		}
		return []part[S]{next}
	case ErrEngineFailed, ErrStorage:
		// Not visible now; may survive a crash; the engine has failed. The
		// call whose sync failed may report ErrFailed itself, so a refusal
		// cannot be told from the failure that caused it.
		q := p
		q.failed = true
		if want == ErrNone && !noop {
			q.crash = grow(p.crash)
		}
		return []part[S]{q}
	case ErrUnknown:
		outs := []part[S]{p}
		if want == ErrNone && !noop {
			hidden := p
			hidden.failed = true
			hidden.crash = grow(p.crash)
			outs = append(outs, hidden)
			if !p.failed {
				outs = append(outs, part[S]{live: steps[len(steps)-1], crash: grow(p.crash)})
			}
		}
		return outs
	case ErrCorruptData:
		return nil
	}
	// A semantic error: it must be the one required, and changes nothing.
	if out.Err == want {
		return []part[S]{p}
	}
	return nil
}

// flush steps a partition through a Flush.
func flush[S any](p part[S], out Output) []part[S] {
	switch out.Err {
	case ErrNone:
		if p.failed {
			return []part[S]{p} // what failed stays uncertain
		}
		return []part[S]{{live: p.live, crash: []S{p.live}}}
	case ErrUnknown:
		if p.failed {
			return []part[S]{p}
		}
		return []part[S]{p, {live: p.live, crash: []S{p.live}}}
	case ErrCorruptData:
		return nil
	}
	p.failed = true
	return []part[S]{p}
}

// crash steps a partition through a crash: the state is any of those a
// crash may leave (or the zero state for an engine that keeps nothing).
func crash[S any](p part[S], tr Traits) []part[S] {
	if !tr.Persistent {
		var zero S
		return []part[S]{{live: zero, crash: []S{zero}}}
	}
	outs := make([]part[S], len(p.crash))
	for i, s := range p.crash {
		outs[i] = part[S]{live: s, crash: []S{s}}
	}
	return outs
}

// step is the nondeterministic step function.
func step(tr Traits, st state, in Input, out Output) []state {
	var outs []state
	switch {
	case in.Kind == KindCrash:
		logs, metas := crash(st.log, tr), crash(st.meta, tr)
		for _, l := range logs {
			for _, m := range metas {
				outs = append(outs, state{log: l, meta: m})
			}
		}
		return outs
	case in.Kind == KindFlush:
		for _, l := range flush(st.log, out) {
			outs = append(outs, state{log: l, meta: st.meta})
		}
		return outs
	case in.Kind == KindFlushMeta:
		for _, m := range flush(st.meta, out) {
			outs = append(outs, state{log: st.log, meta: m})
		}
		return outs
	case in.Kind == KindSaveHS:
		next := []hsValue{{hs: in.HS, set: true}}
		if st.meta.live == next[0] {
			next = nil
		}
		for _, m := range mutate(st.meta, tr, next, ErrNone, out) {
			outs = append(outs, state{log: st.log, meta: m})
		}
		return outs
	case in.Kind == KindLoadHS:
		switch {
		case readFailed(out.Err):
			return []state{st}
		case out.Err == ErrNone:
			if out.Found == st.meta.live.set && (!out.Found || out.HS == st.meta.live.hs) {
				return []state{st}
			}
		}
		return nil
	case in.Kind.IsMutation():
		steps, want := st.log.live.apply(in)
		for _, l := range mutate(st.log, tr, steps, want, out) {
			outs = append(outs, state{log: l, meta: st.meta})
		}
		return outs
	case in.Kind.IsLog():
		if st.log.live.read(in, out) {
			return []state{st}
		}
		return nil
	}
	return nil
}

func equalPart[S any](a, b part[S], eq func(S, S) bool) bool {
	if a.failed != b.failed || !eq(a.live, b.live) || len(a.crash) != len(b.crash) {
		return false
	}
	for i := range a.crash {
		if !eq(a.crash[i], b.crash[i]) {
			return false
		}
	}
	return true
}

func equalState(a, b state) bool {
	return equalPart(a.log, b.log, logState.equal) &&
		equalPart(a.meta, b.meta, func(x, y hsValue) bool { return x == y })
}

func hashHS(h uint64, v hsValue) uint64 {
	h = mix(h, v.hs.Term)
	h = mix(h, v.hs.Vote.Term)
	for i := 0; i < len(v.hs.Vote.Candidate); i++ {
		h = mix(h, uint64(v.hs.Vote.Candidate[i]))
	}
	h = mix(h, v.hs.Commit)
	if v.set {
		h = mix(h, 1)
	}
	return h
}

func hashState(s state) uint64 {
	h := s.log.live.hash(0x51ed)
	for _, c := range s.log.crash {
		h = c.hash(h)
	}
	h = hashHS(h, s.meta.live)
	for _, c := range s.meta.crash {
		h = hashHS(h, c)
	}
	if s.log.failed {
		h = mix(h, 2)
	}
	if s.meta.failed {
		h = mix(h, 3)
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
	l := s.log.live
	str := fmt.Sprintf("log %s..%d", l.purged, l.last())
	if len(s.log.crash) > 1 || (len(s.log.crash) == 1 && !s.log.crash[0].equal(l)) {
		str += fmt.Sprintf(" (crash: %d states)", len(s.log.crash))
	}
	if s.log.failed {
		str += " failed"
	}
	if s.meta.live.set {
		str += " hs " + hsString(s.meta.live.hs)
	}
	if s.meta.failed {
		str += " meta-failed"
	}
	return str
}

// Partition splits a history into the log and the hard state; crashes go
// to both (see the package documentation for why this is sound). A
// partition with nothing but crashes is left out.
func Partition(history []porcupine.Operation) [][]porcupine.Operation {
	var logOps, metaOps []porcupine.Operation
	nLog, nMeta := 0, 0
	for _, op := range history {
		k := op.Input.(Input).Kind
		switch {
		case k == KindCrash:
			logOps = append(logOps, op)
			metaOps = append(metaOps, op)
		case k.IsMeta():
			metaOps = append(metaOps, op)
			nMeta++
		default:
			logOps = append(logOps, op)
			nLog++
		}
	}
	var parts [][]porcupine.Operation
	if nLog > 0 {
		parts = append(parts, logOps)
	}
	if nMeta > 0 {
		parts = append(parts, metaOps)
	}
	if len(parts) == 0 {
		parts = append(parts, history)
	}
	return parts
}

// Model returns the porcupine model of an engine with the given traits.
// With partition false the history is checked as one piece (slower; the
// tests use it to confirm the partitioned verdict).
func Model(tr Traits, partition bool) porcupine.Model {
	t := linearizability.Typed[state, Input, Output]{
		Init:              initState,
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
