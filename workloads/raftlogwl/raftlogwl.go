// Package raftlogwl is the raftlog family of the workloads driver: it runs
// log appends, reads, purges, truncations and hard-state saves against any
// engine in the raftlog registry, and against "physical", the baseline that
// appends the same framed bytes to one zero-filled-ahead file with one
// fdatasync per batch and keeps no index, which is what the disk gives.
//
// Importing it registers the family with the workloads package.
package raftlogwl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/workloads"
)

func init() { workloads.RegisterFamily(Family{}) }

// Name is the family's name.
const Name = "raftlog"

// Physical is the baseline engine's name.
const Physical = "physical"

// Operation indexes, in the order of Family.Ops.
const (
	OpAppend = iota
	OpEntry
	OpRange
	OpLastIndex
	OpPurge
	OpTruncate
	OpReset
	OpHardState
	OpFlush
)

var ops = []workloads.OpInfo{
	OpAppend:    {Name: "append", Doc: "PersistEntries of one batch at LastIndex+1 (then Flush when the engine does not sync on write and sync is true)", Primary: true},
	OpEntry:     {Name: "entry", Doc: "Entry at a position drawn from keys over the live log"},
	OpRange:     {Name: "range", Doc: "Entries of range_len entries from a position drawn from keys (follower catch-up)"},
	OpLastIndex: {Name: "last_index", Doc: "LastIndex"},
	OpPurge:     {Name: "purge", Doc: "Purge up to LastIndex-purge_keep, at most purge_step entries (the trailing purge of a snapshot loop)"},
	OpTruncate:  {Name: "truncate", Doc: "Truncate the last truncate_len entries and bump the term (truncate on conflict)"},
	OpReset:     {Name: "reset", Doc: "Reset the log"},
	OpHardState: {Name: "hardstate", Doc: "SaveHardState of the current term, vote and commit (then Flush when needed)"},
	OpFlush:     {Name: "flush", Doc: "Flush the log and the meta store"},
}

// physicalOps are what the baseline can run (purge as a no-op).
var physicalOps = []string{"append", "hardstate", "flush", "last_index", "purge"}

var params = []workloads.Param{
	{Name: "purge_keep", Default: "1000", Doc: "entries a purge leaves behind", Check: checkUint},
	{Name: "purge_step", Default: "0", Doc: "most entries one purge removes (0: all above purge_keep)", Check: checkUint},
	{Name: "range_len", Default: "100", Doc: "entries one range read asks for", Check: checkPositive},
	{Name: "truncate_len", Default: "16", Doc: "entries one truncate removes", Check: checkPositive},
	{Name: "sync", Default: "true", Doc: "flush after each mutation on engines that do not sync on write", Check: checkBool},
}

func checkUint(s string) error {
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return fmt.Errorf("%q: want a non-negative integer", s)
	}
	return nil
}

func checkPositive(s string) error {
	if v, err := strconv.ParseUint(s, 10, 64); err != nil || v == 0 || v > 10_000_000 {
		return fmt.Errorf("%q: want an integer in 1..10000000", s)
	}
	return nil
}

func checkBool(s string) error {
	if _, err := strconv.ParseBool(s); err != nil {
		return fmt.Errorf("%q: want true or false", s)
	}
	return nil
}

// Family is the raftlog workload family.
type Family struct{}

var _ workloads.Family = Family{}

func (Family) Name() string { return Name }
func (Family) Doc() string {
	return "raftlog engines (d-engine LogStore + MetaStore); baseline: physical (the disk's limit: framed writes, each made durable by fdatasync, the best of append, preallocated overwrite and O_DIRECT)"
}
func (Family) Ops() []workloads.OpInfo   { return slices.Clone(ops) }
func (Family) Params() []workloads.Param { return slices.Clone(params) }
func (Family) ItemUnit() string          { return "entries" }
func (Family) Baseline() string          { return Physical }

// Engines lists the registered raftlog engines and the physical baseline.
func (Family) Engines() []string { return append(raftlog.Engines(), Physical) }

// Supports reports whether engine can run s: every registered engine runs
// everything; the baseline only appends, hard-state saves, flushes,
// last-index reads and purges (which cost it nothing).
func (Family) Supports(engine string, s *workloads.Spec) bool {
	if engine != Physical {
		return true
	}
	for op := range s.Mix {
		if !slices.Contains(physicalOps, op) {
			return false
		}
	}
	return true
}

