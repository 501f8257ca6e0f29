package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/faults"
)

// model is what the suite knows a shard must hold: the records acknowledged
// live by offset, the offsets acknowledged deleted, and the records whose
// outcome is unknown (written by an unacknowledged call), by payload.
type model struct {
	live    map[uint64]adapter.Record
	deleted map[uint64]bool
	maybe   map[string]adapter.Record // by Data
	unsure  map[uint64]bool           // offsets whose delete was not acknowledged
}

func newModel() *model {
	return &model{live: map[uint64]adapter.Record{}, deleted: map[uint64]bool{}, maybe: map[string]adapter.Record{}, unsure: map[uint64]bool{}}
}

// check verifies a recovered shard against the model: every acknowledged
// live record is there and equal, no acknowledged delete is undone, every
// other record is one whose write was attempted, and offsets are contiguous
// (present or deleted) from 0 to NextOffset-1. It returns NextOffset.
func (m *model) check(t testing.TB, e *env, shard, when string) uint64 {
	t.Helper()
	got := e.readAll(shard)
	seen := map[uint64]bool{}
	var prev uint64
	for i, r := range got {
		if i > 0 && r.Offset <= prev {
			t.Fatalf("%s: shard %s: offsets not ascending: %d after %d", when, shard, r.Offset, prev)
		}
		prev = r.Offset
		seen[r.Offset] = true
		if m.deleted[r.Offset] {
			t.Fatalf("%s: shard %s: record %d was deleted (acknowledged) but came back", when, shard, r.Offset)
		}
		if want, ok := m.live[r.Offset]; ok {
			wantRecord(t, fmt.Sprintf("%s: shard %s: acknowledged record %d", when, shard, r.Offset), r, want)
			continue
		}
		want, ok := m.maybe[string(r.Data)]
		if !ok {
			t.Fatalf("%s: shard %s: record %d (%q) was never written", when, shard, r.Offset, r.Data)
		}
		wantRecord(t, fmt.Sprintf("%s: shard %s: unacknowledged record %d", when, shard, r.Offset), r, withOffset(want, r.Offset))
	}
	for o := range m.live {
		if !seen[o] {
			t.Fatalf("%s: shard %s: acknowledged record %d lost", when, shard, o)
		}
	}
	next := e.info(shard).NextOffset
	for o := range next {
		if !seen[o] && !m.deleted[o] && !m.unsure[o] {
			t.Fatalf("%s: shard %s: offset %d below NextOffset %d is neither present nor deleted", when, shard, o, next)
		}
	}
	for o := range seen {
		if o >= next {
			t.Fatalf("%s: shard %s: record %d at or above NextOffset %d", when, shard, o, next)
		}
	}
	return next
}

// fill writes the records every crash case starts from: 20 records in p
// with keys k0..k4 and tags, three of them deleted, a group offset.
func fill(t testing.TB, e *env, m *model) {
	t.Helper()
	ctx := e.ctx
	e.create("p", 0)
	e.create("q", 1)
	for i := range 20 {
		r := rec(i, fmt.Sprintf("k%d", i%5), fmt.Sprintf("t%d", i%3))
		m.live[e.write("p", r)] = withOffset(r, uint64(i))
	}
	for _, o := range []uint64{3, 7} {
		wantOK(t, "delete", e.a.DeleteByOffset(ctx, "p", o))
		delete(m.live, o)
		m.deleted[o] = true
	}
	wantOK(t, "delete k4", e.a.DeleteByKey(ctx, "p", "k4"))
	for o, r := range m.live {
		if r.Key == "k4" {
			delete(m.live, o)
			m.deleted[o] = true
		}
	}
	wantOK(t, "commit", e.a.CommitOffset(ctx, "g", "p", 5))
}

func checkDeletedKeys(t testing.TB, e *env, when string) {
	t.Helper()
	_, err := e.a.ReadByKey(e.ctx, "p", "k4")
	wantErr(t, when+": key k4 deleted before the crash", err, adapter.ErrNotFound)
	rs, err := e.a.ReadByTag(e.ctx, "p", "t1", 0, 100)
	wantOK(t, when+": read by tag", err)
	for _, r := range rs {
		if r.Offset == 7 || r.Key == "k4" {
			t.Fatalf("%s: deleted record %d served by tag", when, r.Offset)
		}
	}
}

