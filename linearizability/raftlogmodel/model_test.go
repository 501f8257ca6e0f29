package raftlogmodel

import (
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// script builds histories: sequential operations unless overlapped by hand.
type script struct {
	t   int64
	ops []Op
}

func (s *script) op(client int, in Input, out Output) *script {
	s.t += 10
	s.ops = append(s.ops, Op{Client: client, Input: in, Output: out, Call: s.t, Return: s.t + 5})
	return s
}

// last adds a LastIndex read returning v.
func (s *script) last(client int, v uint64) *script {
	return s.op(client, Input{Kind: KindLast}, Output{Value: v})
}

// span adds an operation with explicit times.
func (s *script) span(client int, in Input, out Output, call, ret int64) *script {
	s.ops = append(s.ops, Op{Client: client, Input: in, Output: out, Call: call, Return: ret})
	if ret != linearizability.Infinity && ret > s.t {
		s.t = ret
	}
	return s
}

func ents(lo, hi, term uint64) []EntryRef {
	var out []EntryRef
	for i := lo; i <= hi; i++ {
		out = append(out, EntryRef{Index: i, Term: term, Sum: i*1000 + term})
	}
	return out
}

func appendIn(lo, hi, term uint64) Input { return Input{Kind: KindAppend, Entries: ents(lo, hi, term)} }
func ok() Output                         { return Output{} }
func crashIn() Input                     { return Input{Kind: KindCrash, Detail: "test"} }

var (
	durable  = Traits{Persistent: true, SyncOnWrite: true}
	buffered = Traits{Persistent: true, SyncOnWrite: false}
	volatile = Traits{Persistent: false, SyncOnWrite: true}
)

func TestModel(t *testing.T) {
	hs1 := raftlog.HardState{Term: 1, Vote: raftlog.Vote{Term: 1, Candidate: "2"}, Commit: 3}
	hs2 := raftlog.HardState{Term: 2, Commit: 4}
	tests := []struct {
		name   string
		traits Traits
		build  func(s *script)
		want   linearizability.Verdict
	}{
		{"sequential reads", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(1, Input{Kind: KindEntry, Index: 2}, Output{Entries: ents(2, 2, 1)})
			s.op(1, Input{Kind: KindEntries, Index: 2, Hi: 9}, Output{Entries: ents(2, 3, 1)})
			s.op(1, Input{Kind: KindEntry, Index: 4}, Output{Err: ErrNotFound})
			s.last(1, 3)
		}, linearizability.Ok},
		{"wrong entry data", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(1, Input{Kind: KindEntry, Index: 2}, Output{Entries: ents(2, 2, 7)})
		}, linearizability.Illegal},
		{"acknowledged append lost in a crash", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(9, crashIn(), ok())
			s.last(1, 1)
		}, linearizability.Illegal},
		{"unflushed append may be cut in a crash", buffered, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(9, crashIn(), ok())
			s.last(1, 1)
		}, linearizability.Ok},
		{"flushed append lost in a crash", buffered, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(0, Input{Kind: KindFlush}, ok())
			s.op(9, crashIn(), ok())
			s.last(1, 1)
		}, linearizability.Illegal},
		{"unflushed mutations survive as a prefix only", buffered, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(0, Input{Kind: KindTruncate, Index: 2}, ok())
			s.op(0, appendIn(2, 2, 2), ok())
			s.op(9, crashIn(), ok())
			// entries 1..3 at term 1 is the state after the first append
			s.op(1, Input{Kind: KindEntries, Index: 1, Hi: 5}, Output{Entries: ents(1, 3, 1)})
		}, linearizability.Ok},
		{"unknown append cut off by a crash may survive in part", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.span(0, appendIn(4, 6, 1), Unknown("crash"), s.t+1, s.t+2)
			s.op(9, crashIn(), ok())
			s.last(1, 5)
		}, linearizability.Ok},
		{"unknown append cannot land after the crash", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.span(0, appendIn(4, 6, 1), Unknown("crash"), s.t+1, s.t+2)
			s.op(9, crashIn(), ok())
			s.last(1, 3)
			s.last(1, 6)
		}, linearizability.Illegal},
		{"unknown unbounded append may land late", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.span(0, appendIn(4, 6, 1), Unknown("timeout"), s.t+1, linearizability.Infinity)
			s.last(1, 3)
			s.last(1, 6)
		}, linearizability.Ok},
		{"failed append is not visible", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(0, appendIn(4, 4, 1), Output{Err: ErrStorage})
			s.last(1, 4)
		}, linearizability.Illegal},
		{"failed append may survive recovery", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(0, appendIn(4, 4, 1), Output{Err: ErrStorage})
			s.last(1, 3)
			s.op(0, appendIn(4, 4, 1), Output{Err: ErrEngineFailed})
			s.op(9, crashIn(), ok())
			s.last(1, 4)
		}, linearizability.Ok},
		{"failed engine acknowledges a write", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(0, appendIn(4, 4, 1), Output{Err: ErrStorage})
			s.op(0, appendIn(4, 4, 1), ok())
		}, linearizability.Illegal},
		{"durable truncate undone by a crash", durable, func(s *script) {
			s.op(0, appendIn(1, 5, 1), ok())
			s.op(0, Input{Kind: KindTruncate, Index: 3}, ok())
			s.op(9, crashIn(), ok())
			s.last(1, 5)
		}, linearizability.Illegal},
		{"purge boundary forgotten", durable, func(s *script) {
			s.op(0, appendIn(1, 5, 1), ok())
			s.op(0, Input{Kind: KindPurge, Index: 3, Term: 1}, ok())
			s.op(1, Input{Kind: KindFirst}, Output{Value: 4})
			s.op(1, Input{Kind: KindEntry, Index: 3}, Output{Err: ErrCompacted})
			s.op(9, crashIn(), ok())
			s.op(1, Input{Kind: KindPurgedID}, Output{})
		}, linearizability.Illegal},
		{"purge past the end installs a snapshot", durable, func(s *script) {
			s.op(0, appendIn(1, 2, 1), ok())
			s.op(0, Input{Kind: KindPurge, Index: 10, Term: 3}, ok())
			s.last(1, 10)
			s.op(0, appendIn(11, 11, 3), ok())
			s.op(0, appendIn(13, 13, 3), Output{Err: ErrNonContiguous})
			s.op(1, Input{Kind: KindTruncate, Index: 10}, Output{Err: ErrCompacted})
			s.op(1, Input{Kind: KindPurgedID}, Output{ID: raftlog.LogID{Index: 10, Term: 3}})
		}, linearizability.Ok},
		{"hard state lost in a crash", durable, func(s *script) {
			s.op(2, Input{Kind: KindSaveHS, HS: hs1}, ok())
			s.op(2, Input{Kind: KindSaveHS, HS: hs2}, ok())
			s.op(9, crashIn(), ok())
			s.op(2, Input{Kind: KindLoadHS}, Output{HS: hs1, Found: true})
		}, linearizability.Illegal},
		{"hard state kept", durable, func(s *script) {
			s.op(2, Input{Kind: KindSaveHS, HS: hs1}, ok())
			s.op(9, crashIn(), ok())
			s.op(2, Input{Kind: KindLoadHS}, Output{HS: hs1, Found: true})
		}, linearizability.Ok},
		{"volatile engine forgets on a crash", volatile, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(2, Input{Kind: KindSaveHS, HS: hs1}, ok())
			s.op(9, crashIn(), ok())
			s.last(1, 0)
			s.op(2, Input{Kind: KindLoadHS}, Output{})
		}, linearizability.Ok},
		{"concurrent read sees either side", durable, func(s *script) {
			s.op(0, appendIn(1, 1, 1), ok())
			s.span(0, appendIn(2, 2, 1), ok(), 100, 200)
			s.span(1, Input{Kind: KindLast}, Output{Value: 1}, 110, 190)
			s.span(3, Input{Kind: KindLast}, Output{Value: 2}, 120, 180)
			s.span(1, Input{Kind: KindLast}, Output{Value: 2}, 201, 210)
		}, linearizability.Ok},
		{"read goes back in time", durable, func(s *script) {
			s.op(0, appendIn(1, 1, 1), ok())
			s.span(0, appendIn(2, 2, 1), ok(), 100, 200)
			s.span(1, Input{Kind: KindLast}, Output{Value: 2}, 110, 120)
			s.span(3, Input{Kind: KindLast}, Output{Value: 1}, 130, 140)
		}, linearizability.Illegal},
		{"reads of a failed engine may fail", durable, func(s *script) {
			s.op(0, appendIn(1, 3, 1), ok())
			s.op(0, Input{Kind: KindTruncate, Index: 2}, Output{Err: ErrEngineFailed})
			s.op(1, Input{Kind: KindEntries, Index: 1, Hi: 3}, Output{Err: ErrEngineFailed})
			s.op(2, Input{Kind: KindLoadHS}, Output{Err: ErrEngineFailed})
			s.op(1, Input{Kind: KindEntries, Index: 1, Hi: 3}, Output{Entries: ents(1, 3, 1)})
		}, linearizability.Ok},
		{"corrupt read", durable, func(s *script) {
			s.op(0, appendIn(1, 1, 1), ok())
			s.op(1, Input{Kind: KindEntry, Index: 1}, Output{Err: ErrCorruptData})
		}, linearizability.Illegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			tt.build(s)
			h := &History{Traits: tt.traits, Ops: s.ops}
			res := Check(h, 10*time.Second, false)
			if res.Verdict != tt.want {
				t.Errorf("verdict %v, want %v (%s)", res.Verdict, tt.want, res.Reason)
			}
			// The partitioned check must agree with the whole one.
			whole := Model(tt.traits, false)
			if got := checkWhole(whole, h); got != tt.want {
				t.Errorf("unpartitioned verdict %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailureIsIllegal(t *testing.T) {
	s := &script{}
	s.op(0, appendIn(1, 1, 1), ok())
	h := &History{Traits: durable, Ops: s.ops, Failures: []string{"engine panicked in append: boom"}}
	if res := Check(h, time.Second, false); res.Verdict != linearizability.Illegal {
		t.Errorf("verdict %v with a recorded failure, want Illegal", res.Verdict)
	}
}
