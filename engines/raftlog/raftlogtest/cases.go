package raftlogtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// cases is every case, in the order Run runs them. Names are stable.
var cases = []testCase{
	// The cases of d-engine's StorageEngineTestSuite.
	{"empty_store", caseEmptyStore},
	{"single_entry", caseSingleEntry},
	{"batch_range", caseBatchRange},
	{"purge", casePurge},
	{"truncate", caseTruncate},
	{"reset", caseReset},
	{"empty_persist", caseEmptyPersist},
	{"range_out_of_bounds", caseRangeOutOfBounds},
	{"purge_zero", casePurgeZero},
	{"hard_state_round_trip", caseHardStateRoundTrip},
	{"reset_keeps_hard_state", caseResetKeepsHardState},
	{"flush", caseFlush},
	{"reopen_entries", caseReopenEntries},
	{"reopen_hard_state", caseReopenHardState},
	{"reopen_truncate_purge", caseReopenTruncatePurge},
	// The rest of the contract.
	{"truncate_beyond_tail", caseTruncateBeyondTail},
	{"purge_all_reopen", casePurgeAllReopen},
	{"truncate_repersist_reopen", caseTruncateRepersistReopen},
	{"concurrent_readers", caseConcurrentReaders},
	{"non_contiguous", caseNonContiguous},
	{"read_errors", caseReadErrors},
	{"ownership", caseOwnership},
	{"purge_above_last", casePurgeAboveLast},
	{"entry_fields", caseEntryFields},
	{"closed", caseClosed},
	{"bounds_model", caseBoundsModel},
	{"reopen_cycles", caseReopenCycles},
	// Faults, for engines that write through Options.FS.
	{"power_loss", casePowerLoss},
	{"power_loss_mid_write", casePowerLossMidWrite},
	{"fsync_failure", caseFsyncFailure},
	{"fsync_failure_hard_state", caseFsyncFailureHardState},
	{"fsync_failure_at_open", caseFsyncFailureAtOpen},
	{"torn_record", caseTornRecord},
	// Damaged files, for engines that keep anything.
	{"corruption", caseCorruption},
}

func caseEmptyStore(t testing.TB, s *suite) {
	in := s.fresh(t)
	checkLog(t, in.log(), &model{}, "new engine")
	got, err := in.log().Entries(1, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("new engine: Entries(1, 10) = %d entries, %v; want none and no error", len(got), err)
	}
	if hs, ok, err := in.meta().LoadHardState(); err != nil || ok {
		t.Errorf("new engine: LoadHardState() = %+v, %v, %v; want ok false and no error", hs, ok, err)
	}
}

func caseSingleEntry(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 1, 1, 0, nil), "persist entry 1")
	checkLog(t, in.log(), m, "after one entry")
}

func caseBatchRange(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 100, 1, 0, nil), "persist 1..100")
	got, err := in.log().Entries(25, 75)
	if err != nil {
		t.Fatalf("Entries(25, 75): %v", err)
	}
	checkRun(t, got, m.ents[24:75], "Entries(25, 75)")
	checkLog(t, in.log(), m, "after a batch of 100")
}

func casePurge(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 100, 1, 0, nil), "persist 1..100")
	id := raftlog.LogID{Index: 50, Term: 1}
	if err := in.log().Purge(id); err != nil {
		t.Fatalf("Purge(%v): %v", id, err)
	}
	m.purge(id)
	checkLog(t, in.log(), m, "after Purge(50@1)")
	got, err := in.log().Entry(51)
	if err != nil || !sameEntry(got, m.ents[0]) {
		t.Errorf("after Purge(50@1): Entry(51) = %s, %v; want %s", describe(got), err, describe(m.ents[0]))
	}
}

func caseTruncate(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 100, 1, 0, nil), "persist 1..100")
	if err := in.log().Truncate(76); err != nil {
		t.Fatalf("Truncate(76): %v", err)
	}
	_ = m.truncate(76)
	checkLog(t, in.log(), m, "after Truncate(76)")
	if in.log().LastIndex() != 75 {
		t.Errorf("after Truncate(76): LastIndex() = %d, want 75", in.log().LastIndex())
	}
}

func caseReset(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 100, 1, 0, nil), "persist 1..100")
	if err := in.log().Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
		t.Fatalf("Purge(10@1): %v", err)
	}
	if err := in.log().Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	m.reset()
	checkLog(t, in.log(), m, "after Reset")
	persist(t, in.log(), m, makeEntries(1, 5, 2, 1, nil), "persist 1..5 after Reset")
	checkLog(t, in.log(), m, "after Reset and a new batch")
	// A reset of a log that was never purged, spanning more data.
	persist(t, in.log(), m, makeEntries(6, 200, 2, 2, crashSize), "persist 6..205")
	if err := in.log().Reset(); err != nil {
		t.Fatalf("second Reset: %v", err)
	}
	m.reset()
	checkLog(t, in.log(), m, "after a second Reset")
	persist(t, in.log(), m, makeEntries(1, 5, 3, 3, nil), "persist 1..5 after the second Reset")
	checkLog(t, in.log(), m, "after the second Reset and a new batch")
}

