package raftlogtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// memDir is where engines keep their files on an in-memory file system.
const memDir = "/raftlogtest/db"

// step is one mutation of a crash script.
type step struct {
	kind  stepKind
	batch []raftlog.Entry // stepPersist
	id    raftlog.LogID   // stepPurge
	from  uint64          // stepTruncate
	hs    raftlog.HardState
}

type stepKind uint8

const (
	stepPersist stepKind = iota + 1
	stepPurge
	stepTruncate
	stepFlush
	stepHardState
	stepReset
)

func (st step) String() string {
	switch st.kind {
	case stepPersist:
		return fmt.Sprintf("persist %d..%d", st.batch[0].Index, st.batch[len(st.batch)-1].Index)
	case stepPurge:
		return fmt.Sprintf("purge %v", st.id)
	case stepTruncate:
		return fmt.Sprintf("truncate %d", st.from)
	case stepFlush:
		return "flush"
	case stepHardState:
		return fmt.Sprintf("save hard state term %d", st.hs.Term)
	case stepReset:
		return "reset"
	}
	return "unknown step"
}

// crashSize sizes the entries of crash scripts: mostly small, one in four
// larger than a 4 KiB block, so that a power loss can tear a record.
func crashSize(index uint64) int {
	x := splitmix(index)
	if x%4 == 0 {
		return 4096 + int(x>>8%5000)
	}
	return 20 + int(x>>8%600)
}

// makeScript builds n steps from seed. appendOnly keeps to persists,
// flushes and hard states (for engines without SyncOnWrite, whose unflushed
// purges and truncations have no single expected outcome). The last step
// cycles through persist, purge and truncate with the seed.
func makeScript(seed uint64, n int, appendOnly bool) []step {
	rng := rand.New(rand.NewPCG(seed, 0xfa17))
	m := &model{}
	term := uint64(1)
	var out []step
	for k := 0; k < n; k++ {
		attempt := seed<<16 | uint64(k)
		r := rng.IntN(100)
		if k == n-1 {
			r = []int{0, 70, 80}[seed%3]
		}
		var st step
		switch {
		case appendOnly && r >= 60 && r < 90:
			st = step{kind: stepFlush}
		case r < 60 || m.last() == m.purged.Index:
			st = step{kind: stepPersist, batch: makeEntries(m.last()+1, 1+rng.IntN(8), term, attempt, crashSize)}
		case r < 75:
			idx := m.purged.Index + 1 + rng.Uint64N(m.last()-m.purged.Index+2)
			st = step{kind: stepPurge, id: raftlog.LogID{Index: idx, Term: m.termAt(idx)}}
			if idx > m.last() {
				st.id.Term = term
			}
		case r < 90:
			st = step{kind: stepTruncate, from: m.purged.Index + 1 + rng.Uint64N(m.last()-m.purged.Index)}
			term++
		case r < 95:
			st = step{kind: stepHardState, hs: sampleHardState(uint64(k + 1))}
		default:
			st = step{kind: stepFlush}
		}
		st.apply(m)
		out = append(out, st)
	}
	return out
}

// resetScript fills, purges and resets the log, then starts it again: a
// power loss after it must not bring back the old log or its boundary.
func resetScript() []step {
	return []step{
		{kind: stepPersist, batch: makeEntries(1, 30, 1, 7<<16, crashSize)},
		{kind: stepPurge, id: raftlog.LogID{Index: 10, Term: 1}},
		{kind: stepHardState, hs: sampleHardState(3)},
		{kind: stepReset},
		{kind: stepPersist, batch: makeEntries(1, 5, 2, 7<<16|1, crashSize)},
	}
}

// apply applies st to the model.
func (st step) apply(m *model) {
	switch st.kind {
	case stepPersist:
		_ = m.persist(st.batch)
	case stepPurge:
		m.purge(st.id)
	case stepTruncate:
		_ = m.truncate(st.from)
	case stepReset:
		m.reset()
	}
}

// run applies st to the engine.
func (st step) run(e raftlog.Engine) error {
	switch st.kind {
	case stepPersist:
		return e.Log().PersistEntries(st.batch)
	case stepPurge:
		return e.Log().Purge(st.id)
	case stepTruncate:
		return e.Log().Truncate(st.from)
	case stepFlush:
		if err := e.Log().Flush(); err != nil {
			return err
		}
		return e.Meta().Flush()
	case stepHardState:
		return e.Meta().SaveHardState(st.hs)
	case stepReset:
		return e.Log().Reset()
	}
	return nil
}

