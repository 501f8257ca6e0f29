package raftlogtest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/faults"
)

// crashPercents are the shares of unsynced data a power loss keeps.
var crashPercents = []int{0, 50, 100}

// expectAt is what may survive a crash during step x of steps (x == -1: while
// opening, x == len(steps): after the last step, while closing). With
// SyncOnWrite every step before x is durable and step x may or may not have
// happened; without it, only what the last flush before x covered is durable,
// and the steps since (persists and hard states: such scripts append only
// after their last flush) may survive in part.
func expectAt(steps []step, x int, syncOnWrite bool) expectation {
	durable := 0 // steps[:durable] are durable
	var inFlight []step
	switch {
	case x < 0:
	case syncOnWrite:
		durable = min(x, len(steps))
		if x < len(steps) {
			inFlight = steps[x : x+1]
		}
	default:
		end := min(x+1, len(steps))
		for k := 0; k < end; k++ {
			if steps[k].kind == stepFlush && k < x {
				durable = k + 1
			}
		}
		inFlight = steps[durable:end]
	}
	out := expectation{base: &model{}, hsNone: true}
	for _, st := range steps[:durable] {
		st.apply(out.base)
		if st.kind == stepHardState {
			out.hs, out.hsNone = []raftlog.HardState{st.hs}, false
		}
	}
	for _, st := range inFlight {
		switch st.kind {
		case stepPersist:
			out.appended = append(out.appended, st.batch...)
		case stepPurge:
			id := st.id
			out.purge = &id
		case stepTruncate:
			out.trunc = st.from
		case stepHardState:
			out.hs = append(out.hs, st.hs)
		}
	}
	return out
}

// withTail returns steps followed, for an engine without SyncOnWrite, by a
// flush and a few appends that are never flushed.
func withTail(steps []step, seed uint64, syncOnWrite bool) []step {
	if syncOnWrite {
		return steps
	}
	m := &model{}
	for _, st := range steps {
		st.apply(m)
	}
	out := append(steps[:len(steps):len(steps)], step{kind: stepFlush})
	term := uint64(1)
	if e, ok := m.entry(m.last()); ok {
		term = e.Term
	}
	for k := 0; k < 3; k++ {
		b := makeEntries(m.last()+1, 2+k, term, seed<<16|uint64(1000+k), crashSize)
		_ = m.persist(b)
		out = append(out, step{kind: stepPersist, batch: b})
	}
	return append(out, step{kind: stepHardState, hs: sampleHardState(9999)})
}

func casePowerLoss(t testing.TB, s *suite) {
	if s.mounted(t) {
		powerLossMounted(t, s)
		return
	}
	caps := s.faultable(t)
	for seed := uint64(1); seed <= 7 && !t.Failed(); seed++ {
		script := makeScript(seed, 24, false)
		if seed == 7 {
			script = resetScript()
		}
		steps := withTail(script, seed, caps.SyncOnWrite)
		h := newHistory(steps)
		mem := newMem(t)
		s.keepMem(t, mem, fmt.Sprintf("seed %d before the power loss", seed))
		in := s.openOn(t, mem, memDir)
		for k, st := range steps {
			if err := st.run(in.e); err != nil {
				t.Fatalf("seed %d: step %d (%s): %v", seed, k, st, err)
			}
		}
		x := expectAt(steps, len(steps), caps.SyncOnWrite)
		for _, pct := range crashPercents {
			when := fmt.Sprintf("seed %d: power loss keeping %d%% of unsynced data after %d steps", seed, pct, len(steps))
			clone := faults.PowerLoss(mem, seed*1000+uint64(pct), pct)
			s.keepMem(t, clone, when)
			cin := s.openOn(t, clone, memDir)
			if m, ok := verifyRecovered(t, cin.e, x, h, when); ok {
				continueAfter(t, cin, m, when)
			}
		}
	}
}

// crashAtSync takes power-loss clones of a file system at the moment its
// engine asks for the at-th sync, before the sync happens: the data of the
// operation in flight is written but not synced.
type crashAtSync struct {
	mem  *vfs.MemFS
	at   int
	seed uint64
	step *atomic.Int64 // the step running

	mu        sync.Mutex
	syncs     int
	clones    []*vfs.MemFS // one per crashPercents
	crashStep int
}

var _ faults.MayFailer = (*crashAtSync)(nil)

func (c *crashAtSync) String() string { return fmt.Sprintf("crash-at-sync(%d)", c.at) }

// MayFail says it fails nothing, so that writes go straight to mem.
func (c *crashAtSync) MayFail(faults.OpKind) bool { return false }

