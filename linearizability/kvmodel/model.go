package kvmodel

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// state is what one key holds.
type state struct {
	found bool
	value string
}

// step returns the states in may lead to from s given its output.
func step(s state, in Input, out Output) []state {
	switch in.Kind {
	case KindCrash:
		return []state{s}
	}
	if out.Err == ErrUnavailable {
		return []state{s}
	}
	switch in.Kind {
	case KindRead:
		if out.Err == ErrUnknown {
			return []state{s}
		}
		if out.Err != ErrNone || out.Found != s.found || (s.found && out.Value != s.value) {
			return nil
		}
		return []state{s}
	case KindWrite:
		next := state{found: true, value: in.Value}
		switch out.Err {
		case ErrUnknown:
			return []state{s, next}
		case ErrNone:
			return []state{next}
		}
		return nil
	case KindCAS:
		match := s.found && s.value == in.Old
		next := state{found: true, value: in.Value}
		switch out.Err {
		case ErrUnknown:
			if match {
				return []state{s, next}
			}
			return []state{s}
		case ErrNone:
			if match {
				return []state{next}
			}
			return nil
		case ErrMismatch:
			if !match && out.Found == s.found && (!s.found || out.Value == s.value) {
				return []state{s}
			}
			return nil
		}
	}
	return nil
}

func hashState(s state) uint64 {
	h := fnv.New64a()
	if s.found {
		h.Write([]byte{1})
		h.Write([]byte(s.value))
	}
	return h.Sum64()
}

func describeState(s state) string {
	if !s.found {
		return "absent"
	}
	return s.value
}

// Partition splits a history per key, leaving the crashes out; see the
// package documentation for why that is sound.
func Partition(history []porcupine.Operation) [][]porcupine.Operation {
	idx := map[string]int{}
	var parts [][]porcupine.Operation
	for _, op := range history {
		in := op.Input.(Input)
		if in.Kind == KindCrash {
			continue
		}
		i, ok := idx[in.Key]
		if !ok {
			i = len(parts)
			idx[in.Key] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

// Model returns the porcupine model of the store. With partition false the
// history is checked as one piece, every key in one state.
func Model(partition bool) porcupine.Model {
	if !partition {
		return whole()
	}
	return linearizability.Typed[state, Input, Output]{
		Init:              func() state { return state{} },
		Step:              step,
		Equal:             func(a, b state) bool { return a == b },
		Hash:              hashState,
		DescribeOperation: func(in Input, out Output) string { return in.String() + " -> " + out.String() },
		DescribeState:     describeState,
		Partition:         Partition,
	}.Model()
}

// keyState is one key of the whole store.
type keyState struct {
	key string
	state
}

// store is every key the history touched, sorted by key; it is never
// changed in place.
type store []keyState

func (s store) get(key string) (int, state) {
	i, ok := slices.BinarySearchFunc(s, key, func(k keyState, key string) int { return strings.Compare(k.key, key) })
	if !ok {
		return i, state{}
	}
	return i, s[i].state
}

func (s store) with(i int, key string, st state) store {
	out := slices.Clone(s)
	if i < len(out) && out[i].key == key {
		out[i].state = st
		return out
	}
	return slices.Insert(out, i, keyState{key: key, state: st})
}

// whole is the model of the store as one object: each step is the step of
// the key the operation names.
func whole() porcupine.Model {
	return linearizability.Typed[store, Input, Output]{
		Init: func() store { return nil },
		Step: func(s store, in Input, out Output) []store {
			if in.Kind == KindCrash {
				return []store{s}
			}
			i, st := s.get(in.Key)
			var next []store
			for _, n := range step(st, in, out) {
				next = append(next, s.with(i, in.Key, n))
			}
			return next
		},
		Equal: func(a, b store) bool { return slices.Equal(a, b) },
		Hash: func(s store) uint64 {
			h := fnv.New64a()
			for _, k := range s {
				fmt.Fprintf(h, "%s\x00%v\x00%s\x00", k.key, k.found, k.value)
			}
			return h.Sum64()
		},
		DescribeOperation: func(in Input, out Output) string { return in.String() + " -> " + out.String() },
		DescribeState: func(s store) string {
			var b strings.Builder
			for _, k := range s {
				fmt.Fprintf(&b, "%s=%s ", k.key, describeState(k.state))
			}
			return b.String()
		},
	}.Model()
}
