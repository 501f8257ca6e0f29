package tieredmodel

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/rlmmmodel"
)

// StoreTraits are a storage manager's declarations the model depends on.
type StoreTraits struct {
	// Persistent storage keeps its segments across a crash; other storage
	// loses them.
	Persistent bool `json:"persistent"`
	// SyncOnWrite storage makes an acknowledged copy or delete durable;
	// other storage may undo it at a crash.
	SyncOnWrite bool `json:"sync_on_write"`
}

// Traits are the declarations of both managers.
type Traits struct {
	RSM  StoreTraits      `json:"rsm"`
	RLMM rlmmmodel.Traits `json:"rlmm"`
}

// TraitsOf returns the traits the two managers declare.
func TraitsOf(rsm, rlmm tiered.Capabilities) Traits {
	return Traits{RSM: StoreTraits{Persistent: rsm.Persistent, SyncOnWrite: rsm.SyncOnWrite}, RLMM: rlmmmodel.TraitsOf(rlmm)}
}

// copied is what a copy put in the remote tier: the content of its local
// files and its leader-epoch index.
type copied struct {
	content Content
	epochs  string
}

func copiedOf(in Input) copied {
	c := *in.Content
	c.Missing = ""
	return copied{content: c, epochs: string(LeaderEpochIndex(in.Seg.Epochs))}
}

// stored is one segment in the remote tier as the model keeps it. A
// present segment holds data. flip says that a crash may turn it over:
// a present segment may then be gone, an absent one back with data (a
// delete, or the removal by a failed copy, that may not be durable).
type stored struct {
	id      string
	present bool
	flip    bool
	data    copied
}

// ghost is what a failed mutation leaves of prior: nothing now, but what
// prior held may come back at a crash.
func ghost(prior stored) stored {
	return stored{id: prior.id, flip: prior.present || prior.flip, data: prior.data}
}

// state is one partition's state: the metadata manager's (rlmmmodel's)
// and the storage manager's segments.
type state struct {
	meta rlmmmodel.State
	rsm  []stored // by id
}

func (s state) find(id string) (int, bool) {
	return slices.BinarySearchFunc(s.rsm, id, func(x stored, id string) int { return strings.Compare(x.id, id) })
}

func (s state) get(id string) stored {
	if i, ok := s.find(id); ok {
		return s.rsm[i]
	}
	return stored{id: id}
}

// with returns s with seg set.
func (s state) with(seg stored) state {
	i, ok := s.find(seg.id)
	n := state{meta: s.meta, rsm: slices.Clone(s.rsm)}
	if ok {
		n.rsm[i] = seg
	} else {
		n.rsm = slices.Insert(n.rsm, i, seg)
	}
	return n
}

// withEach returns s with seg set to each of segs, duplicates dropped.
func (s state) withEach(segs ...stored) []state {
	var out []state
	for i, seg := range segs {
		if slices.Contains(segs[:i], seg) {
			continue
		}
		out = append(out, s.with(seg))
	}
	return out
}

// crash returns the storage manager's states after a crash: all gone if
// it is not persistent, else each segment that may flip either way.
func crashStore(tr StoreTraits, segs []stored) [][]stored {
	if !tr.Persistent {
		return [][]stored{nil}
	}
	out := [][]stored{nil}
	for _, seg := range segs {
		kept := seg
		kept.flip = false
		var alts []stored
		if seg.flip {
			gone := kept
			gone.present = false
			kept.present = true
			alts = []stored{kept, gone}
		} else {
			alts = []stored{kept}
		}
		var next [][]stored
		for _, prefix := range out {
			for _, a := range alts {
				next = append(next, append(slices.Clone(prefix), a))
			}
		}
		out = next
	}
	return out
}

// storeStep is Step for the storage manager's operations.
func (s state) storeStep(tr StoreTraits, in Input, out Output) []state {
	prior := s.get(in.Seg.ID)
	uncertain := out.Err == rlmmmodel.ErrStorage || out.Err == rlmmmodel.ErrUnknown
	switch in.Kind {
	case KindCopy:
		if in.Content == nil {
			return nil
		}
		done := stored{id: prior.id, present: true, flip: !tr.SyncOnWrite, data: copiedOf(in)}
		switch {
		case uncertain:
			// Not done, done, or failed; done may not be durable yet.
			maybe := done
			maybe.flip = true
			return s.withEach(prior, ghost(prior), done, maybe)
		case in.Content.Missing != "":
			// A copy with a source file missing must fail, and leave the
			// segment absent even if an earlier copy had succeeded.
			if out.Err == rlmmmodel.ErrNone {
				return nil
			}
			return []state{s.with(ghost(prior))}
		case out.Err == rlmmmodel.ErrNone:
			return []state{s.with(done)}
		}
		return nil
	case KindDeleteData:
		gone := stored{id: prior.id}
		if !tr.SyncOnWrite {
			gone = ghost(prior)
		}
		switch {
		case uncertain:
			return s.withEach(prior, ghost(prior))
		case out.Err == rlmmmodel.ErrNone:
			return []state{s.with(gone)}
		}
		return nil
	case KindFetch, KindFetchIndex:
		if out.Err == rlmmmodel.ErrUnknown || readOK(prior, in, out) {
			return []state{s}
		}
	}
	return nil
}