func caseEmptyPersist(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	for _, b := range [][]raftlog.Entry{nil, {}} {
		if err := in.log().PersistEntries(b); err != nil {
			t.Errorf("empty log: PersistEntries(%#v): %v, want nil", b, err)
		}
	}
	checkLog(t, in.log(), m, "empty batches on an empty log")
	persist(t, in.log(), m, makeEntries(1, 10, 1, 0, nil), "persist 1..10")
	for _, b := range [][]raftlog.Entry{nil, {}} {
		if err := in.log().PersistEntries(b); err != nil {
			t.Errorf("log 1..10: PersistEntries(%#v): %v, want nil", b, err)
		}
	}
	checkLog(t, in.log(), m, "empty batches on log 1..10")
}

func caseRangeOutOfBounds(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 100, 1, 0, nil), "persist 1..100")
	for _, r := range []struct{ lo, hi uint64 }{{101, 200}, {150, 150}, {1000, ^uint64(0)}} {
		got, err := in.log().Entries(r.lo, r.hi)
		if err != nil || len(got) != 0 {
			t.Errorf("log 1..100: Entries(%d, %d) = %d entries, %v; want none and no error", r.lo, r.hi, len(got), err)
		}
	}
	got, err := in.log().Entries(90, 200)
	if err != nil {
		t.Fatalf("log 1..100: Entries(90, 200): %v", err)
	}
	checkRun(t, got, m.ents[89:], "log 1..100: Entries(90, 200)")
	got, err = in.log().Entries(1, ^uint64(0))
	if err != nil {
		t.Fatalf("log 1..100: Entries(1, max): %v", err)
	}
	checkRun(t, got, m.ents, "log 1..100: Entries(1, max)")
}

func casePurgeZero(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	if err := in.log().Purge(raftlog.LogID{}); err != nil {
		t.Errorf("empty log: Purge(0@0): %v", err)
	}
	checkLog(t, in.log(), m, "empty log after Purge(0@0)")
	persist(t, in.log(), m, makeEntries(1, 10, 1, 0, nil), "persist 1..10")
	if err := in.log().Purge(raftlog.LogID{}); err != nil {
		t.Errorf("log 1..10: Purge(0@0): %v", err)
	}
	checkLog(t, in.log(), m, "log 1..10 after Purge(0@0)")
	// A boundary at or below the current one is a no-op.
	if err := in.log().Purge(raftlog.LogID{Index: 5, Term: 1}); err != nil {
		t.Fatalf("Purge(5@1): %v", err)
	}
	m.purge(raftlog.LogID{Index: 5, Term: 1})
	for _, id := range []raftlog.LogID{{Index: 5, Term: 1}, {Index: 3, Term: 1}, {}} {
		if err := in.log().Purge(id); err != nil {
			t.Errorf("log 6..10: Purge(%v): %v", id, err)
		}
		checkLog(t, in.log(), m, fmt.Sprintf("log 6..10 after Purge(%v)", id))
	}
}

func sampleHardState(k uint64) raftlog.HardState {
	return raftlog.HardState{Term: k, Vote: raftlog.Vote{Term: k, Candidate: strconv.FormatUint(k, 10)}, Commit: k}
}

func checkHardState(t testing.TB, ms raftlog.MetaStore, want raftlog.HardState, when string) {
	t.Helper()
	got, ok, err := ms.LoadHardState()
	if err != nil || !ok || got != want {
		t.Errorf("%s: LoadHardState() = %+v, %v, %v; want %+v, true, nil", when, got, ok, err, want)
	}
}

func caseHardStateRoundTrip(t testing.TB, s *suite) {
	in := s.fresh(t)
	states := []raftlog.HardState{
		{Term: 1},
		{Term: 7, Vote: raftlog.Vote{Term: 7, Candidate: "3"}, Commit: 42},
		{Term: 8, Vote: raftlog.Vote{Term: 8, Candidate: "server-with-a-long-name/10.0.0.1:7000"}, Commit: 1 << 40},
		{Term: ^uint64(0), Commit: ^uint64(0) - 1},
		{Term: 9, Commit: 43}, // a shorter state after a longer one
	}
	for _, hs := range states {
		if err := in.meta().SaveHardState(hs); err != nil {
			t.Fatalf("SaveHardState(%+v): %v", hs, err)
		}
		checkHardState(t, in.meta(), hs, fmt.Sprintf("after SaveHardState(%+v)", hs))
	}
}