func (c *crashAtSync) MaybeError(op faults.Op) error {
	if op.Kind != faults.OpSync {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncs++
	if c.syncs == c.at {
		c.crashStep = int(c.step.Load())
		for _, pct := range crashPercents {
			c.clones = append(c.clones, faults.PowerLoss(c.mem, c.seed*1000+uint64(c.at)*7+uint64(pct), pct))
		}
	}
	return nil
}

// runScript opens the engine on a fresh crashable file system seen through
// c, runs steps and closes it, keeping c.step current.
func (s *suite) runScript(t testing.TB, c *crashAtSync, steps []step, when string) {
	t.Helper()
	c.step.Store(-1)
	in := s.openOn(t, faults.Wrap(c.mem, c), memDir)
	for k, st := range steps {
		c.step.Store(int64(k))
		if err := st.run(in.e); err != nil {
			t.Fatalf("%s: step %d (%s): %v", when, k, st, err)
		}
	}
	c.step.Store(int64(len(steps)))
	in.close()
}

func casePowerLossMidWrite(t testing.TB, s *suite) {
	caps := s.faultable(t)
	const maxPoints = 40
	for seed := uint64(1); seed <= 3 && !t.Failed(); seed++ {
		steps := makeScript(seed, 16, !caps.SyncOnWrite)
		h := newHistory(steps)
		dry := &crashAtSync{mem: newMem(t), step: new(atomic.Int64)}
		s.runScript(t, dry, steps, fmt.Sprintf("seed %d: counting syncs", seed))
		if dry.syncs == 0 {
			t.Fatalf("seed %d: engine %s declares UsesFS but made no sync through Options.FS in %d steps", seed, s.h.Name, len(steps))
		}
		stride := max(1, dry.syncs/maxPoints)
		for at := 1; at <= dry.syncs && !t.Failed(); at += stride {
			c := &crashAtSync{mem: newMem(t), at: at, seed: seed, step: new(atomic.Int64)}
			s.runScript(t, c, steps, fmt.Sprintf("seed %d, crash at sync %d", seed, at))
			if c.clones == nil {
				continue // fewer syncs this time: nothing to check at this point
			}
			x := expectAt(steps, c.crashStep, caps.SyncOnWrite)
			for i, pct := range crashPercents {
				what := "while opening"
				switch {
				case c.crashStep >= len(steps):
					what = "while closing"
				case c.crashStep >= 0:
					what = fmt.Sprintf("during step %d (%s)", c.crashStep, steps[c.crashStep])
				}
				when := fmt.Sprintf("seed %d: power loss at sync %d of %d %s keeping %d%% of unsynced data", seed, at, dry.syncs, what, pct)
				s.keepMem(t, c.clones[i], when)
				cin := s.openOn(t, c.clones[i], memDir)
				if m, ok := verifyRecovered(t, cin.e, x, h, when); ok && pct == 50 {
					continueAfter(t, cin, m, when)
				}
			}
		}
	}
}

// failNthSync fails the n-th sync after it is armed with EIO, once.
type failNthSync struct {
	mu    sync.Mutex
	n     int // 0: disarmed
	seen  int
	fired int
}

var _ faults.MayFailer = (*failNthSync)(nil)

func (f *failNthSync) String() string               { return fmt.Sprintf("fail-sync(%d,EIO)", f.n) }
func (f *failNthSync) MayFail(k faults.OpKind) bool { return k == faults.OpSync }

func (f *failNthSync) arm(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.seen = n, 0
}

func (f *failNthSync) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

func (f *failNthSync) MaybeError(op faults.Op) error {
	if op.Kind != faults.OpSync {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return nil
	}
	f.seen++
	if f.seen < f.n {
		return nil
	}
	f.n = 0
	f.fired++
	return faults.Inject(op, syscall.EIO, f.String())
}

func caseFsyncFailure(t testing.TB, s *suite) {
	caps := s.faultable(t)
	type variant struct {
		name string
		// arm makes the next sync (first) or the one after (second) fail
		// and returns how many syncs failed so far.
		inj   faults.Injector
		arm   func()
		fired func() int
		pct   int
	}
	var variants []variant
	for _, pct := range []int{0, 50} {
		trig := faults.NewTrigger(faults.OpSync, syscall.EIO)
		variants = append(variants, variant{fmt.Sprintf("first sync fails, power loss keeping %d%%", pct), trig, func() { trig.Arm(1) }, trig.Fired, pct})
	}
	second := &failNthSync{}
	variants = append(variants, variant{"second sync fails, power loss keeping 0%", second, func() { second.arm(2) }, second.count, 0})

	for vi, v := range variants {
		if t.Failed() {
			return
		}
		disk := faults.NewDisk(v.inj)
		prepareMem(t, disk.Mem())
		s.keepMem(t, disk.Mem(), v.name)
		in := s.openOn(t, disk.FS(), memDir)
		ls, ms := in.log(), in.meta()
		acked := &model{}
		for lo := uint64(1); lo <= 20; lo += 5 {
			persist(t, ls, acked, makeEntries(lo, 5, 1, 0, crashSize), v.name+": before the failure")
		}
		hs1 := sampleHardState(1)
		if err := ms.SaveHardState(hs1); err != nil {
			t.Fatalf("%s: SaveHardState before the failure: %v", v.name, err)
		}
		in.settle()
		h := history{}
		failed := makeEntries(21, 10, 1, 1, crashSize)
		for _, e := range append(append([]raftlog.Entry(nil), acked.ents...), failed...) {
			h[e.Index] = append(h[e.Index], e)
		}

		v.arm()
		op := "PersistEntries"
		err := ls.PersistEntries(failed)
		if err == nil && !caps.SyncOnWrite {
			op = "Flush after PersistEntries"
			err = ls.Flush()
		}
		fired := v.fired()
		maybe := failed
		if fired == 0 {
			if vi == len(variants)-1 {
				// The engine made a single sync: the second-sync variant
				// does not apply.
				in.faulted = true
				continue
			}
			t.Errorf("%s: %s of entries 21..30 returned %v without a sync through Options.FS: it cannot be durable", v.name, op, err)
			in.faulted = true
			continue
		}
		in.faulted = true
		switch {
		case err == nil:
			t.Errorf("%s: the sync failed with EIO but %s reported success: an engine must not retry a failed sync and acknowledge", v.name, op)
			_ = acked.persist(failed) // the engine answers for what it acknowledged
			maybe = nil
		case !errors.Is(err, faults.ErrInjected) && !errors.Is(err, syscall.EIO):
			t.Errorf("%s: %s = %v, which does not wrap the injected EIO", v.name, op, err)
		}
		if err != nil && caps.SyncOnWrite && ls.LastIndex() != 20 {
			t.Errorf("%s: LastIndex() = %d after the failed %s, want 20: nothing of a failed batch is reported", v.name, ls.LastIndex(), op)
		}

		x := expectation{base: acked, appended: maybe, hs: []raftlog.HardState{hs1}}

		// A power loss right after the failure: everything acknowledged
		// before it (and whatever the engine wrongly acknowledged) is there.
		early, perr := disk.PowerLoss(uint64(vi+1), v.pct, nil)
		if perr != nil {
			t.Fatalf("%s: power loss: %v", v.name, perr)
		}

		// Every later mutation must fail with ErrFailed.
		retry := failed
		if ls.LastIndex() != 20 {
			retry = makeEntries(ls.LastIndex()+1, 5, 1, 2, crashSize)
		}
		refused := true
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"PersistEntries (a retry)", func() error { return ls.PersistEntries(retry) }},
			{"SaveHardState", func() error { return ms.SaveHardState(sampleHardState(2)) }},
			{"Flush", ls.Flush},
			{"Truncate(10)", func() error { return ls.Truncate(10) }},
		} {
			if err := c.call(); !errors.Is(err, raftlog.ErrFailed) {
				t.Errorf("%s: after the failed sync, %s = %v, want an error wrapping ErrFailed", v.name, c.name, err)
				refused = refused && err != nil
			}
		}
		late, perr := disk.PowerLoss(uint64(vi+101), v.pct, nil)
		if perr != nil {
			t.Fatalf("%s: power loss: %v", v.name, perr)
		}

		crashes := []struct {
			what string
			disk *faults.Disk
		}{{"right after the failed sync", early}}
		if refused {
			// The refused mutations must not have changed what survives.
			crashes = append(crashes, struct {
				what string
				disk *faults.Disk
			}{"after the refused mutations", late})
		}
		for _, c := range crashes {
			when := fmt.Sprintf("%s: reopened after a power loss %s", v.name, c.what)
			s.keepMem(t, c.disk.Mem(), when)
			cin := s.openOn(t, c.disk.FS(), memDir)
			if m, ok := verifyRecovered(t, cin.e, x, h, when); ok {
				continueAfter(t, cin, m, when)
			}
		}
	}
}

