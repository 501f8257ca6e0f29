package raftlogtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/internal/corruptcase"
)

// DefaultMetaFiles are the files the corruption case damages as metadata
// when a Harness names none: pebble's manifests, options and markers, the
// file engine's hard state, and every bbolt file (its meta pages are its
// first two pages).
const DefaultMetaFiles = "MANIFEST-*|OPTIONS-*|CURRENT|marker.*|hardstate|*.db"

// corruptPlan is the history the corruption case writes, and what it must
// read back.
type corruptPlan struct {
	steps []step
	final *model
	hs    raftlog.HardState
	// older are the hard states saved before hs; replaced are entries
	// written and then truncated away.
	older    []raftlog.HardState
	replaced map[uint64][]raftlog.Entry
}

// corruptSize sizes the entries: mostly a few hundred bytes, one in eight
// larger than a 4 KiB block.
func corruptSize(rng *rand.Rand) int {
	if rng.IntN(8) == 0 {
		return 4096 + rng.IntN(2048)
	}
	return 20 + rng.IntN(700)
}

// makeCorruptPlan draws a history of about 800 entries (some 0.8 MB; three
// times that in the long form, see corruptcase.Scale) in batches, with a truncation and re-append (unless noTruncation), a purge
// and hard states saved along the way.
func makeCorruptPlan(seed uint64, noTruncation bool) *corruptPlan {
	rng := rand.New(rand.NewPCG(seed, 0xC0FFEE))
	p := &corruptPlan{final: &model{}, replaced: map[uint64][]raftlog.Entry{}}
	m := p.final
	term, attempt := uint64(1), uint64(1)
	saveHS := func() {
		if p.hs != (raftlog.HardState{}) {
			p.older = append(p.older, p.hs)
		}
		p.hs = raftlog.HardState{Term: term, Vote: raftlog.Vote{Term: term, Candidate: fmt.Sprint(1 + rng.IntN(5))}, Commit: m.last()}
		p.steps = append(p.steps, step{kind: stepHardState, hs: p.hs})
	}
	truncated, purged := noTruncation, false
	total := uint64(800 * corruptcase.Scale())
	for m.last() < total {
		n := 1 + rng.IntN(40)
		b := make([]raftlog.Entry, n)
		for i := range b {
			idx := m.last() + 1 + uint64(i)
			b[i] = makeEntry(idx, term, attempt, corruptSize(rng))
		}
		_ = m.persist(b)
		p.steps = append(p.steps, step{kind: stepPersist, batch: b})
		if rng.IntN(10) == 0 {
			saveHS()
		}
		if !truncated && m.last() > total/3 {
			truncated = true
			from := m.last() - 15
			for i := from; i <= m.last(); i++ {
				e, _ := m.entry(i)
				p.replaced[i] = append(p.replaced[i], e)
			}
			_ = m.truncate(from)
			p.steps = append(p.steps, step{kind: stepTruncate, from: from})
			term++
			attempt++
			saveHS()
		}
		if !purged && m.last() > 2*total/3 {
			purged = true
			e, _ := m.entry(total / 4)
			id := raftlog.LogID{Index: total / 4, Term: e.Term}
			m.purge(id)
			p.steps = append(p.steps, step{kind: stepPurge, id: id})
		}
	}
	term++
	saveHS()
	return p
}

// corruptSubject is the corruption case's view of h.
func corruptSubject(h Harness) corruptcase.Subject {
	meta := h.MetaFiles
	if meta == "" {
		meta = DefaultMetaFiles
	}
	return corruptcase.Subject{
		Name:      h.Name,
		Meta:      meta,
		IsCorrupt: func(err error) bool { return errors.Is(err, raftlog.ErrCorrupt) },
		Write: func(t testing.TB, dir string, seed uint64) bool {
			t.Helper()
			e, err := h.Open(raftlog.Options{Dir: dir})
			if err != nil {
				t.Fatalf("open engine %s in %s: %v", h.Name, dir, err)
			}
			if !e.Capabilities().Persistent {
				_ = e.Close()
				t.Skipf("engine %s declares Capabilities().Persistent = false: the corruption case does not apply", h.Name)
				return false
			}
			p := makeCorruptPlan(seed, h.NoTruncation)
			for k, st := range p.steps {
				if err := st.run(e); err != nil {
					_ = e.Close()
					t.Fatalf("engine %s: step %d (%s): %v", h.Name, k, st, err)
				}
			}
			if err := e.Log().Flush(); err != nil {
				t.Fatalf("engine %s: flush the log: %v", h.Name, err)
			}
			if err := e.Meta().Flush(); err != nil {
				t.Fatalf("engine %s: flush the meta store: %v", h.Name, err)
			}
			if err := e.Close(); err != nil {
				t.Fatalf("engine %s: close: %v", h.Name, err)
			}
			return true
		},
		Check: func(dir string, seed uint64, v *corruptcase.Verdict) {
			checkCorrupted(h, dir, makeCorruptPlan(seed, h.NoTruncation), v)
		},
	}
}