// Validate rejects mixes that cannot do what they say.
func (Family) Validate(s *workloads.Spec) []workloads.FieldError {
	var errs []workloads.FieldError
	_, appends := s.Mix["append"]
	for _, op := range []string{"entry", "range", "purge", "truncate"} {
		if _, ok := s.Mix[op]; ok && !appends && s.Preload == 0 {
			errs = append(errs, workloads.FieldError{Field: "mix." + op,
				Msg: op + " on a log that stays empty: add append to the mix or a preload"})
		}
	}
	if _, ok := s.Mix["reset"]; ok && !appends {
		errs = append(errs, workloads.FieldError{Field: "mix.reset", Msg: "reset without append empties the log once and then does nothing"})
	}
	if _, ok := s.Mix["purge"]; ok && !appends && s.Preload > 0 {
		keep, _ := strconv.ParseUint(s.Param("purge_keep", "1000"), 10, 64)
		if keep >= uint64(s.Preload) {
			errs = append(errs, workloads.FieldError{Field: "params.purge_keep",
				Msg: fmt.Sprintf("%d keeps the whole preload of %d and nothing is appended: purge never removes anything", keep, s.Preload)})
		}
	}
	return errs
}

// ErrorKind names raftlog's sentinel errors.
func (Family) ErrorKind(err error) string {
	return workloads.KindOf(err,
		workloads.ErrorName{Err: raftlog.ErrCompacted, Name: "compacted"},
		workloads.ErrorName{Err: raftlog.ErrNotFound, Name: "not_found"},
		workloads.ErrorName{Err: raftlog.ErrNonContiguous, Name: "non_contiguous"},
		workloads.ErrorName{Err: raftlog.ErrInvalidRange, Name: "invalid_range"},
		workloads.ErrorName{Err: raftlog.ErrClosed, Name: "closed"},
		workloads.ErrorName{Err: raftlog.ErrFailed, Name: "failed"},
		workloads.ErrorName{Err: raftlog.ErrCorrupt, Name: "corrupt"},
	)
}

// settings are a spec's parameters, parsed.
type settings struct {
	purgeKeep, purgeStep, rangeLen, truncateLen uint64
	sync                                        bool
}

func parseSettings(s *workloads.Spec) settings {
	u := func(name, def string) uint64 {
		v, _ := strconv.ParseUint(s.Param(name, def), 10, 64)
		return v
	}
	sync, _ := strconv.ParseBool(s.Param("sync", "true"))
	return settings{purgeKeep: u("purge_keep", "1000"), purgeStep: u("purge_step", "0"),
		rangeLen: u("range_len", "100"), truncateLen: u("truncate_len", "16"), sync: sync}
}

// Open opens a registered engine in env.Dir, or the physical baseline.
func (Family) Open(ctx context.Context, engine string, s *workloads.Spec, env workloads.Env) (workloads.Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	set := parseSettings(s)
	if engine == Physical {
		return openPhysical(env.Dir, int64(s.Preload), env.EngineParams, int(s.Batch.Mean()*(s.Value.Mean()+frameHeader)))
	}
	eng, err := raftlog.Open(engine, raftlog.Options{Dir: env.Dir, Params: env.EngineParams})
	if err != nil {
		return nil, err
	}
	t := &engineTarget{eng: eng, log: eng.Log(), meta: eng.Meta(), set: set, preload: int64(s.Preload)}
	t.flushAfter = set.sync && !eng.Capabilities().SyncOnWrite
	t.term.Store(1)
	return t, nil
}

// engineTarget runs the family's operations on a raftlog engine. Mutations
// are serialized (the LogStore contract allows one writer); reads run
// concurrently with them.
type engineTarget struct {
	eng        raftlog.Engine
	log        raftlog.LogStore
	meta       raftlog.MetaStore
	set        settings
	flushAfter bool
	preload    int64

	mu    sync.Mutex      // serializes mutations
	terms []raftlog.LogID // term changes: entries from Index on have Term
	term  atomic.Uint64   // the term new entries get
}

func (t *engineTarget) Close() error { return t.eng.Close() }

// Preload appends spec.Preload entries in batches of up to 1000, then
// flushes.
func (t *engineTarget) Preload(ctx context.Context, g *workloads.Gen) error {
	w := t.NewWorker(-1).(*engineWorker)
	remaining := int(t.preload)
	for remaining > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(remaining, 1000)
		if _, err := w.appendN(n, g); err != nil {
			return err
		}
		remaining -= n
	}
	if err := t.log.Flush(); err != nil {
		return err
	}
	return t.meta.Flush()
}

func (t *engineTarget) NewWorker(int) workloads.Worker { return &engineWorker{t: t} }

// termAt is the term of the entry at index; t.mu must be held.
func (t *engineTarget) termAt(index uint64) uint64 {
	i, found := slices.BinarySearchFunc(t.terms, index, func(id raftlog.LogID, idx uint64) int {
		switch {
		case id.Index < idx:
			return -1
		case id.Index > idx:
			return 1
		}
		return 0
	})
	if !found {
		i--
	}
	if i < 0 {
		return t.term.Load()
	}
	return t.terms[i].Term
}

type engineWorker struct {
	t   *engineTarget
	buf []raftlog.Entry
}