// CrashRoundsEnv names the environment variable that sets how many power
// losses crash/power-loss simulates (default 3), for long runs.
const CrashRoundsEnv = "ORDEAL_ADAPTER_CRASH_ROUNDS"

func testPowerLoss(t testing.TB, h Harness) {
	pcts := []int{0, 40, 100}
	if n, err := strconv.Atoi(os.Getenv(CrashRoundsEnv)); err == nil && n > 0 {
		pcts = pcts[:0]
		for i := range n {
			pcts = append(pcts, (i*37)%101)
		}
	}
	for round, pct := range pcts {
		if h.RealDir {
			skipCrash(t, h, adapter.Capabilities{})
		}
		e := newEnv(t, h)
		skipCrash(t, h, e.caps)
		powerLossRound(t, e, round, pct)
	}
}

func powerLossRound(t testing.TB, e *env, round, pct int) {
	t.Helper()
	ctx := e.ctx
	models := map[string]*model{"p": newModel(), "q": newModel()}
	fill(t, e, models["p"])
	when := fmt.Sprintf("round %d (%d%% of unsynced data kept)", round, pct)

	var (
		mu        sync.Mutex
		acked     int
		commitAck uint64 = 5
		commitTry uint64 = 5
		stop             = make(chan struct{})
		wg        sync.WaitGroup
		errs      = make(chan error, 8)
	)
	const writers = 3
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				shard := []string{"p", "q"}[(w+i)%2]
				rs := make([]adapter.Record, 1+i%3)
				for j := range rs {
					rs[j] = rec(1000+w*1000+i*10+j, fmt.Sprintf("w%d", w), fmt.Sprintf("t%d", j))
					// Some records are large, so that frames cross the
					// 4 KiB blocks a power loss keeps or loses.
					rs[j].Data = fmt.Appendf(nil, "w%d-i%d-j%d-%0*d", w, i, j, (i%4)*1500, 0)
				}
				mu.Lock()
				for _, r := range rs {
					models[shard].maybe[string(r.Data)] = r
				}
				mu.Unlock()
				offs, err := e.a.BatchWrite(ctx, shard, rs)
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				mu.Lock()
				for j, o := range offs {
					models[shard].live[o] = withOffset(rs[j], o)
				}
				acked++
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			commitTry++
			c := commitTry
			mu.Unlock()
			if err := e.a.CommitOffset(ctx, "g", "p", c); err != nil {
				errs <- fmt.Errorf("committer: %w", err)
				return
			}
			mu.Lock()
			commitAck = max(commitAck, c)
			mu.Unlock()
		}
	}()

	var clone *vfs.MemFS
	var snap map[string]*model
	var ackedCommit, triedCommit uint64
	for {
		mu.Lock()
		if acked >= 12+(round%5)*5 {
			// Everything acknowledged so far was acknowledged before the
			// clone: no acknowledgement is recorded while mu is held.
			snap = map[string]*model{}
			for s, m := range models {
				c := newModel()
				for o, r := range m.live {
					c.live[o] = r
				}
				for o := range m.deleted {
					c.deleted[o] = true
				}
				for d, r := range m.maybe {
					c.maybe[d] = r
				}
				snap[s] = c
			}
			ackedCommit = commitAck
			clone = faults.PowerLoss(e.mem, uint64(round+1), pct)
			mu.Unlock()
			break
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
	mu.Lock()
	triedCommit = commitTry
	for s, m := range models { // attempts made after the snapshot may have landed too
		for d, r := range m.maybe {
			snap[s].maybe[d] = r
		}
	}
	mu.Unlock()
	select {
	case err := <-errs:
		t.Fatalf("%s: %v", when, err)
	default:
	}

	e.crashTo(clone)
	next := map[string]uint64{}
	for _, s := range []string{"p", "q"} {
		next[s] = snap[s].check(t, e, s, when+": after power loss")
	}
	checkDeletedKeys(t, e, when+": after power loss")
	g, err := e.a.OffsetByGroup(ctx, "g", "p")
	wantOK(t, when+": group offset after power loss", err)
	if g < ackedCommit || g > triedCommit {
		t.Fatalf("%s: group offset %d after power loss, acknowledged %d, last tried %d", when, g, ackedCommit, triedCommit)
	}

	// The recovered engine takes writes at the next offset, and they survive
	// another power loss.
	r := rec(9999, "after", "t0")
	o := e.write("p", r)
	if o != next["p"] {
		t.Fatalf("%s: first write after recovery got offset %d, want NextOffset %d", when, o, next["p"])
	}
	snap["p"].live[o] = withOffset(r, o)
	wantOK(t, "commit after recovery", e.a.CommitOffset(ctx, "g", "p", 1<<40))
	e.crash(0, uint64(round+100))
	snap["p"].check(t, e, "p", when+": after a second power loss")
	snap["q"].check(t, e, "q", when+": after a second power loss")
	checkDeletedKeys(t, e, when+": after a second power loss")
	if g, err := e.a.OffsetByGroup(ctx, "g", "p"); err != nil || g != 1<<40 {
		t.Fatalf("%s: group offset after a second power loss: %d, %v", when, g, err)
	}
}

func testSyncFailure(t testing.TB, h Harness) {
	kinds := []struct {
		name string
		op   func(e *env, m *model) error
	}{
		{"write", func(e *env, m *model) error {
			r := rec(500, "new")
			m.maybe[string(r.Data)] = r
			_, err := e.a.Write(e.ctx, "p", r)
			return err
		}},
		{"batch", func(e *env, m *model) error {
			rs := []adapter.Record{rec(501, "new"), rec(502, "new", "t1")}
			for _, r := range rs {
				m.maybe[string(r.Data)] = r
			}
			_, err := e.a.BatchWrite(e.ctx, "p", rs)
			return err
		}},
		{"delete-offset", func(e *env, m *model) error {
			m.maybe[string(m.live[1].Data)] = m.live[1]
			m.unsure[1] = true
			delete(m.live, 1)
			return e.a.DeleteByOffset(e.ctx, "p", 1)
		}},
		{"delete-key", func(e *env, m *model) error {
			for o, r := range m.live {
				if r.Key == "k2" {
					m.maybe[string(r.Data)] = r
					m.unsure[o] = true
					delete(m.live, o)
				}
			}
			return e.a.DeleteByKey(e.ctx, "p", "k2")
		}},
		{"commit", func(e *env, m *model) error { return e.a.CommitOffset(e.ctx, "g", "p", 50) }},
		{"create-shard", func(e *env, m *model) error { return e.a.CreateShard(e.ctx, e.cfg("z", 0)) }},
	}
	if h.RealDir {
		skipCrash(t, h, adapter.Capabilities{})
	}
	for _, k := range kinds {
		mem := vfs.NewCrashableMem()
		prepareDir(t, mem)
		trig := faults.NewTrigger(faults.OpSync, syscall.EIO)
		e := &env{t: t, h: h, mem: mem, fs: faults.Wrap(mem, trig), dir: dataDir, ctx: context.Background()}
		e.open()
		t.Cleanup(func() {
			if e.a != nil {
				_ = e.a.Close()
			}
		})
		skipCrash(t, h, e.caps)
		if !e.caps.SyncOnWrite {
			t.Skipf("engine %s does not declare SyncOnWrite", h.Name)
		}
		m := newModel()
		fill(t, e, m)
		trig.Arm(1)
		err := k.op(e, m)
		fired := trig.Fired()
		trig.Disarm()
		switch {
		case err == nil && fired > 0:
			t.Fatalf("%s: acknowledged although its sync failed", k.name)
		case err == nil:
			t.Fatalf("%s: acknowledged without a sync by an engine that declares SyncOnWrite", k.name)
		}
		_, err = e.a.Write(e.ctx, "p", rec(600, "after"))
		if !errors.Is(err, adapter.ErrFailed) {
			t.Fatalf("%s: write after a failed sync: got %v, want ErrFailed", k.name, err)
		}
		e.crashTo(faults.PowerLoss(mem, 1, 0))
		when := k.name + ": after a failed sync and a power loss"
		next := m.check(t, e, "p", when)
		if g, err := e.a.OffsetByGroup(e.ctx, "g", "p"); err != nil || (g != 5 && !(k.name == "commit" && g == 50)) {
			t.Fatalf("%s: group offset %d, %v", when, g, err)
		}
		if o := e.write("p", rec(700, "later")); o != next {
			t.Fatalf("%s: write got offset %d, want %d", when, o, next)
		}
		if k.name != "delete-key" {
			_, err := e.a.ReadByKey(e.ctx, "p", "k2")
			wantOK(t, when+": read key k2", err)
		}
	}
}