// history keeps every entry a script wrote, to say what a wrong entry read
// back after a crash is.
type history map[uint64][]raftlog.Entry

func newHistory(steps []step) history {
	h := history{}
	for _, st := range steps {
		for _, e := range st.batch {
			h[e.Index] = append(h[e.Index], e)
		}
	}
	return h
}

// explain says where a wrong entry came from.
func (h history) explain(e raftlog.Entry) string {
	for _, w := range h[e.Index] {
		if sameEntry(w, e) {
			return "an entry written there earlier and since truncated or overwritten: it came back"
		}
	}
	if wellFormed(e) {
		return "an entry never written at this index in this run"
	}
	return "content never written at this index (torn or corrupt)"
}

// expectation is what a log recovered after a crash may hold: the durable
// state base, plus the possible effects of one operation that was not
// durable (in flight, or not flushed).
type expectation struct {
	base *model
	// appended may survive, as a prefix, after base's last entry.
	appended []raftlog.Entry
	// purge, if set, may have happened, fully or up to an entry of base.
	purge *raftlog.LogID
	// trunc, if not 0, may have happened, fully or from a later index.
	trunc uint64
	// hs are the hard states the meta store may hold; hsNone allows none.
	hs     []raftlog.HardState
	hsNone bool
}

func (x expectation) String() string {
	s := fmt.Sprintf("log %d..%d purged at %v", x.base.first(), x.base.last(), x.base.purged)
	if len(x.appended) > 0 {
		s += fmt.Sprintf(", maybe entries %d..%d", x.appended[0].Index, x.appended[len(x.appended)-1].Index)
	}
	if x.purge != nil {
		s += fmt.Sprintf(", maybe purged to %v", *x.purge)
	}
	if x.trunc != 0 {
		s += fmt.Sprintf(", maybe truncated from %d", x.trunc)
	}
	return s
}

// want is the entry the expectation has at i, if any.
func (x expectation) want(i uint64) (raftlog.Entry, bool) {
	if i <= x.base.last() {
		return x.base.entry(i)
	}
	k := i - x.base.last() - 1
	if k < uint64(len(x.appended)) {
		return x.appended[k], true
	}
	return raftlog.Entry{}, false
}

// verifyRecovered checks the log and hard state of an engine opened after a
// crash against x: every durable entry there with its content, nothing after
// a gap, no content that was not written at its index, no purge boundary
// that was not set, no truncated entry back. It returns the model of what
// the engine holds, for the case to continue from.
func verifyRecovered(t testing.TB, e raftlog.Engine, x expectation, h history, when string) (*model, bool) {
	t.Helper()
	ls := e.Log()
	first, last, pid := ls.FirstIndex(), ls.LastIndex(), ls.PurgedID()
	fail := func(format string, args ...any) (*model, bool) {
		t.Helper()
		t.Errorf("%s: "+format+"; expected %s", append(append([]any{when}, args...), x)...)
		return nil, false
	}
	if first != pid.Index+1 {
		return fail("FirstIndex() = %d but PurgedID() = %v", first, pid)
	}
	switch {
	case pid == x.base.purged:
	case x.purge != nil && pid == *x.purge:
	case x.purge != nil && pid.Index > x.base.purged.Index && pid.Index < x.purge.Index &&
		pid.Index <= x.base.last() && pid.Term == x.base.termAt(pid.Index):
	default:
		return fail("recovered purge boundary %v, which was never durable", pid)
	}
	lo, hi := x.base.last(), x.base.last()+uint64(len(x.appended))
	if x.trunc != 0 && x.trunc <= x.base.last() {
		lo = x.trunc - 1
	}
	if pid.Index > x.base.last() {
		lo, hi = pid.Index, pid.Index
	}
	lo = max(lo, pid.Index)
	if last < lo {
		return fail("LastIndex() = %d: acknowledged entries %d..%d are lost", last, last+1, lo)
	}
	if last > hi {
		return fail("LastIndex() = %d, above every entry that may survive (%d)", last, hi)
	}
	got := &model{purged: pid}
	for i := first; i <= last; i++ {
		ent, err := ls.Entry(i)
		if err != nil {
			return fail("Entry(%d) within %d..%d: %v (a gap)", i, first, last, err)
		}
		want, _ := x.want(i)
		if !sameEntry(ent, want) {
			return fail("Entry(%d) = %s, want %s: it is %s", i, describe(ent), describe(want), h.explain(ent))
		}
		got.ents = append(got.ents, ent)
	}
	if last >= first {
		run, err := ls.Entries(first, last)
		if err != nil {
			return fail("Entries(%d, %d): %v", first, last, err)
		}
		if !checkRun(t, run, got.ents, when+": Entries over the recovered log") {
			return nil, false
		}
	}
	if _, err := ls.Entry(last + 1); !errors.Is(err, raftlog.ErrNotFound) {
		return fail("Entry(%d) after the last = %v, want ErrNotFound", last+1, err)
	}
	if pid.Index > 0 {
		if _, err := ls.Entry(pid.Index); !errors.Is(err, raftlog.ErrCompacted) {
			return fail("Entry(%d) at the boundary = %v, want ErrCompacted", pid.Index, err)
		}
	}
	hs, ok, err := e.Meta().LoadHardState()
	switch {
	case err != nil:
		return fail("LoadHardState: %v", err)
	case !ok && !x.hsNone:
		return fail("LoadHardState found no hard state; want one of %+v", x.hs)
	case ok && !containsHS(x.hs, hs):
		return fail("LoadHardState() = %+v, which was never durable (want one of %+v, none allowed: %v)", hs, x.hs, x.hsNone)
	}
	return got, true
}