func caseResetKeepsHardState(t testing.TB, s *suite) {
	in := s.fresh(t)
	hs := sampleHardState(5)
	if err := in.meta().SaveHardState(hs); err != nil {
		t.Fatalf("SaveHardState: %v", err)
	}
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 20, 5, 0, nil), "persist 1..20")
	if err := in.log().Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	m.reset()
	checkLog(t, in.log(), m, "after Reset")
	checkHardState(t, in.meta(), hs, "after Reset")
	if in.caps().Persistent {
		in.settle()
		in.reopen()
		checkLog(t, in.log(), m, "after Reset and a reopen")
		checkHardState(t, in.meta(), hs, "after Reset and a reopen")
	}
}

func caseFlush(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	if err := in.log().Flush(); err != nil {
		t.Errorf("empty log: Flush: %v", err)
	}
	if err := in.meta().Flush(); err != nil {
		t.Errorf("empty meta store: Flush: %v", err)
	}
	persist(t, in.log(), m, makeEntries(1, 50, 1, 0, nil), "persist 1..50")
	if err := in.meta().SaveHardState(sampleHardState(1)); err != nil {
		t.Fatalf("SaveHardState: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := in.log().Flush(); err != nil {
			t.Errorf("Flush %d of the log: %v", i+1, err)
		}
		if err := in.meta().Flush(); err != nil {
			t.Errorf("Flush %d of the meta store: %v", i+1, err)
		}
	}
	checkLog(t, in.log(), m, "after Flush")
	checkHardState(t, in.meta(), sampleHardState(1), "after Flush")
}

func caseReopenEntries(t testing.TB, s *suite) {
	in := s.fresh(t)
	in.requirePersistent()
	m := &model{}
	for lo := uint64(1); lo <= 100; lo += 25 {
		persist(t, in.log(), m, makeEntries(lo, 25, 1+lo/50, 0, nil), fmt.Sprintf("persist %d..%d", lo, lo+24))
	}
	// Without SyncOnWrite, only a Flush promises anything.
	in.settle()
	in.reopen()
	checkLog(t, in.log(), m, "after a reopen")
	persist(t, in.log(), m, makeEntries(101, 10, 3, 0, nil), "persist 101..110 after a reopen")
	in.settle()
	in.reopen()
	checkLog(t, in.log(), m, "after a second reopen")
}

func caseReopenHardState(t testing.TB, s *suite) {
	in := s.fresh(t)
	in.requirePersistent()
	in.reopen()
	if hs, ok, err := in.meta().LoadHardState(); err != nil || ok {
		t.Errorf("reopened empty engine: LoadHardState() = %+v, %v, %v; want ok false", hs, ok, err)
	}
	for k := uint64(1); k <= 3; k++ {
		hs := sampleHardState(k * 10)
		if err := in.meta().SaveHardState(hs); err != nil {
			t.Fatalf("SaveHardState(%+v): %v", hs, err)
		}
		in.settle()
		in.reopen()
		checkHardState(t, in.meta(), hs, fmt.Sprintf("reopen %d", k))
	}
}

func caseReopenTruncatePurge(t testing.TB, s *suite) {
	in := s.fresh(t)
	in.requirePersistent()
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 100, 1, 0, nil), "persist 1..100")
	if err := in.log().Purge(raftlog.LogID{Index: 20, Term: 1}); err != nil {
		t.Fatalf("Purge(20@1): %v", err)
	}
	m.purge(raftlog.LogID{Index: 20, Term: 1})
	if err := in.log().Truncate(81); err != nil {
		t.Fatalf("Truncate(81): %v", err)
	}
	_ = m.truncate(81)
	in.settle()
	in.reopen()
	checkLog(t, in.log(), m, "after Purge(20), Truncate(81) and a reopen")
	persist(t, in.log(), m, makeEntries(81, 10, 2, 1, nil), "persist 81..90 after the reopen")
	in.settle()
	in.reopen()
	checkLog(t, in.log(), m, "after a second reopen")
}

