package jepsenlite

import (
	"errors"
	"math/rand/v2"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/file"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	raftmutants "github.com/ordeal-dev/ordeal/engines/raftlog/mutants"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/peers"
	"github.com/ordeal-dev/ordeal/linearizability/raftlogmodel"
)

// The raftlog family: d-engine's LogStore and MetaStore, and the peers
// hashicorp/raft uses, checked by raftlogmodel.
func init() {
	Register(Spec[raftlog.Engine, work, raftlogmodel.Input, raftlogmodel.Output, raftlogmodel.Traits]{
		Name:    "raftlog",
		Doc:     "Raft log and meta stores (LogStore, MetaStore)",
		Engines: raftlog.Engines,
		Mutants: func() []Mutant {
			var out []Mutant
			for _, m := range raftmutants.List() {
				out = append(out, Mutant{Name: m.Name, Bug: m.Bug})
			}
			return out
		},
		Open: func(name string, o OpenOptions) (raftlog.Engine, Info, raftlogmodel.Traits, error) {
			e, err := raftlog.Open(name, raftlog.Options{Dir: o.Dir, FS: o.FS, Params: o.Params})
			if errors.Is(err, raftlog.ErrBadOption) && o.FS != nil {
				return nil, Info{}, raftlogmodel.Traits{}, errors.Join(ErrNoFS, err)
			}
			if err != nil {
				return nil, Info{}, raftlogmodel.Traits{}, err
			}
			c := e.Capabilities()
			if !c.UsesFS && o.FS != nil {
				_ = e.Close()
				return nil, Info{}, raftlogmodel.Traits{}, ErrNoFS
			}
			return e, Info{Persistent: c.Persistent, SyncOnWrite: c.SyncOnWrite, UsesFS: c.UsesFS}, raftlogmodel.TraitsOf(c), nil
		},
		Close: func(e raftlog.Engine) error { return e.Close() },
		Apply: func(e raftlog.Engine, w work) raftlogmodel.Output { return raftlogmodel.Apply(e, w.In, w.payload) },
		Input: func(w work) raftlogmodel.Input { return w.In },
		Workload: func(seed uint64, clients int, info Info, _ raftlogmodel.Traits) TypedWorkload[work, raftlogmodel.Output] {
			return newRaftWorkload(seed, clients, info)
		},
		Unknown:   raftlogmodel.Unknown,
		IsUnknown: func(o raftlogmodel.Output) bool { return o.Err == raftlogmodel.ErrUnknown },
		Crash:     func(d string) raftlogmodel.Input { return raftlogmodel.Input{Kind: raftlogmodel.KindCrash, Detail: d} },
		IsCrash:   func(in raftlogmodel.Input) bool { return in.Kind == raftlogmodel.KindCrash },
		Method:    func(in raftlogmodel.Input) string { return string(in.Kind) },
		Outcome:   func(o raftlogmodel.Output) string { return outcomeClass(string(o.Err)) },
		Check:     raftlogmodel.Check,
		Methods: []string{"append", "entry", "entries", "truncate", "purge", "reset", "flush", "last", "first", "purged",
			"save_hs", "load_hs", "flush_meta"},
		Outcomes: []string{"ok", "unknown", "notfound", "compacted", "noncontiguous", "invalidrange", "failed", "io"},
	}.Family())
}

// outcomeClass names an error class for the coverage ("ok" for none).
func outcomeClass(class string) string {
	if class == "" {
		return "ok"
	}
	return class
}

// role is what a client does.
type role uint8

const (
	writer role = iota // log mutations (the SPI's one writer) and reads
	metaClient
	reader
)

// work is one operation to run: its input and, for an append, its batch.
type work struct {
	In    raftlogmodel.Input `json:"in"`
	Batch []raftlog.Entry    `json:"batch,omitempty"`
}

// payload returns the batch entry an EntryRef stands for.
func (w work) payload(r raftlogmodel.EntryRef) raftlog.Entry {
	if len(w.Batch) == 0 {
		return raftlog.Entry{Index: r.Index, Term: r.Term}
	}
	return w.Batch[r.Index-w.Batch[0].Index]
}