// checkCorrupted opens the engine in dir and compares everything it holds
// with p.
func checkCorrupted(h Harness, dir string, p *corruptPlan, v *corruptcase.Verdict) {
	e, err := h.Open(raftlog.Options{Dir: dir})
	if v.Err("open", err) {
		return
	}
	defer func() { v.Err("close", e.Close()) }()
	ls, want := e.Log(), p.final
	if pid := ls.PurgedID(); pid != want.purged {
		_, err := ls.Entry(want.purged.Index)
		switch {
		case pid.Index < want.purged.Index && err == nil:
			v.Resurrected("purge boundary %s, want %s: purged entries are back", pid, want.purged)
		case pid.Index < want.purged.Index:
			v.Lost("purge boundary %s, want %s: the boundary is lost", pid, want.purged)
		default:
			v.Lost("purge boundary %s, want %s: entries are gone from the head", pid, want.purged)
		}
	}
	if last := ls.LastIndex(); last != want.last() {
		if last < want.last() {
			v.Lost("LastIndex %d, want %d: entries %d..%d are gone", last, want.last(), last+1, want.last())
		} else {
			v.Resurrected("LastIndex %d, want %d: truncated entries are back", last, want.last())
		}
	}
	const chunk = 64
	for lo := want.purged.Index + 1; lo <= want.last(); lo += chunk {
		hi := min(lo+chunk-1, want.last())
		got, err := ls.Entries(lo, hi)
		if err == nil && len(got) == int(hi-lo+1) {
			for _, g := range got {
				compareEntry(p, g, v)
			}
			continue
		}
		// Localize: each entry on its own.
		v.Err(fmt.Sprintf("Entries(%d, %d)", lo, hi), err)
		for i := lo; i <= hi; i++ {
			g, err := ls.Entry(i)
			switch {
			case errors.Is(err, raftlog.ErrNotFound), errors.Is(err, raftlog.ErrCompacted):
				v.Lost("Entry(%d): %v", i, err)
			case v.Err(fmt.Sprintf("Entry(%d)", i), err):
			default:
				compareEntry(p, g, v)
			}
		}
	}
	hs, ok, err := e.Meta().LoadHardState()
	switch {
	case v.Err("LoadHardState", err):
	case !ok:
		v.Lost("no hard state, want %+v", p.hs)
	case hs != p.hs && slices.Contains(p.older, hs):
		v.Wrong("hard state %+v is an older save than %+v: a vote is forgotten", hs, p.hs)
	case hs != p.hs:
		v.Wrong("hard state %+v, want %+v", hs, p.hs)
	}
}

func compareEntry(p *corruptPlan, g raftlog.Entry, v *corruptcase.Verdict) {
	w, ok := p.final.entry(g.Index)
	if ok && sameEntry(g, w) {
		return
	}
	for _, old := range p.replaced[g.Index] {
		if sameEntry(g, old) {
			v.Resurrected("entry %d is the one truncated away (term %d), want term %d", g.Index, g.Term, w.Term)
			return
		}
	}
	if !ok {
		v.Wrong("entry %d was never written", g.Index)
		return
	}
	v.Wrong("entry %d: term %d, type %d, %d bytes; want term %d, type %d, %d bytes", g.Index, g.Term, g.Type, len(g.Data), w.Term, w.Type, len(w.Data))
}

func caseCorruption(t testing.TB, s *suite) {
	corruptcase.Report(t, s.h.Name, corruptcase.Run(t, corruptSubject(s.h), corruptcase.Default()))
}

// Corruption runs the corruption case's trials on h and returns every
// result, passing or not: the corruption table is made of them. Under a
// *testing.T each trial reopens the engine in a child process re-running
// t's test, which must therefore call Corruption the same way.
func Corruption(t testing.TB, h Harness, trials []corruptcase.Trial) []corruptcase.Result {
	t.Helper()
	return corruptcase.Run(t, corruptSubject(h), trials)
}