func caseTruncateBeyondTail(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	for _, from := range []uint64{1, 2, 1000} {
		if err := in.log().Truncate(from); err != nil {
			t.Errorf("empty log: Truncate(%d): %v, want a no-op", from, err)
		}
	}
	checkLog(t, in.log(), m, "empty log after Truncate beyond the tail")
	persist(t, in.log(), m, makeEntries(1, 30, 1, 0, nil), "persist 1..30")
	for _, from := range []uint64{31, 32, 1 << 40, ^uint64(0)} {
		if err := in.log().Truncate(from); err != nil {
			t.Errorf("log 1..30: Truncate(%d): %v, want a no-op", from, err)
		}
		checkLog(t, in.log(), m, fmt.Sprintf("log 1..30 after Truncate(%d)", from))
	}
	if err := in.log().Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
		t.Fatalf("Purge(10@1): %v", err)
	}
	m.purge(raftlog.LogID{Index: 10, Term: 1})
	for _, from := range []uint64{10, 5, 1} {
		if err := in.log().Truncate(from); !errors.Is(err, raftlog.ErrCompacted) {
			t.Errorf("log 11..30: Truncate(%d) = %v, want an error wrapping ErrCompacted", from, err)
		}
		checkLog(t, in.log(), m, fmt.Sprintf("log 11..30 after Truncate(%d)", from))
	}
	if err := in.log().Truncate(11); err != nil {
		t.Fatalf("log 11..30: Truncate(11): %v", err)
	}
	_ = m.truncate(11)
	checkLog(t, in.log(), m, "after truncating everything above the boundary")
	persist(t, in.log(), m, makeEntries(11, 5, 2, 1, nil), "persist 11..15 after truncating to the boundary")
	checkLog(t, in.log(), m, "after re-persisting 11..15")
}

func casePurgeAllReopen(t testing.TB, s *suite) {
	in := s.fresh(t)
	in.requirePersistent()
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 50, 2, 0, nil), "persist 1..50")
	id := raftlog.LogID{Index: 50, Term: 2}
	if err := in.log().Purge(id); err != nil {
		t.Fatalf("Purge(%v): %v", id, err)
	}
	m.purge(id)
	checkLog(t, in.log(), m, "after purging everything")
	in.settle()
	in.reopen()
	checkLog(t, in.log(), m, "after purging everything and a reopen")
	persist(t, in.log(), m, makeEntries(51, 10, 3, 0, nil), "persist 51..60 after the reopen")
	in.settle()
	in.reopen()
	checkLog(t, in.log(), m, "after 51..60 and a second reopen")
}

func caseTruncateRepersistReopen(t testing.TB, s *suite) {
	in := s.fresh(t)
	in.requirePersistent()
	m := &model{}
	persist(t, in.log(), m, makeEntries(1, 100, 1, 0, nil), "persist 1..100 in term 1")
	steps := []struct {
		from uint64
		n    int
		term uint64
	}{{51, 20, 2}, {61, 5, 3}, {30, 1, 4}}
	for k, st := range steps {
		if err := in.log().Truncate(st.from); err != nil {
			t.Fatalf("Truncate(%d): %v", st.from, err)
		}
		_ = m.truncate(st.from)
		persist(t, in.log(), m, makeEntries(st.from, st.n, st.term, uint64(k+1), nil),
			fmt.Sprintf("persist %d..%d in term %d", st.from, st.from+uint64(st.n)-1, st.term))
		when := fmt.Sprintf("after Truncate(%d) and %d entries in term %d", st.from, st.n, st.term)
		checkLog(t, in.log(), m, when)
		in.settle()
		in.reopen()
		checkLog(t, in.log(), m, when+" and a reopen")
	}
}

