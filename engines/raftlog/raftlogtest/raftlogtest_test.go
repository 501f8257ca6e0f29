package raftlogtest

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/file"
	"github.com/ordeal-dev/ordeal/engines/raftlog/memory"
)

func memoryHarness() Harness {
	return Harness{
		Name: "memory",
		Open: func(o raftlog.Options) (raftlog.Engine, error) { return memory.Open(o) },
	}
}

// TestToyConforms runs the whole suite, fault cases included, on the toy
// engine without bugs: the suite flags nothing in an engine that keeps the
// contract.
func TestToyConforms(t *testing.T) {
	Run(t, toyHarness("toy", toyBugs{}))
}

// TestToyFlushOnlyConforms runs the suite on the toy engine that declares
// SyncOnWrite false and saves only at Flush.
func TestToyFlushOnlyConforms(t *testing.T) {
	Run(t, toyHarness("toy-flush-only", toyBugs{flushOnly: true}))
}

func TestFailuresOfConformingEngines(t *testing.T) {
	for _, h := range []Harness{memoryHarness(), toyHarness("toy", toyBugs{}), toyHarness("toy-flush-only", toyBugs{flushOnly: true})} {
		if f := Failures(h); len(f) != 0 {
			t.Errorf("engine %s: Failures = %v, want none", h.Name, f)
		}
	}
}

// TestToyMutantsCaught shows that each planted bug is caught, and by which
// case.
func TestToyMutantsCaught(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bugs   toyBugs
		caught string // a case that must fail
	}{
		{"skip_sync", toyBugs{skipSync: true}, "power_loss"},
		{"skip_dir_sync", toyBugs{skipDirSync: true}, "power_loss"},
		{"plain_mkdir", toyBugs{plainMkdir: true}, "power_loss"},
		{"retry_sync", toyBugs{retrySync: true}, "fsync_failure"},
		{"no_failed_state", toyBugs{noFailedState: true}, "fsync_failure"},
		{"off_by_one_entries", toyBugs{offByOneEntries: true}, "batch_range"},
		{"stale_truncate", toyBugs{staleTruncate: true}, "truncate"},
		{"keep_caller_data", toyBugs{keepCallerData: true}, "ownership"},
		{"forget_purge", toyBugs{forgetPurge: true}, "reopen_truncate_purge"},
		{"volatile_truncate", toyBugs{volatileTruncate: true}, "reopen_truncate_purge"},
		{"entry_not_found_below_boundary", toyBugs{entryNotFoundZero: true}, "read_errors"},
		{"flush_only_skip_sync", toyBugs{flushOnly: true, skipSync: true}, "power_loss"},
		{"flush_only_retry_sync", toyBugs{flushOnly: true, retrySync: true}, "fsync_failure"},
		{"trust_page_cache", toyBugs{trustPageCache: true}, "fsync_failure_at_open"},
		{"ignore_write_back_error", toyBugs{ignoreWriteBack: true}, "fsync_failure_at_open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := Failures(toyHarness("toy-"+tc.name, tc.bugs))
			if len(f) == 0 {
				t.Fatalf("no case caught the bug")
			}
			msg, ok := f[tc.caught]
			if !ok {
				t.Fatalf("case %s did not catch the bug; the cases that did: %s", tc.caught, strings.Join(sortedKeys(f), ", "))
			}
			if msg == "" {
				t.Errorf("case %s failed without a message", tc.caught)
			}
			t.Logf("caught by %d cases; %s: %s", len(f), tc.caught, msg)
		})
	}
}

// brokenMemory wraps the memory engine with a bug in its read path or its
// bookkeeping.
type brokenMemory struct {
	*memory.Engine
	offByOne    bool
	staleLast   bool
	staleLastIx atomic.Uint64 // 0: not stale
}

func (b *brokenMemory) Log() raftlog.LogStore { return b }

func (b *brokenMemory) Entries(lo, hi uint64) ([]raftlog.Entry, error) {
	if b.offByOne && lo > 1 {
		lo--
		hi--
	}
	return b.Engine.Entries(lo, hi)
}

func (b *brokenMemory) Truncate(from uint64) error {
	last := b.Engine.LastIndex()
	if err := b.Engine.Truncate(from); err != nil {
		return err
	}
	if b.staleLast && from <= last {
		b.staleLastIx.Store(last)
	}
	return nil
}

func (b *brokenMemory) PersistEntries(es []raftlog.Entry) error {
	b.staleLastIx.Store(0)
	return b.Engine.PersistEntries(es)
}

func (b *brokenMemory) LastIndex() uint64 {
	if ix := b.staleLastIx.Load(); ix != 0 {
		return ix
	}
	return b.Engine.LastIndex()
}