// view is what the clients believe of the engine, from the responses they
// saw; it steers the workload towards operations that matter (appends at
// the end, reads inside the log) and is rebuilt by reads after a crash.
type view struct {
	last, purged uint64
	term         uint64
	stale        bool // a mutation's outcome is unknown: read LastIndex first
	unflushed    int  // mutations since the last Flush
	hsTerm       uint64
	syncOnWrite  bool
}

// observe updates the view from a response.
func (v *view) observe(in raftlogmodel.Input, out raftlogmodel.Output) {
	if out.Err != raftlogmodel.ErrNone {
		if in.Kind.IsMutation() && out.Err != raftlogmodel.ErrNonContiguous && out.Err != raftlogmodel.ErrCompacted {
			v.stale = true
		}
		return
	}
	switch in.Kind {
	case raftlogmodel.KindAppend:
		if n := len(in.Entries); n > 0 {
			v.last = in.Entries[n-1].Index
		}
		v.unflushed++
	case raftlogmodel.KindTruncate:
		v.last = min(v.last, in.Index-1)
		v.unflushed++
	case raftlogmodel.KindPurge:
		if in.Index > v.purged {
			v.purged = in.Index
			v.last = max(v.last, in.Index)
		}
		v.unflushed++
	case raftlogmodel.KindReset:
		v.last, v.purged = 0, 0
		v.unflushed++
	case raftlogmodel.KindFlush:
		v.unflushed = 0
	case raftlogmodel.KindLast:
		v.last, v.stale = out.Value, false
	case raftlogmodel.KindFirst:
		v.purged = out.Value - 1
	case raftlogmodel.KindPurgedID:
		v.purged = out.ID.Index
	case raftlogmodel.KindLoadHS:
		v.hsTerm = max(v.hsTerm, out.HS.Term)
	}
}

// crashed forgets what a crash may have undone.
func (v *view) crashed() { v.stale, v.unflushed = true, 0 }

// raftWorkload is the raftlog workload: client 0 writes the log (the
// SPI's one writer), client 1 the hard state, the others read; a shared
// view steers them.
type raftWorkload struct {
	v    *view
	gens []*generator
	fin  int // final read-back batches given
}

func newRaftWorkload(seed uint64, clients int, info Info) *raftWorkload {
	w := &raftWorkload{v: &view{syncOnWrite: info.SyncOnWrite}}
	for i := range clients {
		ro := reader
		switch i {
		case 0:
			ro = writer
		case 1:
			ro = metaClient
		}
		w.gens = append(w.gens, newGenerator(seed, i, ro, w.v, clients == 1))
	}
	return w
}

func (w *raftWorkload) Next(client int) work { return w.gens[client].next() }

func (w *raftWorkload) Observe(_ int, wk work, out raftlogmodel.Output) { w.v.observe(wk.In, out) }

func (w *raftWorkload) Crashed() { w.v.crashed() }

// Final reads the whole state back: the bounds and the hard state first,
// then the log in ranges of 64.
func (w *raftWorkload) Final() []work {
	w.fin++
	switch w.fin {
	case 1:
		return []work{{In: raftlogmodel.Input{Kind: raftlogmodel.KindLast}}, {In: raftlogmodel.Input{Kind: raftlogmodel.KindFirst}},
			{In: raftlogmodel.Input{Kind: raftlogmodel.KindPurgedID}}, {In: raftlogmodel.Input{Kind: raftlogmodel.KindLoadHS}}}
	case 2:
		if w.v.stale {
			return nil // a bound could not be read
		}
		var ws []work
		for lo := max(w.v.purged+1, 1); lo <= w.v.last; lo += 64 {
			ws = append(ws, work{In: raftlogmodel.Input{Kind: raftlogmodel.KindEntries, Index: lo, Hi: lo + 63}})
		}
		return ws
	}
	return nil
}

// generator draws a client's operations from its own seeded source.
type generator struct {
	role role
	rng  *rand.Rand
	v    *view
	solo bool // the only client: also does the hard state
}

func newGenerator(seed uint64, client int, r role, v *view, solo bool) *generator {
	return &generator{role: r, rng: rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc908+uint64(client))), v: v, solo: solo}
}