func (w *engineWorker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	t := w.t
	switch op {
	case OpAppend:
		return w.appendN(g.BatchSize(), g)
	case OpEntry:
		first, last := t.log.FirstIndex(), t.log.LastIndex()
		if last < first {
			return workloads.Work{}, nil
		}
		e, err := t.log.Entry(first + g.Key(last-first+1))
		return workloads.Work{Items: 1, BytesRead: int64(len(e.Data))}, err
	case OpRange:
		first, last := t.log.FirstIndex(), t.log.LastIndex()
		if last < first {
			return workloads.Work{}, nil
		}
		n, l := last-first+1, t.set.rangeLen
		lo := first
		if n > l {
			lo += g.Key(n - l + 1)
		}
		es, err := t.log.Entries(lo, lo+l-1)
		var b int64
		for _, e := range es {
			b += int64(len(e.Data))
		}
		return workloads.Work{Items: int64(len(es)), BytesRead: b}, err
	case OpLastIndex:
		_ = t.log.LastIndex()
		return workloads.Work{Items: 1}, nil
	case OpPurge:
		t.mu.Lock()
		defer t.mu.Unlock()
		first, last := t.log.FirstIndex(), t.log.LastIndex()
		if last < first+t.set.purgeKeep {
			return workloads.Work{}, nil
		}
		upTo := last - t.set.purgeKeep
		if t.set.purgeStep > 0 {
			upTo = min(upTo, first-1+t.set.purgeStep)
		}
		if upTo < first {
			return workloads.Work{}, nil
		}
		id := raftlog.LogID{Index: upTo, Term: t.termAt(upTo)}
		if err := t.log.Purge(id); err != nil {
			return workloads.Work{}, err
		}
		if i := slices.IndexFunc(t.terms, func(x raftlog.LogID) bool { return x.Index > upTo }); i > 1 {
			t.terms = slices.Delete(t.terms, 0, i-1)
		}
		return workloads.Work{Items: int64(upTo - first + 1)}, w.flushLog()
	case OpTruncate:
		t.mu.Lock()
		defer t.mu.Unlock()
		first, last := t.log.FirstIndex(), t.log.LastIndex()
		if last < first {
			return workloads.Work{}, nil
		}
		from := first
		if last-first+1 > t.set.truncateLen {
			from = last - t.set.truncateLen + 1
		}
		if err := t.log.Truncate(from); err != nil {
			return workloads.Work{}, err
		}
		if i := slices.IndexFunc(t.terms, func(x raftlog.LogID) bool { return x.Index >= from }); i >= 0 {
			t.terms = t.terms[:i]
		}
		t.term.Add(1)
		return workloads.Work{Items: int64(last - from + 1)}, w.flushLog()
	case OpReset:
		t.mu.Lock()
		defer t.mu.Unlock()
		n := t.log.LastIndex() + 1 - t.log.FirstIndex()
		if err := t.log.Reset(); err != nil {
			return workloads.Work{}, err
		}
		t.terms = t.terms[:0]
		return workloads.Work{Items: int64(n)}, w.flushLog()
	case OpHardState:
		term := t.term.Load()
		hs := raftlog.HardState{Term: term, Vote: raftlog.Vote{Term: term, Candidate: "1"}, Commit: t.log.LastIndex()}
		if err := t.meta.SaveHardState(hs); err != nil {
			return workloads.Work{}, err
		}
		if t.flushAfter {
			if err := t.meta.Flush(); err != nil {
				return workloads.Work{}, err
			}
		}
		return workloads.Work{Items: 1, BytesWritten: 24}, nil
	case OpFlush:
		if err := t.log.Flush(); err != nil {
			return workloads.Work{}, err
		}
		return workloads.Work{}, t.meta.Flush()
	}
	return workloads.Work{}, fmt.Errorf("raftlogwl: operation %d out of range", op)
}

func (w *engineWorker) flushLog() error {
	if w.t.flushAfter {
		return w.t.log.Flush()
	}
	return nil
}

// appendN appends a batch of n entries at LastIndex+1.
func (w *engineWorker) appendN(n int, g *workloads.Gen) (workloads.Work, error) {
	t := w.t
	if cap(w.buf) < n {
		w.buf = make([]raftlog.Entry, n)
	}
	batch := w.buf[:n]
	var bytes int64
	for i := range batch {
		batch[i].Data = g.Bytes(g.ValueSize())
		bytes += int64(len(batch[i].Data))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	next, term := t.log.LastIndex()+1, t.term.Load()
	for i := range batch {
		batch[i].Index, batch[i].Term = next+uint64(i), term
	}
	if err := t.log.PersistEntries(batch); err != nil {
		return workloads.Work{}, err
	}
	if len(t.terms) == 0 || t.terms[len(t.terms)-1].Term != term {
		t.terms = append(t.terms, raftlog.LogID{Index: next, Term: term})
	}
	return workloads.Work{Items: int64(n), BytesWritten: bytes}, w.flushLog()
}