func TestBrokenMemoryCaught(t *testing.T) {
	for _, tc := range []struct {
		name     string
		offByOne bool
		stale    bool
		caught   []string
	}{
		{"entries_off_by_one", true, false, []string{"batch_range", "range_out_of_bounds", "bounds_model"}},
		{"stale_last_index_after_truncate", false, true, []string{"truncate", "truncate_beyond_tail", "bounds_model"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Harness{
				Name: tc.name,
				Open: func(o raftlog.Options) (raftlog.Engine, error) {
					e, err := memory.Open(o)
					if err != nil {
						return nil, err
					}
					return &brokenMemory{Engine: e, offByOne: tc.offByOne, staleLast: tc.stale}, nil
				},
			}
			f := Failures(h)
			for _, c := range tc.caught {
				if _, ok := f[c]; !ok {
					t.Errorf("case %s did not catch the bug; the cases that did: %s", c, strings.Join(sortedKeys(f), ", "))
				}
			}
		})
	}
}

// TestKnownDifferences lists every case a broken engine fails as a known
// difference: Run then passes.
func TestKnownDifferences(t *testing.T) {
	h := toyHarness("toy-off-by-one", toyBugs{offByOneEntries: true})
	f := Failures(h)
	if len(f) == 0 {
		t.Fatal("the broken engine fails no case")
	}
	h.KnownDifferences = map[string]string{}
	for name, msg := range f {
		h.KnownDifferences[name] = "Entries is shifted by one: " + msg
	}
	Run(t, h)
}

func TestRecorderRunsCleanupsAndStopsAtFatal(t *testing.T) {
	var order []string
	c := testCase{name: "probe", run: func(t testing.TB, s *suite) {
		t.Cleanup(func() { order = append(order, "first cleanup") })
		t.Cleanup(func() { order = append(order, "second cleanup") })
		t.Errorf("error %d", 1)
		t.Fatalf("fatal %d", 2)
		order = append(order, "after Fatal")
	}}
	r := runRecorded(c, &suite{h: memoryHarness()})
	if !r.failed || r.first != "error 1" {
		t.Errorf("recorder: failed %v first %q; want true, %q", r.failed, r.first, "error 1")
	}
	if got := fmt.Sprint(order); got != "[second cleanup first cleanup]" {
		t.Errorf("cleanups and Fatal: ran %s", got)
	}
	skip := runRecorded(testCase{name: "skip", run: func(t testing.TB, s *suite) { t.Skip("no") }}, &suite{})
	if !skip.skipped || skip.failed {
		t.Errorf("Skip: skipped %v failed %v", skip.skipped, skip.failed)
	}
	panicked := runRecorded(testCase{name: "panic", run: func(t testing.TB, s *suite) { panic("boom") }}, &suite{})
	if !panicked.failed || !strings.Contains(panicked.first, "boom") {
		t.Errorf("panic: failed %v first %q", panicked.failed, panicked.first)
	}
}

func TestCaseNamesStable(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Cases() {
		if seen[n] {
			t.Errorf("case %s is listed twice", n)
		}
		seen[n] = true
	}
	for _, n := range []string{
		"empty_store", "single_entry", "batch_range", "purge", "truncate", "reset", "empty_persist",
		"range_out_of_bounds", "purge_zero", "hard_state_round_trip", "reset_keeps_hard_state", "flush",
		"reopen_entries", "reopen_hard_state", "reopen_truncate_purge", "power_loss", "fsync_failure", "fsync_failure_hard_state",
	} {
		if !seen[n] {
			t.Errorf("case %s is missing", n)
		}
	}
}

func TestFailuresWithoutOpen(t *testing.T) {
	if f := Failures(Harness{Name: "none"}); len(f) != 1 {
		t.Errorf("Failures of a harness without Open = %v, want one failure", f)
	}
}

// TestAckAfterFailedSyncLosesData shows that the power-loss check of the
// fsync case catches an engine that acknowledges a batch after its sync
// failed on its own, besides the check of the acknowledgement itself.
func TestAckAfterFailedSyncLosesData(t *testing.T) {
	h := Harness{
		Name: "file-retry-sync",
		Open: func(o raftlog.Options) (raftlog.Engine, error) {
			return file.OpenWithBugs(o, file.Bugs{RetrySyncAfterError: true})
		},
	}
	r := runRecorded(testCase{name: "fsync_failure", run: caseFsyncFailure}, &suite{h: h})
	var acked, lost bool
	for _, m := range r.msgs {
		acked = acked || strings.Contains(m, "reported success")
		lost = lost || strings.Contains(m, "are lost")
	}
	if !acked || !lost {
		t.Errorf("fsync_failure on an engine that acknowledges after a failed sync: flagged the acknowledgement %v, the lost entries %v; messages:\n%s", acked, lost, strings.Join(r.msgs, "\n"))
	}
}

// sortedKeys returns m's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
