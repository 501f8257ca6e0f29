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

// killAtSync stands for the engine's process killed at the at-th sync after
// it is armed, before that sync runs: what the engine wrote until then stays
// in the page cache of the file system underneath, readable by the next
// open and not durable, and every later operation of the dead process fails
// without effect. It fails nothing before, so writes go straight through.
type killAtSync struct {
	at   int
	step *atomic.Int64 // the step running

	mu        sync.Mutex
	armed     bool
	syncs     int
	killed    bool
	crashStep int
}

var _ faults.MayFailer = (*killAtSync)(nil)

func (k *killAtSync) String() string { return fmt.Sprintf("kill-at-sync(%d)", k.at) }

// MayFail says it fails nothing, so that no write is held from the file
// system underneath: the page cache is that file system's live content.
func (k *killAtSync) MayFail(faults.OpKind) bool { return false }

func (k *killAtSync) arm() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.armed = true
}

// dead reports whether the process was killed, and during which step.
func (k *killAtSync) dead() (bool, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.killed, k.crashStep
}

func (k *killAtSync) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.syncs
}

func (k *killAtSync) MaybeError(op faults.Op) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.killed {
		return faults.Inject(op, syscall.EIO, k.String())
	}
	if !k.armed || op.Kind != faults.OpSync {
		return nil
	}
	k.syncs++
	if k.syncs != k.at {
		return nil
	}
	k.killed, k.crashStep = true, int(k.step.Load())
	return faults.Inject(op, syscall.EIO, k.String())
}

// openScript returns the steps before the kill, all durable, and the
// steps during which the process is killed: a batch, then a hard state.
// An engine without SyncOnWrite flushes after each.
func openScript(syncOnWrite bool) (before, during []step) {
	before = []step{
		{kind: stepPersist, batch: makeEntries(1, 10, 1, 0, crashSize)},
		{kind: stepHardState, hs: sampleHardState(1)},
	}
	during = []step{
		{kind: stepPersist, batch: makeEntries(11, 5, 1, 0, crashSize)},
		{kind: stepHardState, hs: sampleHardState(2)},
	}
	if !syncOnWrite {
		flush := step{kind: stepFlush}
		before = []step{before[0], before[1], flush}
		during = []step{during[0], flush, during[1], flush}
	}
	return before, during
}

// killedState returns a new crashable file system holding the engine's
// directory after the steps before, durable, and the steps during run by a
// process killed at the at-th sync they make (at 0: never): the writes of
// the step in flight are in the page cache only. It returns what the
// engine may hold after a power loss at the kill, and the number of syncs
// the steps made until the kill.
func (s *suite) killedState(t testing.TB, caps raftlog.Capabilities, at int, when string) (*vfs.MemFS, expectation, int) {
	t.Helper()
	before, during := openScript(caps.SyncOnWrite)
	mem := newMem(t)
	s.keepMem(t, mem, when)
	in := s.openOn(t, mem, memDir)
	for k, st := range before {
		if err := st.run(in.e); err != nil {
			t.Fatalf("%s: step %d (%s) before the kill: %v", when, k, st, err)
		}
	}
	in.settle()
	in.close()

	kill := &killAtSync{at: at, step: new(atomic.Int64)}
	in = s.openOn(t, faults.Wrap(mem, kill), memDir)
	in.faulted = true
	kill.arm()
	x := len(during)
	for k, st := range during {
		kill.step.Store(int64(k))
		err := st.run(in.e)
		if dead, step := kill.dead(); dead {
			x = step
			break
		}
		if err != nil {
			t.Fatalf("%s: step %d (%s): %v", when, k, st, err)
		}
	}
	// The process is gone: closing releases what it held, and changes
	// nothing on the file system.
	in.closed = true
	_ = in.e.Close()
	return mem, expectAt(append(before, during...), len(before)+x, caps.SyncOnWrite), kill.count()
}

// caseFsyncFailureAtOpen kills the engine's process at each sync of a batch
// and of a hard state save, so that the writes of the operation in flight
// are in the page cache and not on disk (Linux also leaves there the pages
// of a failed fsync), and opens the engine again. What open serves must be
// durable before it is served: a power loss that keeps no unsynced data
// must leave exactly that. Then every sync of that open fails in turn with
// EIO: the open must fail with an error wrapping it, or make good by
// writing the data again, and never serve what the failed sync did not
// make durable; after a failed open, a second open is held to the same.
func caseFsyncFailureAtOpen(t testing.TB, s *suite) {
	caps := s.faultable(t)
	before, during := openScript(caps.SyncOnWrite)
	h := newHistory(append(before, during...))
	_, _, n := s.killedState(t, caps, 0, "counting the syncs of the steps")
	if n == 0 {
		t.Fatalf("engine %s declares UsesFS but made no sync through Options.FS in %d steps", s.h.Name, len(during))
	}
	for at := 1; at <= n && !t.Failed(); at++ {
		when := fmt.Sprintf("killed at sync %d of %d", at, n)
		mem, x, _ := s.killedState(t, caps, at, when)
		count := &crashAtSync{mem: mem, step: new(atomic.Int64)}
		in := s.openOn(t, faults.Wrap(mem, count), memDir)
		s.checkServedDurable(t, in, mem, x, h, when+", reopened")
		count.mu.Lock()
		syncs := count.syncs
		count.mu.Unlock()

		for k := 1; k <= syncs && !t.Failed(); k++ {
			when := fmt.Sprintf("%s, reopened with sync %d of the %d of the open failing with EIO", when, k, syncs)
			mem, x, _ := s.killedState(t, caps, at, when)
			fail := &failNthSync{}
			fail.arm(k)
			in, err := s.tryOpenOn(t, faults.Wrap(mem, fail), memDir)
			if fail.count() == 0 {
				continue // fewer syncs this time: nothing failed
			}
			if err == nil {
				in.faulted = true
				s.checkServedDurable(t, in, mem, x, h, when+": the open succeeded")
				continue
			}
			if !errors.Is(err, faults.ErrInjected) && !errors.Is(err, syscall.EIO) {
				t.Errorf("%s: open = %v, which does not wrap the injected EIO", when, err)
			}
			in = s.openOn(t, mem, memDir)
			s.checkServedDurable(t, in, mem, x, h, when+": the open failed; a second open")
		}
	}
}

// checkServedDurable checks that what in serves was written (x) and that a
// power loss of mem keeping no unsynced data leaves exactly that.
func (s *suite) checkServedDurable(t testing.TB, in *instance, mem *vfs.MemFS, x expectation, h history, when string) {
	t.Helper()
	m, ok := verifyRecovered(t, in.e, x, h, when)
	if !ok {
		return
	}
	hs, hsOK, _ := in.meta().LoadHardState()
	clone := faults.PowerLoss(mem, 1, 0)
	when += ", then a power loss"
	s.keepMem(t, clone, when)
	cin := s.openOn(t, clone, memDir)
	checkLog(t, cin.log(), m, when+": the log served before it")
	got, gotOK, err := cin.meta().LoadHardState()
	if err != nil || got != hs || gotOK != hsOK {
		t.Errorf("%s: LoadHardState() = %+v, %v, %v; the open before the power loss served %+v, %v: it was not durable", when, got, gotOK, err, hs, hsOK)
	}
}
