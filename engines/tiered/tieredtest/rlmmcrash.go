package tieredtest

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/faults"
)

// segModel is what the suite knows of one segment: the last state whose
// change was acknowledged, and the state of a change attempted after it
// whose outcome is unknown (StateNone if none).
type segModel struct {
	seg   tiered.RemoteLogSegmentMetadata
	acked tiered.RemoteLogSegmentState
	tried tiered.RemoteLogSegmentState
}

// allowed lists the states the segment may be listed in after a crash;
// StateNone stands for not listed (never added, or deleted).
func (s segModel) allowed() []tiered.RemoteLogSegmentState {
	out := []tiered.RemoteLogSegmentState{listedAs(s.acked)}
	if s.tried != tiered.StateNone {
		out = append(out, listedAs(s.tried))
	}
	return out
}

func listedAs(s tiered.RemoteLogSegmentState) tiered.RemoteLogSegmentState {
	if s == tiered.DeleteSegmentFinished {
		return tiered.StateNone
	}
	return s
}

// checkModel verifies every segment of the model against the manager: it is
// listed in an allowed state with the fields written for that state, and a
// lookup finds it exactly when it is finished.
func checkModel(t testing.TB, e *rlmmEnv, model map[tiered.UUID]*segModel, when string) {
	t.Helper()
	listed := map[tiered.UUID]tiered.RemoteLogSegmentMetadata{}
	for _, tp := range e.tps {
		for _, m := range e.list(tp) {
			listed[m.ID.ID] = m
		}
	}
	for id, sm := range model {
		m, ok := listed[id]
		got := tiered.StateNone
		if ok {
			got = m.State
		}
		if !slices.Contains(sm.allowed(), got) {
			t.Fatalf("%s: segment %s listed as %s; acknowledged %s, attempted %s", when, sm.seg.ID, got, sm.acked, sm.tried)
		}
		if ok {
			want := sm.seg.Clone()
			if got != tiered.CopySegmentStarted {
				want = want.WithUpdate(upd(sm.seg, got))
			}
			if m.EventTimestampMs != want.EventTimestampMs || m.EndOffset != want.EndOffset || m.BrokerID != want.BrokerID || m.SegmentSizeInBytes != want.SegmentSizeInBytes {
				t.Fatalf("%s: segment %s recovered as %+v, want %+v", when, sm.seg.ID, m, want)
			}
		}
		found := e.lookup(sm.seg.ID.TopicIDPartition, 0, sm.seg.StartOffset) == id
		if found != (got == tiered.CopySegmentFinished) {
			t.Fatalf("%s: segment %s in state %s found by lookup: %v", when, sm.seg.ID, got, found)
		}
	}
	for id := range listed {
		if model[id] == nil {
			t.Fatalf("%s: segment %s was never added", when, id)
		}
	}
}

// history drives segments of both partitions through their lifecycle,
// recording the model; every third segment is deleted.
func history(t testing.TB, e *rlmmEnv, model map[tiered.UUID]*segModel, g *ids, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		tp := e.tps[i%len(e.tps)]
		s := seg(tp, g.next(), int64(i*100), int64(i*100+99), 0, int64(i*100))
		sm := &segModel{seg: s}
		model[s.ID.ID] = sm
		steps := pathTo(tiered.CopySegmentFinished)
		if i%3 == 0 {
			steps = pathTo(tiered.DeleteSegmentFinished)
		}
		for _, st := range steps {
			sm.tried = st
			wantOK(t, fmt.Sprintf("segment %d to %s", i, st), e.move(s, st))
			sm.acked, sm.tried = st, tiered.StateNone
		}
	}
}

func testRLMMReopen(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	if !e.caps.Persistent {
		t.Skip("the metadata manager is not persistent")
	}
	g := newIDs(20)
	model := map[tiered.UUID]*segModel{}
	history(t, e, model, g, 0, 12)
	// A partition marked for deletion, one whose deletion finished.
	tpC := tiered.TopicIDPartition{TopicID: tiered.UUID{0xd}, Topic: "marked", Partition: 0}
	tpD := tiered.TopicIDPartition{TopicID: tiered.UUID{0xe}, Topic: "deleted", Partition: 0}
	e.tps = append(e.tps, tpC, tpD)
	wantOK(t, "assign", e.m.OnPartitionLeadershipChanges(e.tps[2:], nil))
	e.finished(seg(tpD, g.next(), 0, 9, 0, 0))
	for _, st := range tiered.PartitionDeleteStates() {
		wantOK(t, "delete partition", e.m.PutRemotePartitionDeleteMetadata(pdel(tpD, st)))
	}
	wantOK(t, "mark partition", e.m.PutRemotePartitionDeleteMetadata(pdel(tpC, tiered.DeletePartitionMarked)))
	e.tps = e.tps[:2]
	for round := range 2 {
		e.reopen()
		when := fmt.Sprintf("after reopen %d", round+1)
		checkModel(t, e, model, when)
		checkDeletedSegments(t, e, model, when)
		wantOK(t, "assign", e.m.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{tpC, tpD}, nil))
		_, err := e.m.ListRemoteLogSegments(tpD)
		wantErr(t, when+": list a deleted partition", err, tiered.ErrPartitionDeleted)
		wantErr(t, when+": add to a marked partition", e.m.AddRemoteLogSegmentMetadata(seg(tpC, g.next(), 0, 9, 0, 0)), tiered.ErrPartitionDeleted)
		history(t, e, model, g, 12+round*6, 6)
	}
}

