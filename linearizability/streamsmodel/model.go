package streamsmodel

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// producer is one producer's state on a stream.
type producer struct {
	id    string
	epoch uint64
	last  uint64
}

// stream is one stream's state.
type stream struct {
	name   string
	source string // a fork's source, "" for a root
	at     uint64 // a fork's offset in messages of the source
	msgs   []string
	prods  []producer // sorted by id
}

// state is a tree of streams, sorted by name. States are never modified
// once built: a step copies what it changes.
type state struct {
	streams []stream
}

func (s state) find(name string) int {
	i, ok := slices.BinarySearchFunc(s.streams, name, func(x stream, n string) int { return strings.Compare(x.name, n) })
	if !ok {
		return -1
	}
	return i
}

// content is what a read of stream i from the start returns.
func (s state) content(i int) []string {
	st := s.streams[i]
	if st.source == "" {
		return st.msgs
	}
	j := s.find(st.source)
	if j < 0 {
		return st.msgs
	}
	src := s.content(j)
	out := make([]string, 0, int(st.at)+len(st.msgs))
	out = append(out, src[:min(int(st.at), len(src))]...)
	return append(out, st.msgs...)
}

func (s state) length(i int) uint64 {
	st := s.streams[i]
	return st.at + uint64(len(st.msgs))
}

// with returns s with stream st put in place (added or replaced).
func (s state) with(st stream) state {
	out := state{streams: slices.Clone(s.streams)}
	i, ok := slices.BinarySearchFunc(out.streams, st.name, func(x stream, n string) int { return strings.Compare(x.name, n) })
	if ok {
		out.streams[i] = st
	} else {
		out.streams = slices.Insert(out.streams, i, st)
	}
	return out
}

// apply returns the state after in and the output the store must give
// (with Index, Duplicate, LastSeq, Created set; Data is checked apart).
func (s state) apply(in Input) (state, Output) {
	i := s.find(in.Stream)
	switch in.Kind {
	case KindCreate:
		if i >= 0 {
			if s.streams[i].source != "" {
				return s, Output{Err: ErrExists}
			}
			return s, Output{}
		}
		return s.with(stream{name: in.Stream}), Output{Created: true}
	case KindFork:
		j := s.find(in.Source)
		if j < 0 {
			return s, Output{Err: ErrNotFound}
		}
		if i >= 0 {
			st := s.streams[i]
			if st.source == in.Source && st.at == in.At {
				return s, Output{}
			}
			return s, Output{Err: ErrExists}
		}
		if in.At > s.length(j) {
			return s, Output{Err: ErrBadOffset}
		}
		return s.with(stream{name: in.Stream, source: in.Source, at: in.At}), Output{Created: true}
	case KindAppend:
		if i < 0 {
			return s, Output{Err: ErrNotFound}
		}
		st := s.streams[i]
		var np *producer
		if in.Producer != "" {
			k, known := slices.BinarySearchFunc(st.prods, in.Producer, func(p producer, id string) int { return strings.Compare(p.id, id) })
			switch {
			case !known:
				if in.Seq != 0 {
					if in.Epoch > 0 {
						return s, Output{Err: ErrEpochSeq}
					}
					return s, Output{Err: ErrSeqGap}
				}
			case in.Epoch < st.prods[k].epoch:
				return s, Output{Err: ErrStaleEpoch}
			case in.Epoch == st.prods[k].epoch && in.Seq <= st.prods[k].last:
				return s, Output{Duplicate: true, LastSeq: st.prods[k].last}
			case in.Epoch > st.prods[k].epoch && in.Seq != 0:
				return s, Output{Err: ErrEpochSeq}
			case in.Epoch == st.prods[k].epoch && in.Seq != st.prods[k].last+1:
				return s, Output{Err: ErrSeqGap}
			}
			np = &producer{id: in.Producer, epoch: in.Epoch, last: in.Seq}
		}
		out := Output{Index: s.length(i)}
		st.msgs = append(slices.Clip(st.msgs), in.Data)
		if np != nil {
			out.LastSeq = np.last
			k, known := slices.BinarySearchFunc(st.prods, np.id, func(p producer, id string) int { return strings.Compare(p.id, id) })
			st.prods = slices.Clone(st.prods)
			if known {
				st.prods[k] = *np
			} else {
				st.prods = slices.Insert(st.prods, k, *np)
			}
		}
		return s.with(st), out
	case KindRead:
		if i < 0 {
			return s, Output{Err: ErrNotFound}
		}
		return s, Output{Data: s.content(i)}
	}
	return s, Output{Err: ErrOtherRefuse}
}

// matches reports whether the store's output agrees with the model's.
func matches(want, got Output, kind Kind) bool {
	if want.Err != got.Err {
		return false
	}
	if want.Err != ErrNone {
		return true
	}
	switch kind {
	case KindCreate, KindFork:
		return want.Created == got.Created
	case KindAppend:
		if want.Duplicate != got.Duplicate || want.LastSeq != got.LastSeq {
			return false
		}
		return want.Duplicate || want.Index == got.Index
	case KindRead:
		return slices.Equal(want.Data, got.Data)
	}
	return false
}

// step returns the states in may lead to given its output.
func step(s state, in Input, out Output) []state {
	if in.Kind == KindCrash {
		return []state{s}
	}
	next, want := s.apply(in)
	if out.Err == ErrUnknown {
		// It happened, or it did not.
		if in.Kind == KindRead {
			return []state{s}
		}
		return []state{s, next}
	}
	if !matches(want, out, in.Kind) {
		return nil
	}
	return []state{next}
}

func equalState(a, b state) bool {
	return slices.EqualFunc(a.streams, b.streams, func(x, y stream) bool {
		return x.name == y.name && x.source == y.source && x.at == y.at && slices.Equal(x.msgs, y.msgs) && slices.Equal(x.prods, y.prods)
	})
}

func hashState(s state) uint64 {
	h := fnv.New64a()
	for _, st := range s.streams {
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00", st.name, st.source, st.at, len(st.msgs))
		for _, m := range st.msgs {
			h.Write([]byte(m))
			h.Write([]byte{0})
		}
		for _, p := range st.prods {
			fmt.Fprintf(h, "%s/%d/%d\x00", p.id, p.epoch, p.last)
		}
	}
	return h.Sum64()
}

func describeState(s state) string {
	var b strings.Builder
	for i, st := range s.streams {
		fmt.Fprintf(&b, "%s: [%s]", st.name, strings.Join(s.content(i), " "))
		for _, p := range st.prods {
			fmt.Fprintf(&b, " %s@%d/%d", p.id, p.epoch, p.last)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Tree returns the tree a stream belongs to: its name up to the first '/'.
func Tree(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}

// Partition splits a history per tree of streams; see the package
// documentation for why that is sound.
func Partition(history []porcupine.Operation) [][]porcupine.Operation {
	idx := map[string]int{}
	var parts [][]porcupine.Operation
	for _, op := range history {
		t := Tree(op.Input.(Input).Stream)
		i, ok := idx[t]
		if !ok {
			i = len(parts)
			idx[t] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

// Model returns the porcupine model of a store. With partition false the
// history is checked as one piece.
func Model(partition bool) porcupine.Model {
	t := linearizability.Typed[state, Input, Output]{
		Init:              func() state { return state{} },
		Step:              step,
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