// caseFsyncFailureHardState fails the sync of a SaveHardState: the call must
// return the error, LoadHardState must go on returning the state saved
// before, and after a power loss the engine holds the old or the new state,
// whole.
func caseFsyncFailureHardState(t testing.TB, s *suite) {
	caps := s.faultable(t)
	trig := faults.NewTrigger(faults.OpSync, syscall.EIO)
	disk := faults.NewDisk(trig)
	prepareMem(t, disk.Mem())
	s.keepMem(t, disk.Mem(), "hard state sync fails")
	in := s.openOn(t, disk.FS(), memDir)
	ms := in.meta()
	hs1, hs2 := sampleHardState(1), sampleHardState(2)
	if err := ms.SaveHardState(hs1); err != nil {
		t.Fatalf("SaveHardState before the failure: %v", err)
	}
	if !caps.SyncOnWrite {
		if err := ms.Flush(); err != nil {
			t.Fatalf("Flush before the failure: %v", err)
		}
	}
	in.settle()
	trig.Arm(1)
	op, err := "SaveHardState", ms.SaveHardState(hs2)
	if err == nil && !caps.SyncOnWrite {
		op, err = "Flush after SaveHardState", ms.Flush()
	}
	if trig.Fired() == 0 {
		t.Fatalf("%s returned %v without a sync through Options.FS: it cannot be durable", op, err)
	}
	in.faulted = true
	if err == nil {
		t.Fatalf("the sync failed with EIO but %s reported success", op)
	}
	// An engine that syncs on write never accepted hs2; one that flushes
	// accepted it before the failing Flush, and may go on serving it.
	if got, ok, lerr := ms.LoadHardState(); caps.SyncOnWrite && (lerr != nil || !ok || got != hs1) {
		t.Errorf("after the failed %s, LoadHardState = %+v, %v, %v; want the state saved before, %+v: nothing of a failed call is reported", op, got, ok, lerr, hs1)
	}
	crashed, perr := disk.PowerLoss(7, 0, nil)
	if perr != nil {
		t.Fatalf("power loss: %v", perr)
	}
	cin := s.openOn(t, crashed.FS(), memDir)
	got, ok, lerr := cin.meta().LoadHardState()
	if lerr != nil || !ok || (got != hs1 && got != hs2) {
		t.Errorf("after a power loss, LoadHardState = %+v, %v, %v; want %+v or %+v", got, ok, lerr, hs1, hs2)
	}
}