// checkDeletedSegments checks that no deleted segment may be added again.
func checkDeletedSegments(t testing.TB, e *rlmmEnv, model map[tiered.UUID]*segModel, when string) {
	t.Helper()
	for _, sm := range model {
		if sm.acked == tiered.DeleteSegmentFinished && sm.tried == tiered.StateNone {
			wantErr(t, when+": add of deleted segment "+sm.seg.ID.String(), e.m.AddRemoteLogSegmentMetadata(sm.seg), tiered.ErrInvalidTransition)
		}
	}
}

// CrashRoundsEnv names the environment variable that sets how many power
// losses rlmm/power-loss and rsm/power-loss simulate (default 3).
const CrashRoundsEnv = "ORDEAL_TIERED_CRASH_ROUNDS"

func crashPercents() []int {
	pcts := []int{0, 50, 100}
	if n, err := strconv.Atoi(os.Getenv(CrashRoundsEnv)); err == nil && n > 0 {
		pcts = pcts[:0]
		for i := range n {
			pcts = append(pcts, (i*37)%101)
		}
	}
	return pcts
}

func testRLMMPowerLoss(t testing.TB, h Harness) {
	for round, pct := range crashPercents() {
		e := newRLMM(t, h, nil)
		if !e.durable() {
			t.Skip("the metadata manager does not sync every change through Options.FS")
		}
		rlmmPowerLossRound(t, e, round, pct)
	}
}

func rlmmPowerLossRound(t testing.TB, e *rlmmEnv, round, pct int) {
	t.Helper()
	when := fmt.Sprintf("round %d (%d%% of unsynced data kept)", round, pct)
	var (
		mu    sync.Mutex
		model = map[tiered.UUID]*segModel{}
		acks  int
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make(chan error, 4)
	)
	const workers = 3
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newIDs(uint64(1000*round + w))
			for i := 0; ; i++ {
				tp := e.tps[(w+i)%len(e.tps)]
				base := int64((w*100000 + i) * 100)
				s := seg(tp, g.next(), base, base+99, 0, base)
				sm := &segModel{seg: s}
				mu.Lock()
				model[s.ID.ID] = sm
				mu.Unlock()
				steps := pathTo(tiered.CopySegmentFinished)
				if i%3 == 0 {
					steps = pathTo(tiered.DeleteSegmentFinished)
				}
				for _, st := range steps {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					sm.tried = st
					mu.Unlock()
					if err := e.move(s, st); err != nil {
						errs <- fmt.Errorf("worker %d: %s to %s: %w", w, s.ID, st, err)
						return
					}
					mu.Lock()
					sm.acked, sm.tried = st, tiered.StateNone
					acks++
					mu.Unlock()
				}
			}
		}()
	}
	var clone *disk
	snap := map[tiered.UUID]*segModel{}
	for clone == nil {
		mu.Lock()
		if acks >= 20+round*7 {
			for id, sm := range model {
				c := *sm
				snap[id] = &c
			}
			clone = e.d.crash(uint64(round+1), pct)
		}
		mu.Unlock()
		select {
		case err := <-errs:
			close(stop)
			wg.Wait()
			t.Fatalf("%s: %v", when, err)
		default:
		}
	}
	close(stop)
	wg.Wait()
	// Changes made after the clone are not in it; those in flight at the
	// clone are in snap with their attempted state.
	select {
	case err := <-errs:
		t.Fatalf("%s: %v", when, err)
	default:
	}
	e.crashTo(clone)
	checkModel(t, e, snap, when+": after power loss")
	checkDeletedSegments(t, e, snap, when+": after power loss")

	// The recovered manager takes changes, and they survive another power
	// loss.
	for _, sm := range snap {
		if sm.tried != tiered.StateNone {
			continue // a later change depends on which outcome was kept
		}
		if sm.acked == tiered.CopySegmentFinished {
			e.update(sm.seg, tiered.DeleteSegmentStarted)
			sm.acked = tiered.DeleteSegmentStarted
		}
	}
	g := newIDs(uint64(5000 + round))
	more := map[tiered.UUID]*segModel{}
	history(t, e, more, g, 10000+round*10, 4)
	e.crashTo(e.d.crash(uint64(round+100), 0))
	for id, sm := range more {
		snap[id] = sm
	}
	checkModel(t, e, snap, when+": after a second power loss")
}

