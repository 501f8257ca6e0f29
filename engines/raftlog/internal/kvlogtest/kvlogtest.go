// Package kvlogtest holds the unit tests that the engines on kvlog (pebble,
// bbolt) share: each engine describes itself with a Harness and calls the
// bodies from its own tests, beside the tests of what is its own (faults
// through its files, its options). The conformance suite, raftlogtest,
// checks the SPI contract; these check the engines' own durability,
// corruption and failure handling through a real store.
package kvlogtest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
)

// Engine is an engine that is its own LogStore and MetaStore, as the engines
// on kvlog are.
type Engine interface {
	raftlog.Engine
	raftlog.LogStore
	raftlog.MetaStore
}

// Harness describes an engine to the tests.
type Harness struct {
	// Name is the name the engine registers under.
	Name string
	// Open opens the engine, which must be an Engine.
	Open raftlog.Factory
	// SyncParams returns the Params that make each mutation durable on
	// return (syncOnWrite) or only after Flush.
	SyncParams func(syncOnWrite bool) map[string]string
	// UsesFS is what the engine declares in Capabilities().UsesFS.
	UsesFS bool
	// KnownDifferences are the conformance cases the engine is known to
	// fail, and why, and FlushModeDifferences those it is known to fail
	// with SyncParams(false) only: raftlogtest still runs them and expects
	// them to fail.
	KnownDifferences, FlushModeDifferences map[string]string
	// ParamCases are cases of the Params test beyond those it makes of
	// SyncParams.
	ParamCases []ParamCase
	// NoParams says the engine takes any Params, is not registered and
	// needs no directory: the Params test is skipped.
	NoParams bool
	// Damage writes value at the place in the store in dir, with the engine
	// closed, going around the engine.
	Damage func(t testing.TB, dir string, at Place, value []byte)
}

// Place names a value in the store: a log entry, or a meta value when Entry
// is 0.
type Place struct {
	Entry uint64
	Meta  kvlog.MetaKey
}

// Open opens the engine and closes it when the test ends, unless it was
// closed already.
func Open(t testing.TB, h Harness, o raftlog.Options) Engine {
	t.Helper()
	re, err := h.Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	e, ok := re.(Engine)
	if !ok {
		_ = re.Close()
		t.Fatalf("open: %T is not its own LogStore and MetaStore", re)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil && !errors.Is(err, raftlog.ErrClosed) {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// Reopen closes e and opens the engine again with o.
func Reopen(t testing.TB, h Harness, e Engine, o raftlog.Options) Engine {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return Open(t, h, o)
}

// Entries returns the entries lo..hi of a term, with data naming both.
func Entries(lo, hi, term uint64) []raftlog.Entry {
	var out []raftlog.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, raftlog.Entry{Index: i, Term: term, Type: raftlog.EntryType(i % 3), Data: fmt.Appendf(nil, "entry-%d-%d", i, term)})
	}
	return out
}

// Persist appends Entries(lo, hi, term).
func Persist(t testing.TB, e raftlog.LogStore, lo, hi, term uint64) {
	t.Helper()
	if err := e.PersistEntries(Entries(lo, hi, term)); err != nil {
		t.Fatalf("persist %d..%d: %v", lo, hi, err)
	}
}

// CheckLog asserts the bounds and that every entry after the purge boundary
// up to last is readable as Entries made it with the given term.
func CheckLog(t testing.TB, e raftlog.LogStore, purged raftlog.LogID, last, term uint64) {
	t.Helper()
	if got := e.PurgedID(); got != purged {
		t.Fatalf("PurgedID = %v, want %v", got, purged)
	}
	if got := e.LastIndex(); got != last {
		t.Fatalf("LastIndex = %d, want %d", got, last)
	}
	if got := e.FirstIndex(); got != purged.Index+1 {
		t.Fatalf("FirstIndex = %d, want %d", got, purged.Index+1)
	}
	if last <= purged.Index {
		return
	}
	got, err := e.Entries(purged.Index+1, last+10)
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	want := Entries(purged.Index+1, last, term)
	if len(got) != len(want) {
		t.Fatalf("Entries returned %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].Term != want[i].Term || got[i].Type != want[i].Type || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("entry %d = %+v, want %+v", want[i].Index, got[i], want[i])
		}
	}
}

// RequireFailed asserts that a failed engine refuses every mutation with
// raftlog.ErrFailed wrapping cause, the storage error it failed on, and
// still reads entry 5.
func RequireFailed(t testing.TB, e Engine, cause error) {
	t.Helper()
	later := map[string]error{
		"PersistEntries": e.PersistEntries(Entries(e.LastIndex()+1, e.LastIndex()+1, 1)),
		"Purge":          e.Purge(raftlog.LogID{Index: 2, Term: 1}),
		"Truncate":       e.Truncate(5),
		"Reset":          e.Reset(),
		"SaveHardState":  e.SaveHardState(raftlog.HardState{Term: 3}),
		"Flush":          e.Flush(),
	}
	for name, err := range later {
		if !errors.Is(err, raftlog.ErrFailed) || !errors.Is(err, cause) {
			t.Errorf("%s after the failure: %v, want ErrFailed and %v", name, err, cause)
		}
	}
	if ent, err := e.Entry(5); err != nil || ent.Index != 5 {
		t.Fatalf("read after the failure: %+v, %v", ent, err)
	}
}

// RequireRecovered asserts that an engine reopened after a failure holds at
// least the entries up to acked and takes the next one.
func RequireRecovered(t testing.TB, e Engine, acked uint64) {
	t.Helper()
	if got := e.LastIndex(); got < acked {
		t.Fatalf("LastIndex after reopen = %d, want at least %d", got, acked)
	}
	Persist(t, e, e.LastIndex()+1, e.LastIndex()+1, 2)
}
