package linearizability

import (
	"context"

	"github.com/anishathalye/porcupine"
)

// Typed is a porcupine model written over typed states and operations;
// Model turns it into the porcupine.Model the checker takes.
type Typed[S, In, Out any] struct {
	Init func() S
	// Step returns every state the operation can lead to from s: none
	// means it is illegal there.
	Step              func(s S, in In, out Out) []S
	Equal             func(a, b S) bool
	Hash              func(s S) uint64
	DescribeOperation func(in In, out Out) string
	DescribeState     func(s S) string
	// Partition splits a history into parts checked on their own; nil
	// checks it whole.
	Partition func(history []porcupine.Operation) [][]porcupine.Operation
}

// Model returns t as a porcupine.Model.
func (t Typed[S, In, Out]) Model() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: t.Partition,
		Init:      func() []any { return []any{t.Init()} },
		StepContext: func(_ context.Context, s, in, out any) []any {
			next := t.Step(s.(S), in.(In), out.(Out))
			res := make([]any, len(next))
			for i, n := range next {
				res[i] = n
			}
			return res
		},
		Equal:             func(a, b any) bool { return t.Equal(a.(S), b.(S)) },
		Hash:              func(s any) uint64 { return t.Hash(s.(S)) },
		DescribeOperation: func(in, out any) string { return t.DescribeOperation(in.(In), out.(Out)) },
		DescribeState:     func(s any) string { return t.DescribeState(s.(S)) },
	}
	return nm.ToModel()
}