func testRLMMSyncFailure(t testing.TB, h Harness) {
	type change struct {
		target tiered.RemoteLogSegmentMetadata
		state  tiered.RemoteLogSegmentState // the target's state after a success
		do     func() error
	}
	kinds := []struct {
		name string
		// prepare runs before the fault is armed; s is a finished segment,
		// fresh one never added.
		prepare func(e *rlmmEnv, s, fresh tiered.RemoteLogSegmentMetadata) change
	}{
		{"add", func(e *rlmmEnv, s, fresh tiered.RemoteLogSegmentMetadata) change {
			return change{fresh, tiered.CopySegmentStarted, func() error { return e.m.AddRemoteLogSegmentMetadata(fresh) }}
		}},
		{"finish", func(e *rlmmEnv, s, fresh tiered.RemoteLogSegmentMetadata) change {
			e.add(fresh)
			return change{fresh, tiered.CopySegmentFinished, func() error {
				return e.m.UpdateRemoteLogSegmentMetadata(upd(fresh, tiered.CopySegmentFinished))
			}}
		}},
		{"delete-started", func(e *rlmmEnv, s, fresh tiered.RemoteLogSegmentMetadata) change {
			return change{s, tiered.DeleteSegmentStarted, func() error {
				return e.m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.DeleteSegmentStarted))
			}}
		}},
		{"partition-delete", func(e *rlmmEnv, s, fresh tiered.RemoteLogSegmentMetadata) change {
			return change{s, tiered.CopySegmentFinished, func() error {
				return e.m.PutRemotePartitionDeleteMetadata(pdel(tpB, tiered.DeletePartitionMarked))
			}}
		}},
	}
	for _, k := range kinds {
		trig := faults.NewTrigger(faults.OpSync, syscall.EIO)
		e := newRLMM(t, h, trig)
		if !e.durable() {
			t.Skip("the metadata manager does not sync every change through Options.FS")
		}
		g := newIDs(30)
		model := map[tiered.UUID]*segModel{}
		history(t, e, model, g, 0, 5)
		var s tiered.RemoteLogSegmentMetadata
		for _, sm := range model {
			if sm.acked == tiered.CopySegmentFinished {
				s = sm.seg
			}
		}
		fresh := seg(tpA, g.next(), 50000, 50099, 0, 50000)
		c := k.prepare(e, s, fresh)
		sm := model[c.target.ID.ID]
		if sm == nil {
			sm = &segModel{seg: c.target}
			if k.name == "finish" {
				sm.acked = tiered.CopySegmentStarted
			}
			model[c.target.ID.ID] = sm
		}
		trig.Arm(1)
		err := c.do()
		fired := trig.Fired()
		trig.Disarm()
		switch {
		case err == nil && fired > 0:
			t.Fatalf("%s: acknowledged although its sync failed", k.name)
		case err == nil:
			t.Fatalf("%s: acknowledged without a sync by a manager that declares SyncOnWrite", k.name)
		}
		// Nothing unacknowledged is reported.
		checkModel(t, e, model, k.name+": after the failed sync")
		wantErr(t, k.name+": change after a failed sync", e.m.AddRemoteLogSegmentMetadata(seg(tpB, g.next(), 60000, 60099, 0, 60000)), tiered.ErrFailed)
		if c.state != sm.acked {
			sm.tried = c.state
		}
		e.crashTo(e.d.crash(1, 0))
		checkModel(t, e, model, k.name+": after a failed sync and a power loss")
		if k.name != "partition-delete" {
			history(t, e, model, g, 700, 3)
			checkModel(t, e, model, k.name+": after recovery")
		}
	}
}

// testRLMMCrashAtEachSync cuts the power before each sync of a history of
// changes in turn (compactions included), and checks that every change
// acknowledged before the cut survives and nothing else appears.
func testRLMMCrashAtEachSync(t testing.TB, h Harness) {
	for k := 0; ; k++ {
		inj := &crashAt{k: k}
		e := newRLMM(t, h, inj)
		if !e.durable() {
			t.Skip("the metadata manager does not sync every change through Options.FS")
		}
		inj.mem = e.d.mem
		model := map[tiered.UUID]*segModel{}
		var snap map[tiered.UUID]*segModel
		inj.before = func() {
			snap = map[tiered.UUID]*segModel{}
			for id, sm := range model {
				c := *sm
				snap[id] = &c
			}
		}
		inj.arm(true)
		history(t, e, model, newIDs(80), 0, 10)
		inj.arm(false)
		clones := inj.taken()
		if clones == nil {
			if k == 0 {
				t.Fatalf("changes to a metadata manager that declares SyncOnWrite made no sync")
			}
			return
		}
		for i, cl := range clones {
			e.crashTo(cl)
			when := fmt.Sprintf("power lost before sync %d (%d%% of unsynced data kept)", k, i*100)
			checkModel(t, e, snap, when)
			checkDeletedSegments(t, e, snap, when)
		}
		if k > 500 {
			t.Fatalf("a history of 10 segments made more than %d syncs", k)
		}
	}
}