// caseTornRecord tears the record in flight on purpose: one entry four 4 KiB
// blocks long is written but not yet synced when the power fails, and the
// power loss keeps a seeded part of its blocks. Recovery must cut the record
// or keep it whole, and never serve it with blocks that were not written.
// power_loss_mid_write meets torn records too, but only where its scripts
// happen to put a large entry; here every seed tears one.
func caseTornRecord(t testing.TB, s *suite) {
	caps := s.faultable(t)
	small := func(uint64) int { return 100 }
	big := func(uint64) int { return 4 * faults.BlockSize }
	steps := []step{
		{kind: stepPersist, batch: makeEntries(1, 4, 1, 0, small)},
		{kind: stepPersist, batch: makeEntries(5, 1, 1, 0, big)},
	}
	if !caps.SyncOnWrite {
		steps = []step{steps[0], {kind: stepFlush}, steps[1], {kind: stepFlush}}
	}
	h := newHistory(steps)
	dry := &crashAtSync{mem: newMem(t), step: new(atomic.Int64)}
	s.runScript(t, dry, steps, "torn record: counting syncs")
	bigStep := len(steps) - 1 // the big batch, or the flush that syncs it
	if caps.SyncOnWrite {
		bigStep = 1
	}
	checked := 0
	for seed := uint64(1); seed <= 16 && !t.Failed(); seed++ {
		for at := 1; at <= dry.syncs && !t.Failed(); at++ {
			c := &crashAtSync{mem: newMem(t), at: at, seed: seed, step: new(atomic.Int64)}
			s.runScript(t, c, steps, fmt.Sprintf("torn record: seed %d, crash at sync %d", seed, at))
			if c.clones == nil || c.crashStep != bigStep {
				continue
			}
			x := expectAt(steps, c.crashStep, caps.SyncOnWrite)
			for i, pct := range crashPercents {
				when := fmt.Sprintf("torn record: seed %d: power loss at sync %d of %d during %s keeping %d%% of unsynced data", seed, at, dry.syncs, steps[bigStep], pct)
				s.keepMem(t, c.clones[i], when)
				cin := s.openOn(t, c.clones[i], memDir)
				verifyRecovered(t, cin.e, x, h, when)
				checked++
			}
		}
	}
	if checked == 0 && !t.Failed() {
		t.Fatalf("torn record: no sync of engine %s happened while the large entry was in flight", s.h.Name)
	}
}
