package streamsmodel_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/engines/streams/memory"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/streamsmodel"
)

type opener func(tb testing.TB, dir string) streams.Store

func openAcid(bugs acid.Bugs) opener {
	return func(tb testing.TB, dir string) streams.Store {
		tb.Helper()
		s, err := acid.OpenWithBugs(streams.Options{Dir: dir, Params: map[string]string{"shards": "2"}}, bugs)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
}

func openMemory(tb testing.TB, _ string) streams.Store {
	tb.Helper()
	s, err := memory.Open(streams.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func verdict(tb testing.TB, r *streamsmodel.Recorder) linearizability.Verdict {
	tb.Helper()
	h := r.History()
	res := streamsmodel.Check(h, 10*time.Second, false)
	whole := linearizability.FromPorcupine(porcupine.CheckOperationsTimeout(streamsmodel.Model(false), h.Operations(), 10*time.Second))
	if res.Verdict != whole {
		tb.Errorf("partitioned verdict %v, whole history %v", res.Verdict, whole)
	}
	return res.Verdict
}

// producerRun appends with producer p to two streams, restarts the store
// with the last append of each cut off (its outcome unknown), and retries
// it with the same sequence, then appends once more and reads.
func producerRun(tb testing.TB, open opener, restart bool) *streamsmodel.Recorder {
	tb.Helper()
	dir := tb.TempDir()
	s := open(tb, dir)
	r := streamsmodel.NewRecorder(&linearizability.Logical{})
	names := []string{"a", "b"}
	for c, n := range names {
		r.Do(c, s, streamsmodel.Input{Kind: streamsmodel.KindCreate, Stream: n})
	}
	app := func(c int, n string, seq uint64) streamsmodel.Input {
		return streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: n, Data: fmt.Sprintf("%s%d", n, seq), Producer: "p", Seq: seq}
	}
	for seq := range uint64(4) {
		for c, n := range names {
			r.Do(c, s, app(c, n, seq))
		}
	}
	// The appends of seq 4 reach the store, but the clients never hear.
	for c, n := range names {
		in := app(c, n, 4)
		r.Call(c, in)
		streamsmodel.Apply(s, in)
	}
	if restart {
		if err := s.Close(); err != nil {
			tb.Fatal(err)
		}
		r.CutOff("killed")
		s = open(tb, dir)
	} else {
		r.CutOff("timed out")
	}
	defer s.Close()
	for c, n := range names {
		r.Do(c, s, app(c, n, 4))
		r.Do(c, s, app(c, n, 5))
		r.Do(c, s, streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: n})
	}
	return r
}

func forkRun(tb testing.TB, open opener) *streamsmodel.Recorder {
	tb.Helper()
	s := open(tb, tb.TempDir())
	defer s.Close()
	r := streamsmodel.NewRecorder(&linearizability.Logical{})
	r.Do(0, s, streamsmodel.Input{Kind: streamsmodel.KindCreate, Stream: "r"})
	for i := range 3 {
		r.Do(0, s, streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: "r", Data: fmt.Sprint("m", i)})
	}
	res, err := s.Read("r", streams.Start)
	if err != nil {
		tb.Fatal(err)
	}
	r.Do(0, s, streamsmodel.Input{Kind: streamsmodel.KindFork, Stream: "r/f", Source: "r", At: 2, Offset: streamsmodel.ForkOffset(res, 2)})
	r.Do(0, s, streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: "r", Data: "m3"})
	r.Do(1, s, streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: "r/f", Data: "f0"})
	r.Do(1, s, streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: "r/f"})
	r.Do(0, s, streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: "r"})
	return r
}

func TestReferenceEnginesPass(t *testing.T) {
	for _, c := range []struct {
		name    string
		open    opener
		restart bool
	}{
		{"memory", openMemory, false},
		{"acid", openAcid(acid.Bugs{}), false},
		{"acid/restart", openAcid(acid.Bugs{}), true},
	} {
		if v := verdict(t, producerRun(t, c.open, c.restart)); v != linearizability.Ok {
			t.Errorf("%s producers: %v", c.name, v)
		}
		if v := verdict(t, forkRun(t, c.open)); v != linearizability.Ok {
			t.Errorf("%s forks: %v", c.name, v)
		}
	}
}