func caseConcurrentReaders(t testing.TB, s *suite) {
	in := s.fresh(t)
	ls, ms := in.log(), in.meta()
	const total, readers = 2000, 4
	var done atomic.Bool
	var wg sync.WaitGroup
	var failures atomic.Int32
	report := func(format string, args ...any) {
		if failures.Add(1) <= 5 {
			t.Errorf(format, args...)
		}
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			var lastFirst uint64
			var lastHS uint64
			for !done.Load() && failures.Load() == 0 {
				first, last := ls.FirstIndex(), ls.LastIndex()
				if first < lastFirst {
					report("reader %d: FirstIndex went back from %d to %d with no Reset", r, lastFirst, first)
				}
				lastFirst = first
				if last >= first {
					i := first + rng.Uint64N(last-first+1)
					e, err := ls.Entry(i)
					switch {
					case err == nil:
						if e.Index != i || !wellFormed(e) {
							report("reader %d: Entry(%d) = %s, which no write produced", r, i, describe(e))
						}
					case errors.Is(err, raftlog.ErrCompacted), errors.Is(err, raftlog.ErrNotFound):
					default:
						report("reader %d: Entry(%d): %v", r, i, err)
					}
					run, err := ls.Entries(i, i+16)
					switch {
					case err == nil:
						checkConcurrentRun(i, run, func(format string, args ...any) {
							report("reader %d: "+format, append([]any{r}, args...)...)
						})
					case errors.Is(err, raftlog.ErrCompacted):
					default:
						report("reader %d: Entries(%d, %d): %v", r, i, i+16, err)
					}
				}
				hs, ok, err := ms.LoadHardState()
				if err != nil {
					report("reader %d: LoadHardState: %v", r, err)
				} else if ok {
					if hs != sampleHardState(hs.Term) {
						report("reader %d: LoadHardState() = %+v, a mix of two saved states", r, hs)
					}
					if hs.Term < lastHS {
						report("reader %d: LoadHardState went back from term %d to %d", r, lastHS, hs.Term)
					}
					lastHS = hs.Term
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(42, 42))
	m := &model{}
	term, attempt, saved := uint64(1), uint64(0), uint64(0)
	for m.last() < total && failures.Load() == 0 {
		n := 1 + rng.IntN(32)
		if err := ls.PersistEntries(makeEntries(m.last()+1, n, term, attempt, nil)); err != nil {
			report("writer: PersistEntries at %d: %v", m.last()+1, err)
			break
		}
		_ = m.persist(makeEntries(m.last()+1, n, term, attempt, nil))
		if rng.IntN(4) == 0 {
			saved++
			if err := ms.SaveHardState(sampleHardState(saved)); err != nil {
				report("writer: SaveHardState: %v", err)
				break
			}
		}
		switch rng.IntN(20) {
		case 0:
			from := max(m.first(), m.last()-uint64(rng.IntN(8)))
			if err := ls.Truncate(from); err != nil {
				report("writer: Truncate(%d): %v", from, err)
			}
			_ = m.truncate(from)
			term++
			attempt++
		case 1:
			if m.last() > 200 {
				id := raftlog.LogID{Index: m.last() - 200, Term: m.termAt(m.last() - 200)}
				if err := ls.Purge(id); err != nil {
					report("writer: Purge(%v): %v", id, err)
				}
				m.purge(id)
			}
		}
	}
	done.Store(true)
	wg.Wait()
	if failures.Load() == 0 {
		checkLog(t, ls, m, "after the concurrent run")
	}
}

// checkConcurrentRun checks a run read while a writer appends, truncates and
// purges: consecutive indexes from lo, well-formed content, terms that never
// go down (a run mixing the log before and after a truncation would).
func checkConcurrentRun(lo uint64, run []raftlog.Entry, report func(string, ...any)) {
	if len(run) > 17 {
		report("Entries(%d, %d) returned %d entries", lo, lo+16, len(run))
		return
	}
	for k, e := range run {
		if e.Index != lo+uint64(k) || !wellFormed(e) {
			report("Entries(%d, %d): entry %d is %s, which no write produced there", lo, lo+16, k, describe(e))
			return
		}
		if k > 0 && e.Term < run[k-1].Term {
			report("Entries(%d, %d): term goes down from %d to %d at index %d: a mix of two states", lo, lo+16, run[k-1].Term, e.Term, e.Index)
			return
		}
	}
}

func caseNonContiguous(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	reject := func(b []raftlog.Entry, what string) {
		t.Helper()
		if err := in.log().PersistEntries(b); !errors.Is(err, raftlog.ErrNonContiguous) {
			t.Errorf("%s: PersistEntries = %v, want an error wrapping ErrNonContiguous", what, err)
		}
		checkLog(t, in.log(), m, "after rejecting "+what)
	}
	reject(makeEntries(2, 3, 1, 0, nil), "a batch from 2 on an empty log")
	reject(makeEntries(0, 3, 1, 0, nil), "a batch from 0 on an empty log")
	persist(t, in.log(), m, makeEntries(1, 10, 1, 0, nil), "persist 1..10")
	reject(makeEntries(12, 3, 1, 1, nil), "a batch from 12 on log 1..10 (a gap)")
	reject(makeEntries(10, 3, 1, 1, nil), "a batch from 10 on log 1..10 (an overlap)")
	reject(makeEntries(1, 3, 1, 1, nil), "a batch from 1 on log 1..10 (a rewrite)")
	gap := makeEntries(11, 4, 1, 1, nil)
	gap[2] = makeEntry(14, 1, 1, 30)
	reject(gap, "batch 11, 12, 14, 14 (a gap inside)")
	dup := makeEntries(11, 3, 1, 1, nil)
	dup[1] = dup[0]
	reject(dup, "batch 11, 11, 13 (a duplicate inside)")
	down := []raftlog.Entry{makeEntry(12, 1, 1, 30), makeEntry(11, 1, 1, 30)}
	reject(down, "batch 12, 11 (descending)")
	persist(t, in.log(), m, makeEntries(11, 5, 1, 2, nil), "persist 11..15 after the rejections")
	checkLog(t, in.log(), m, "after 11..15")
	id := raftlog.LogID{Index: 30, Term: 2}
	if err := in.log().Purge(id); err != nil {
		t.Fatalf("Purge(%v): %v", id, err)
	}
	m.purge(id)
	reject(makeEntries(16, 2, 2, 3, nil), "a batch from 16 after Purge(30@2)")
	persist(t, in.log(), m, makeEntries(31, 2, 2, 3, nil), "persist 31..32 after Purge(30@2)")
	checkLog(t, in.log(), m, "after 31..32")
}

func caseReadErrors(t testing.TB, s *suite) {
	in := s.fresh(t)
	ls := in.log()
	checkErr(t, ls, 0, raftlog.ErrCompacted, "empty log (index 0 is at the boundary)")
	checkErr(t, ls, 1, raftlog.ErrNotFound, "empty log")
	m := &model{}
	persist(t, ls, m, makeEntries(1, 100, 1, 0, nil), "persist 1..100")
	if err := ls.Purge(raftlog.LogID{Index: 10, Term: 1}); err != nil {
		t.Fatalf("Purge(10@1): %v", err)
	}
	m.purge(raftlog.LogID{Index: 10, Term: 1})
	const when = "log 11..100"
	for _, i := range []uint64{0, 1, 5, 10} {
		checkErr(t, ls, i, raftlog.ErrCompacted, when)
	}
	for _, i := range []uint64{101, 102, 1 << 40, ^uint64(0)} {
		checkErr(t, ls, i, raftlog.ErrNotFound, when)
	}
	for _, r := range []struct {
		lo, hi uint64
		want   error
	}{
		{0, 5, raftlog.ErrInvalidRange},
		{0, 0, raftlog.ErrInvalidRange},
		{20, 19, raftlog.ErrInvalidRange},
		{^uint64(0), 1, raftlog.ErrInvalidRange},
		{10, 20, raftlog.ErrCompacted},
		{1, 20, raftlog.ErrCompacted},
		{5, 5, raftlog.ErrCompacted},
	} {
		got, err := ls.Entries(r.lo, r.hi)
		if !errors.Is(err, r.want) {
			t.Errorf("%s: Entries(%d, %d) = %d entries, %v; want an error wrapping %v", when, r.lo, r.hi, len(got), err, r.want)
		}
	}
	got, err := ls.Entries(11, 11)
	if err != nil {
		t.Fatalf("%s: Entries(11, 11): %v", when, err)
	}
	checkRun(t, got, m.ents[:1], when+": Entries(11, 11)")
	checkLog(t, ls, m, when)
}

func caseOwnership(t testing.TB, s *suite) {
	in := s.fresh(t)
	ls := in.log()
	m := &model{}
	batch := makeEntries(1, 10, 1, 0, nil)
	for i := range batch {
		// Spare capacity: an engine that keeps the caller's slice would see
		// the appends below.
		batch[i].Data = append(make([]byte, 0, len(batch[i].Data)+64), batch[i].Data...)
	}
	persist(t, ls, m, batch, "persist 1..10")
	for i := range batch {
		for j := range batch[i].Data {
			batch[i].Data[j] ^= 0xFF
		}
		_ = append(batch[i].Data, bytes.Repeat([]byte{0xEE}, 64)...)
		batch[i].Term = 99
	}
	batch[0] = makeEntry(1, 7, 7, 40)
	checkLog(t, ls, m, "after changing the persisted batch's entries and data")

	e, err := ls.Entry(5)
	if err != nil {
		t.Fatalf("Entry(5): %v", err)
	}
	for j := range e.Data {
		e.Data[j] = 0
	}
	_ = append(e.Data, bytes.Repeat([]byte{0xEE}, 64)...)
	run, err := ls.Entries(1, 10)
	if err != nil {
		t.Fatalf("Entries(1, 10): %v", err)
	}
	for i := range run {
		for j := range run[i].Data {
			run[i].Data[j] ^= 0x55
		}
		// Appending to an entry's data must not write into the next entry's.
		_ = append(run[i].Data, bytes.Repeat([]byte{0xEE}, 64)...)
	}
	checkLog(t, ls, m, "after changing entries returned by Entry and Entries")

	// Returned entries belong to the caller: later mutations of the store
	// do not change them.
	kept, err := ls.Entries(1, 10)
	if err != nil {
		t.Fatalf("Entries(1, 10): %v", err)
	}
	if !checkRun(t, kept, m.ents, "Entries(1, 10)") {
		return
	}
	want := make([]raftlog.Entry, len(kept))
	for i, e := range kept {
		e.Data = bytes.Clone(e.Data)
		want[i] = e
	}
	if err := ls.Truncate(3); err != nil {
		t.Fatalf("Truncate(3): %v", err)
	}
	_ = m.truncate(3)
	persist(t, ls, m, makeEntries(3, 30, 2, 1, func(uint64) int { return 200 }), "persist 3..32 in term 2")
	if err := ls.Purge(raftlog.LogID{Index: 5, Term: 2}); err != nil {
		t.Fatalf("Purge(5@2): %v", err)
	}
	m.purge(raftlog.LogID{Index: 5, Term: 2})
	checkRun(t, kept, want, "entries read before Truncate, Persist and Purge")
	checkLog(t, ls, m, "after Truncate(3), persist 3..32 and Purge(5)")
}

func casePurgeAboveLast(t testing.TB, s *suite) {
	in := s.fresh(t)
	ls := in.log()
	m := &model{}
	persist(t, ls, m, makeEntries(1, 10, 1, 0, nil), "persist 1..10")
	id := raftlog.LogID{Index: 50, Term: 3}
	if err := ls.Purge(id); err != nil {
		t.Fatalf("Purge(%v) above LastIndex: %v", id, err)
	}
	m.purge(id)
	checkLog(t, ls, m, "after Purge(50@3) on log 1..10")
	if got, err := ls.Entries(51, 60); err != nil || len(got) != 0 {
		t.Errorf("after Purge(50@3): Entries(51, 60) = %d entries, %v; want none", len(got), err)
	}
	if err := ls.PersistEntries(makeEntries(11, 2, 1, 1, nil)); !errors.Is(err, raftlog.ErrNonContiguous) {
		t.Errorf("after Purge(50@3): PersistEntries from 11 = %v, want ErrNonContiguous", err)
	}
	if err := ls.Truncate(50); !errors.Is(err, raftlog.ErrCompacted) {
		t.Errorf("after Purge(50@3): Truncate(50) = %v, want ErrCompacted", err)
	}
	persist(t, ls, m, makeEntries(51, 10, 3, 1, nil), "persist 51..60 after Purge(50@3)")
	checkLog(t, ls, m, "after 51..60")
	if in.caps().Persistent {
		in.settle()
		in.reopen()
		checkLog(t, in.log(), m, "after 51..60 and a reopen")
	}
}

func caseEntryFields(t testing.TB, s *suite) {
	in := s.fresh(t)
	m := &model{}
	sizes := []int{0, 0, 1, 7, 4095, 4096, 4097, 65536, 1 << 20}
	var b []raftlog.Entry
	for i, size := range sizes {
		e := raftlog.Entry{Index: uint64(i + 1), Term: uint64(i + 1), Type: raftlog.EntryType(i * 37)}
		if i == 1 {
			e.Data = []byte{}
		} else if size > 0 {
			e.Data = payload(e.Index, e.Term, 0, size)
		}
		b = append(b, e)
	}
	b = append(b,
		raftlog.Entry{Index: uint64(len(b) + 1), Term: 1 << 62, Type: 255, Data: []byte("max type")},
		raftlog.Entry{Index: uint64(len(b) + 2), Term: ^uint64(0), Type: 128, Data: bytes.Repeat([]byte{0}, 100)},
	)
	persist(t, in.log(), m, b[:3], "persist the first entries")
	persist(t, in.log(), m, b[3:], "persist the rest")
	checkLog(t, in.log(), m, "entries of every size, type and term")
	if in.caps().Persistent {
		in.settle()
		in.reopen()
		checkLog(t, in.log(), m, "entries of every size, type and term after a reopen")
	}
}

func caseClosed(t testing.TB, s *suite) {
	in := s.fresh(t)
	persist(t, in.log(), nil, makeEntries(1, 5, 1, 0, nil), "persist 1..5")
	ls, ms := in.log(), in.meta()
	in.close()
	calls := []struct {
		name string
		call func() error
	}{
		{"PersistEntries", func() error { return ls.PersistEntries(makeEntries(6, 1, 1, 0, nil)) }},
		{"Entry", func() error { _, err := ls.Entry(1); return err }},
		{"Entries", func() error { _, err := ls.Entries(1, 5); return err }},
		{"Purge", func() error { return ls.Purge(raftlog.LogID{Index: 2, Term: 1}) }},
		{"Truncate", func() error { return ls.Truncate(3) }},
		{"Flush", ls.Flush},
		{"Reset", ls.Reset},
		{"SaveHardState", func() error { return ms.SaveHardState(sampleHardState(1)) }},
		{"LoadHardState", func() error { _, _, err := ms.LoadHardState(); return err }},
		{"Meta().Flush", ms.Flush},
		{"Close", in.e.Close},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, raftlog.ErrClosed) {
			t.Errorf("after Close: %s = %v, want an error wrapping ErrClosed", c.name, err)
		}
	}
}

// randomOps applies n random operations, valid and invalid, to the engine
// and the model, checking each result and the bounds after each. It never
// resets when noReset is set.
func randomOps(t testing.TB, ls raftlog.LogStore, m *model, rng *rand.Rand, n int, term *uint64, noReset bool, when string) {
	t.Helper()
	for k := 0; k < n && !t.Failed(); k++ {
		var what string
		switch op := rng.IntN(100); {
		case op < 45:
			b := makeEntries(m.last()+1, 1+rng.IntN(20), *term, rng.Uint64(), nil)
			what = fmt.Sprintf("persist %d..%d", b[0].Index, b[len(b)-1].Index)
			persist(t, ls, m, b, when+": "+what)
		case op < 52:
			lo := m.last() + 1
			if rng.IntN(2) == 0 && lo > 1 {
				lo -= 1 + rng.Uint64N(lo-1)
			} else {
				lo += 1 + rng.Uint64N(3)
			}
			b := makeEntries(lo, 1+rng.IntN(3), *term, rng.Uint64(), nil)
			what = fmt.Sprintf("persist %d..%d on a log ending at %d", lo, b[len(b)-1].Index, m.last())
			if err := ls.PersistEntries(b); !errors.Is(err, raftlog.ErrNonContiguous) {
				t.Errorf("%s: %s = %v, want ErrNonContiguous", when, what, err)
			}
		case op < 65:
			span := m.last() - m.purged.Index
			idx := m.purged.Index + rng.Uint64N(span+8)
			if idx >= 3 && rng.IntN(4) == 0 {
				idx -= 3
			}
			id := raftlog.LogID{Index: idx, Term: m.termAt(idx)}
			if idx > m.last() || id.Term == 0 {
				id.Term = *term
			}
			what = fmt.Sprintf("Purge(%v)", id)
			if err := ls.Purge(id); err != nil {
				t.Fatalf("%s: %s: %v", when, what, err)
			}
			m.purge(id)
		case op < 85:
			from := m.purged.Index + rng.Uint64N(m.last()-m.purged.Index+4)
			if from >= 2 && rng.IntN(5) == 0 {
				from -= 2
			}
			what = fmt.Sprintf("Truncate(%d) on log %d..%d", from, m.first(), m.last())
			want := m.truncate(from)
			if err := ls.Truncate(from); !errors.Is(err, want) || (want == nil && err != nil) {
				t.Fatalf("%s: %s = %v, want %v", when, what, err, want)
			}
			*term++
		case op < 95:
			what = "Flush"
			if err := ls.Flush(); err != nil {
				t.Fatalf("%s: Flush: %v", when, err)
			}
		default:
			if noReset {
				continue
			}
			what = "Reset"
			if err := ls.Reset(); err != nil {
				t.Fatalf("%s: Reset: %v", when, err)
			}
			m.reset()
		}
		w := fmt.Sprintf("%s: op %d (%s)", when, k, what)
		checkBounds(t, ls, m, w)
		if m.last() >= m.first() {
			i := m.first() + rng.Uint64N(m.last()-m.first()+1)
			want, _ := m.entry(i)
			got, err := ls.Entry(i)
			if err != nil || !sameEntry(got, want) {
				t.Errorf("%s: Entry(%d) = %s, %v; want %s", w, i, describe(got), err, describe(want))
			}
		}
		if k%25 == 24 {
			checkLog(t, ls, m, w)
		}
	}
}

func caseBoundsModel(t testing.TB, s *suite) {
	for _, seed := range []uint64{1, 2, 3} {
		in := s.fresh(t)
		rng := rand.New(rand.NewPCG(seed, 0x0bd5))
		term := uint64(1)
		m := &model{}
		randomOps(t, in.log(), m, rng, 250, &term, false, fmt.Sprintf("seed %d", seed))
		checkLog(t, in.log(), m, fmt.Sprintf("seed %d: at the end", seed))
	}
}

func caseReopenCycles(t testing.TB, s *suite) {
	in := s.fresh(t)
	in.requirePersistent()
	rng := rand.New(rand.NewPCG(11, 0x0bd5))
	term := uint64(1)
	m := &model{}
	for cycle := 0; cycle < 30 && !t.Failed(); cycle++ {
		when := fmt.Sprintf("cycle %d", cycle)
		randomOps(t, in.log(), m, rng, 6, &term, cycle%10 != 9, when)
		hs := sampleHardState(uint64(cycle + 1))
		if err := in.meta().SaveHardState(hs); err != nil {
			t.Fatalf("%s: SaveHardState: %v", when, err)
		}
		in.settle()
		in.reopen()
		checkLog(t, in.log(), m, when+" after a reopen")
		checkHardState(t, in.meta(), hs, when+" after a reopen")
	}
}