func containsHS(list []raftlog.HardState, hs raftlog.HardState) bool {
	for _, h := range list {
		if h == hs {
			return true
		}
	}
	return false
}

// continueAfter checks that an engine recovered to m takes new entries and
// keeps them across a clean reopen: a torn tail that was not cut off would
// hide them.
func continueAfter(t testing.TB, in *instance, m *model, when string) {
	t.Helper()
	term := uint64(1)
	if e, ok := m.entry(m.last()); ok {
		term = e.Term
	}
	term = max(term, m.purged.Term) + 1
	persist(t, in.log(), m, makeEntries(m.last()+1, 3, term, 1<<40, crashSize), when+": persist after recovery")
	in.settle()
	in.reopen()
	checkLog(t, in.log(), m, when+": after recovery, new entries and a reopen")
}

// faultable opens the engine once on a real directory to read its
// capabilities and skips the case when in-process faults cannot reach it.
func (s *suite) faultable(t testing.TB) raftlog.Capabilities {
	t.Helper()
	in := s.fresh(t)
	caps := in.caps()
	in.close()
	if !caps.Persistent {
		t.Skipf("engine %s declares Capabilities().Persistent = false: there is nothing to recover after a crash", s.h.Name)
	}
	if !caps.UsesFS {
		t.Skipf("engine %s declares Capabilities().UsesFS = false: in-process power loss and fsync faults cannot reach it (it is crashed on the FUSE file system instead)", s.h.Name)
	}
	return caps
}

// newMem returns a crashable in-memory file system holding memDir, created
// and synced: the engine's directory exists durably before the engine opens,
// as a directory an operator made would. Engines answer for what they create
// inside it.
func newMem(t testing.TB) *vfs.MemFS {
	t.Helper()
	mem := vfs.NewCrashableMem()
	prepareMem(t, mem)
	return mem
}

// prepareMem makes mem's root durable and leaves memDir to the engine: an
// engine creates its directory itself, and must make the name durable.
func prepareMem(t testing.TB, mem *vfs.MemFS) {
	t.Helper()
	root := "/"
	d, err := mem.OpenDir(root)
	if err != nil {
		t.Fatalf("raftlogtest: open %s: %v", root, err)
	}
	err = d.Sync()
	_ = d.Close()
	if err != nil {
		t.Fatalf("raftlogtest: sync %s: %v", root, err)
	}
}

// keepMem copies an in-memory file system's engine directory to a real one
// when the case fails under Run, and logs where.
func (s *suite) keepMem(t testing.TB, mem vfs.FS, label string) {
	t.Cleanup(func() {
		if !t.Failed() || !s.keep {
			return
		}
		dir, err := os.MkdirTemp("", "raftlogtest-memfs-")
		if err != nil {
			t.Logf("raftlogtest: keep the files of %s: %v", label, err)
			return
		}
		if _, err := vfs.Clone(mem, vfs.Default, memDir, dir+"/db"); err != nil {
			t.Logf("raftlogtest: keep the files of %s: %v", label, err)
			return
		}
		t.Logf("raftlogtest: kept the files of engine %s (%s) in %s", s.h.Name, label, dir)
	})
}