func TestPlantedBugsAreIllegal(t *testing.T) {
	if v := verdict(t, producerRun(t, openAcid(acid.Bugs{ProducerStateOutsideTxn: true}), true)); v != linearizability.Illegal {
		t.Errorf("ProducerStateOutsideTxn across a restart: %v, want illegal", v)
	}
	if v := verdict(t, forkRun(t, openAcid(acid.Bugs{ForkReadPastOffset: true}))); v != linearizability.Illegal {
		t.Errorf("ForkReadPastOffset: %v, want illegal", v)
	}
}

// TestModelRules checks single answers against the model, one history of
// sequential operations each.
func TestModelRules(t *testing.T) {
	app := func(seq uint64, epoch uint64) streamsmodel.Input {
		return streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: "s", Data: "x", Producer: "p", Epoch: epoch, Seq: seq}
	}
	create := streamsmodel.Input{Kind: streamsmodel.KindCreate, Stream: "s"}
	type step struct {
		in  streamsmodel.Input
		out streamsmodel.Output
	}
	ok := func(i uint64) streamsmodel.Output { return streamsmodel.Output{Index: i, LastSeq: i} }
	for _, c := range []struct {
		name  string
		steps []step
		want  linearizability.Verdict
	}{
		{"in order", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), ok(0)}, {app(1, 0), ok(1)}}, linearizability.Ok},
		{"duplicate", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), ok(0)}, {app(0, 0), streamsmodel.Output{Duplicate: true}}}, linearizability.Ok},
		{"duplicate written again", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), ok(0)}, {app(0, 0), ok(1)}}, linearizability.Illegal},
		{"gap refused", []step{{create, streamsmodel.Output{Created: true}}, {app(2, 0), streamsmodel.Output{Err: streamsmodel.ErrSeqGap}}}, linearizability.Ok},
		{"gap accepted", []step{{create, streamsmodel.Output{Created: true}}, {app(2, 0), ok(2)}}, linearizability.Illegal},
		{"lost producer state", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), ok(0)}, {app(1, 0), streamsmodel.Output{Err: streamsmodel.ErrSeqGap}}}, linearizability.Illegal},
		{"new epoch", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), ok(0)}, {app(0, 1), streamsmodel.Output{Index: 1}}, {app(3, 0), streamsmodel.Output{Err: streamsmodel.ErrStaleEpoch}}}, linearizability.Ok},
		{"new epoch not at 0", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), ok(0)}, {app(1, 1), ok(1)}}, linearizability.Illegal},
		{"stale epoch", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 1), streamsmodel.Output{Index: 0}}, {app(3, 0), streamsmodel.Output{Err: streamsmodel.ErrStaleEpoch}}}, linearizability.Ok},
		{"read misses an append", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), ok(0)}, {streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: "s"}, streamsmodel.Output{Data: []string{}}}}, linearizability.Illegal},
		{"unknown then read", []step{{create, streamsmodel.Output{Created: true}}, {app(0, 0), streamsmodel.Unknown("x")}, {streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: "s"}, streamsmodel.Output{Data: []string{"x"}}}}, linearizability.Ok},
	} {
		r := streamsmodel.NewRecorder(&linearizability.Logical{})
		for _, s := range c.steps {
			id := r.Call(0, s.in)
			r.Return(id, s.out)
			if s.out.Err == streamsmodel.ErrUnknown {
				r.CutOff("x")
			}
		}
		if v := verdict(t, r); v != c.want {
			t.Errorf("%s: %v, want %v", c.name, v, c.want)
		}
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	r := producerRun(t, openMemory, false)
	h := r.History()
	h.Engine, h.Seed = "streams/memory", 7
	path := t.TempDir() + "/history.json"
	if err := h.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if !streamsmodel.IsHistory(path) {
		t.Error("IsHistory is false for a streams history")
	}
	back, err := streamsmodel.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Ops) != len(h.Ops) || back.Seed != 7 {
		t.Errorf("read back %d ops, seed %d", len(back.Ops), back.Seed)
	}
	if v := streamsmodel.Check(back, 10*time.Second, false).Verdict; v != linearizability.Ok {
		t.Errorf("read-back history: %v", v)
	}
}