func (g *generator) next() work {
	switch g.role {
	case writer:
		if g.solo && g.rng.IntN(100) < 15 {
			return g.meta()
		}
		return g.write()
	case metaClient:
		if g.rng.IntN(100) < 20 {
			return g.read()
		}
		return g.meta()
	}
	if g.rng.IntN(100) < 5 {
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindLoadHS}}
	}
	return g.read()
}

func (g *generator) entries(first uint64, n int, term uint64) work {
	w := work{In: raftlogmodel.Input{Kind: raftlogmodel.KindAppend}}
	for i := range n {
		size := g.rng.IntN(48)
		if g.rng.IntN(12) == 0 {
			size = 4096 + g.rng.IntN(8192) // spans 4 KiB blocks, to be torn
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(g.rng.Uint32())
		}
		e := raftlog.Entry{Index: first + uint64(i), Term: term, Type: raftlog.EntryType(g.rng.IntN(3)), Data: data}
		w.Batch = append(w.Batch, e)
		w.In.Entries = append(w.In.Entries, raftlogmodel.Ref(e))
	}
	return w
}

func (g *generator) write() work {
	v := g.v
	if v.stale {
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindLast}}
	}
	if v.term == 0 {
		v.term = 1
	}
	if !v.syncOnWrite && v.unflushed >= 6 {
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindFlush}}
	}
	var size uint64
	if v.last > v.purged {
		size = v.last - v.purged
	}
	r := g.rng.IntN(100)
	switch {
	case size > 40 || (r < 6 && size > 4):
		// Compact most of the log, as after a snapshot.
		upTo := v.purged + 1 + uint64(g.rng.IntN(int(size)-1))
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindPurge, Index: upTo, Term: v.term}}
	case r < 52:
		return g.entries(v.last+1, 1+g.rng.IntN(4), v.term)
	case r < 60 && size > 0:
		// Overwrite a suffix with a new term, as a new leader would.
		from := v.purged + 1 + uint64(g.rng.IntN(int(size)))
		v.term++
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindTruncate, Index: from}}
	case r < 62:
		// Install a snapshot past the end.
		v.term++
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindPurge, Index: v.last + 1 + uint64(g.rng.IntN(4)), Term: v.term}}
	case r < 63:
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindReset}}
	case r < 65:
		// An append with a gap, which must be refused.
		return g.entries(v.last+2, 1, v.term)
	case r < 66 && v.purged > 0:
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindTruncate, Index: v.purged}}
	case r < 76:
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindFlush}}
	}
	return g.read()
}

func (g *generator) meta() work {
	v := g.v
	r := g.rng.IntN(100)
	switch {
	case r < 45:
		if g.rng.IntN(4) == 0 {
			v.hsTerm++
		}
		hs := raftlog.HardState{Term: v.hsTerm, Commit: uint64(g.rng.IntN(int(v.last + 1)))}
		if g.rng.IntN(2) == 0 {
			hs.Vote = raftlog.Vote{Term: v.hsTerm, Candidate: string(rune('1' + g.rng.IntN(5)))}
		}
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindSaveHS, HS: hs}}
	case r < 85:
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindLoadHS}}
	}
	return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindFlushMeta}}
}

func (g *generator) read() work {
	v := g.v
	lo := uint64(1)
	if v.purged > 1 {
		lo = v.purged - 1
	}
	span := int64(v.last) - int64(lo) + 4
	if span < 1 {
		span = 4
	}
	pick := func() uint64 { return lo + uint64(g.rng.Int64N(span)) }
	r := g.rng.IntN(100)
	switch {
	case r < 30:
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindEntry, Index: pick()}}
	case r < 62:
		a := pick()
		b := a + uint64(g.rng.IntN(8))
		if g.rng.IntN(12) == 0 {
			a, b = b+1, a // an invalid range
		}
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindEntries, Index: a, Hi: b}}
	case r < 80:
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindLast}}
	case r < 90:
		return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindFirst}}
	}
	return work{In: raftlogmodel.Input{Kind: raftlogmodel.KindPurgedID}}
}