// readOK reports whether a fetch's output is one the storage manager may
// give for seg.
func readOK(seg stored, in Input, out Output) bool {
	var errs []ErrClass
	var want []byte
	switch in.Kind {
	case KindFetch:
		if in.Start < 0 || in.End < in.Start {
			errs = append(errs, rlmmmodel.ErrInvalidArgument)
		}
		if !seg.present {
			errs = append(errs, rlmmmodel.ErrNotFound)
		} else {
			log := seg.data.content.Bytes("log")
			n := int64(len(log))
			if in.Start > n {
				errs = append(errs, rlmmmodel.ErrInvalidArgument)
			} else if len(errs) == 0 {
				want = log[in.Start : min(in.End, n-1)+1]
			}
		}
	case KindFetchIndex:
		if !in.Index.Valid() {
			errs = append(errs, rlmmmodel.ErrInvalidArgument)
		}
		if !seg.present {
			errs = append(errs, rlmmmodel.ErrNotFound)
		} else if b, ok := seg.data.content.index(in.Index, seg.data.epochs); !ok && in.Index.Valid() {
			errs = append(errs, rlmmmodel.ErrNotFound)
		} else {
			want = b
		}
	}
	if len(errs) > 0 {
		return slices.Contains(errs, out.Err)
	}
	return out.Err == rlmmmodel.ErrNone && out.Len == int64(len(want)) && out.Sum == Sum(want)
}

func step(tr Traits, s state, in Input, out Output) []state {
	if IsStorage(in.Kind) {
		return s.storeStep(tr.RSM, in, out)
	}
	metas := rlmmmodel.Step(tr.RLMM, s.meta, in.Input, out.Output)
	if len(metas) == 0 {
		return nil
	}
	stores := [][]stored{s.rsm}
	if in.Kind == KindCrash {
		stores = crashStore(tr.RSM, s.rsm)
	}
	out2 := make([]state, 0, len(metas)*len(stores))
	for _, m := range metas {
		for _, r := range stores {
			out2 = append(out2, state{meta: m, rsm: r})
		}
	}
	return out2
}

func equal(a, b state) bool { return slices.Equal(a.rsm, b.rsm) && a.meta.Equal(b.meta) }

func hashState(s state) uint64 {
	h := fnv.New64a()
	s.meta.HashTo(h)
	for _, x := range s.rsm {
		fmt.Fprintf(h, "%s:%v:%v:%v;", x.id, x.present, x.flip, x.data)
	}
	return h.Sum64()
}

func describeState(s state) string {
	var b strings.Builder
	b.WriteString(s.meta.String())
	b.WriteString(" | remote:")
	for _, x := range s.rsm {
		id := x.id
		if len(id) > 6 {
			id = id[:6]
		}
		switch {
		case x.present && x.flip:
			fmt.Fprintf(&b, " %s(unsynced)", id)
		case x.present:
			fmt.Fprintf(&b, " %s", id)
		case x.flip:
			fmt.Fprintf(&b, " -%s(may return)", id)
		}
	}
	return b.String()
}

// Partition splits a history by topic-partition (rlmmmodel.Partitioner):
// each storage manager call names one segment of one partition.
var Partition = rlmmmodel.Partitioner(func(in any) rlmmmodel.Input { return in.(Input).Input }, func(in any, tp string) any {
	x := in.(Input)
	x.TP = tp
	return x
})

// Model returns the porcupine model of the two managers with traits tr.
func Model(tr Traits) porcupine.Model {
	return linearizability.Typed[state, Input, Output]{
		Partition:         Partition,
		Init:              func() state { return state{} },
		Step:              func(s state, in Input, out Output) []state { return step(tr, s, in, out) },
		Equal:             equal,
		Hash:              hashState,
		DescribeOperation: Describe,
		DescribeState:     describeState,
	}.Model()
}
