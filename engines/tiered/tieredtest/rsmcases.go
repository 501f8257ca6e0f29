package tieredtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/faults"
)

var rsmCases = []Case{
	{"rsm/copy-and-fetch", testCopyFetch},
	{"rsm/fetch-range", testFetchRange},
	{"rsm/missing-transaction-index", testMissingTxnIndex},
	{"rsm/missing-producer-snapshot", testMissingProducerSnapshot},
	{"rsm/idempotent-copy", testIdempotentCopy},
	{"rsm/idempotent-delete", testIdempotentDelete},
	{"rsm/missing-source", testMissingSource},
	{"rsm/partitions", testRSMPartitions},
	{"rsm/concurrency", testRSMConcurrency},
	{"rsm/closed", testRSMClosed},
	{"rsm/reopen", testRSMReopen},
	{"rsm/power-loss", testRSMPowerLoss},
	{"rsm/sync-failure", testRSMSyncFailure},
	{"rsm/crash-during-copy", testRSMCrashDuringCopy},
	{"rsm/corruption", testRSMCorruption},
}

// content is what one copy of a segment holds; a nil producer snapshot or
// transaction index is absent.
type content struct {
	log, offset, time, producer, txn, epoch []byte
}

func (c content) index(t tiered.IndexType) []byte {
	switch t {
	case tiered.IndexOffset:
		return c.offset
	case tiered.IndexTimestamp:
		return c.time
	case tiered.IndexProducerSnapshot:
		return c.producer
	case tiered.IndexTransaction:
		return c.txn
	case tiered.IndexLeaderEpoch:
		return c.epoch
	}
	return nil
}

// makeContent draws a segment of size log bytes from seed; withTxn says
// whether it has a transaction index.
func makeContent(seed uint64, size int, withTxn bool) content {
	r := rand.New(rand.NewPCG(seed, 7))
	b := func(n int) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(r.Uint32())
		}
		return out
	}
	c := content{log: b(size), offset: b(64 + size/100), time: b(96), producer: b(40), epoch: b(12)}
	if withTxn {
		c.txn = b(30)
	}
	return c
}

// rsmEnv is one storage manager under test, with a source file system for
// the local segment files.
type rsmEnv struct {
	t    testing.TB
	h    Harness
	d    *disk
	s    tiered.RemoteStorageManager
	caps tiered.Capabilities
	src  vfs.FS
	n    int
}

func newRSM(t testing.TB, h Harness, inj faults.Injector) *rsmEnv {
	t.Helper()
	if h.OpenRSM == nil {
		t.Skip("no RemoteStorageManager in the harness")
	}
	e := &rsmEnv{t: t, h: h, d: newDisk(t, inj), src: vfs.NewMem()}
	e.open()
	t.Cleanup(func() {
		if e.s != nil {
			_ = e.s.Close()
		}
	})
	return e
}

func (e *rsmEnv) open() {
	e.t.Helper()
	s, err := e.h.OpenRSM(tiered.Options{Dir: rsmDir, FS: e.d.fs, Params: e.h.RSMParams})
	if err != nil {
		e.t.Fatalf("%s: open storage manager: %v", e.h.Name, err)
	}
	e.s, e.caps = s, s.Capabilities()
}

func (e *rsmEnv) reopen() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.s = nil
	e.open()
}

func (e *rsmEnv) crashTo(d *disk) {
	e.t.Helper()
	if e.s != nil {
		_ = e.s.Close()
		e.s = nil
	}
	e.d = d
	e.open()
}

func (e *rsmEnv) durable() bool { return e.caps.Persistent && e.caps.UsesFS && e.caps.SyncOnWrite }

// data writes c as local segment files and returns their description.
func (e *rsmEnv) data(c content) tiered.LogSegmentData {
	e.t.Helper()
	e.n++
	put := func(ext string, b []byte) string {
		name := fmt.Sprintf("/local/%05d.%s", e.n, ext)
		if err := e.src.MkdirAll("/local", 0o755); err != nil {
			e.t.Fatalf("mkdir: %v", err)
		}
		f, err := e.src.Create(name, vfs.WriteCategoryUnspecified)
		if err != nil {
			e.t.Fatalf("create %s: %v", name, err)
		}
		// Write a copy: a MemFS may scramble the buffer it is given.
		if _, err := f.Write(bytes.Clone(b)); err != nil {
			e.t.Fatalf("write %s: %v", name, err)
		}
		if err := f.Close(); err != nil {
			e.t.Fatalf("close %s: %v", name, err)
		}
		return name
	}
	d := tiered.LogSegmentData{
		FS:               e.src,
		LogSegment:       put("log", c.log),
		OffsetIndex:      put("index", c.offset),
		TimeIndex:        put("timeindex", c.time),
		LeaderEpochIndex: bytes.Clone(c.epoch),
	}
	if c.producer != nil {
		d.ProducerSnapshotIndex = put("snapshot", c.producer)
	}
	if c.txn != nil {
		d.TransactionIndex = put("txnindex", c.txn)
	}
	return d
}

func (e *rsmEnv) copy(m tiered.RemoteLogSegmentMetadata, c content) {
	e.t.Helper()
	if _, err := e.s.CopyLogSegmentData(m, e.data(c)); err != nil {
		e.t.Fatalf("copy %s: %v", m.ID, err)
	}
}

func readAll(r io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// fetched returns the segment's log data and indexes, or the first error.
func (e *rsmEnv) fetched(m tiered.RemoteLogSegmentMetadata) (content, error) {
	var c content
	var err error
	if c.log, err = readAll(e.s.FetchLogSegment(m, 0, tiered.ToEnd)); err != nil {
		return c, err
	}
	for _, t := range tiered.IndexTypes() {
		b, err := readAll(e.s.FetchIndex(m, t))
		optional := t == tiered.IndexTransaction || t == tiered.IndexProducerSnapshot
		if optional && errors.Is(err, tiered.ErrRemoteResourceNotFound) {
			continue
		}
		if err != nil {
			return c, fmt.Errorf("index %s: %w", t, err)
		}
		switch t {
		case tiered.IndexOffset:
			c.offset = b
		case tiered.IndexTimestamp:
			c.time = b
		case tiered.IndexProducerSnapshot:
			c.producer = b
		case tiered.IndexTransaction:
			c.txn = b
		case tiered.IndexLeaderEpoch:
			c.epoch = b
		}
	}
	return c, nil
}

func sameContent(a, b content) bool {
	return bytes.Equal(a.log, b.log) && bytes.Equal(a.offset, b.offset) && bytes.Equal(a.time, b.time) &&
		bytes.Equal(a.producer, b.producer) && bytes.Equal(a.txn, b.txn) && bytes.Equal(a.epoch, b.epoch)
}

func (e *rsmEnv) wantContent(what string, m tiered.RemoteLogSegmentMetadata, want content) {
	e.t.Helper()
	got, err := e.fetched(m)
	if err != nil {
		e.t.Fatalf("%s: fetch %s: %v", what, m.ID, err)
	}
	if !sameContent(got, want) {
		e.t.Fatalf("%s: segment %s fetched with other content (log %d bytes, want %d)", what, m.ID, len(got.log), len(want.log))
	}
}

func (e *rsmEnv) wantAbsent(what string, m tiered.RemoteLogSegmentMetadata) {
	e.t.Helper()
	_, err := e.s.FetchLogSegment(m, 0, tiered.ToEnd)
	wantErr(e.t, what+": fetch log", err, tiered.ErrRemoteResourceNotFound)
	_, err = e.s.FetchIndex(m, tiered.IndexOffset)
	wantErr(e.t, what+": fetch offset index", err, tiered.ErrRemoteResourceNotFound)
}

func testCopyFetch(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(40)
	for i, size := range []int{0, 1, 4095, 4096, 70000} {
		m := seg(tpA, g.next(), int64(i*100), int64(i*100+99), 0, int64(i*100))
		c := makeContent(uint64(i), size, true)
		e.copy(m, c)
		e.wantContent(fmt.Sprintf("size %d", size), m, c)
	}
	_, err := e.s.FetchIndex(seg(tpA, g.next(), 0, 9, 0, 0), tiered.IndexOffset)
	wantErr(t, "index of a segment never copied", err, tiered.ErrRemoteResourceNotFound)
	_, err = e.s.FetchLogSegment(seg(tpA, g.next(), 0, 9, 0, 0), 0, 10)
	wantErr(t, "log of a segment never copied", err, tiered.ErrRemoteResourceNotFound)
}

func testFetchRange(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(41)
	m := seg(tpA, g.next(), 0, 99, 0, 0)
	c := makeContent(1, 10000, false)
	e.copy(m, c)
	size := int64(len(c.log))
	for _, r := range []struct{ start, end int64 }{
		{0, 0}, {0, 9}, {10, 19}, {4090, 4200}, {size - 1, size - 1}, {size - 1, size + 100}, {size, size}, {size, tiered.ToEnd}, {0, size - 2}, {5, tiered.ToEnd},
	} {
		got, err := readAll(e.s.FetchLogSegment(m, r.start, r.end))
		if err != nil {
			t.Fatalf("fetch [%d, %d]: %v", r.start, r.end, err)
		}
		want := c.log[r.start : min(r.end, size-1)+1]
		if !bytes.Equal(got, want) {
			t.Fatalf("fetch [%d, %d]: %d bytes, want %d (end is inclusive)", r.start, r.end, len(got), len(want))
		}
	}
	for _, r := range []struct{ start, end int64 }{{-1, 5}, {5, 4}, {size + 1, size + 2}, {-5, -1}} {
		_, err := e.s.FetchLogSegment(m, r.start, r.end)
		wantErr(t, fmt.Sprintf("fetch [%d, %d]", r.start, r.end), err, tiered.ErrInvalidArgument)
	}
	_, err := e.s.FetchIndex(m, tiered.IndexType(99))
	wantErr(t, "unknown index type", err, tiered.ErrInvalidArgument)
}

func testMissingTxnIndex(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(42)
	m := seg(tpA, g.next(), 0, 99, 0, 0)
	c := makeContent(2, 500, false)
	e.copy(m, c)
	_, err := e.s.FetchIndex(m, tiered.IndexTransaction)
	wantErr(t, "transaction index of a segment copied without one", err, tiered.ErrRemoteResourceNotFound)
	e.wantContent("other indexes", m, c)
	withTxn := seg(tpA, g.next(), 100, 199, 0, 100)
	c2 := makeContent(3, 500, true)
	e.copy(withTxn, c2)
	b, err := readAll(e.s.FetchIndex(withTxn, tiered.IndexTransaction))
	if err != nil || !bytes.Equal(b, c2.txn) {
		t.Fatalf("transaction index: %d bytes, %v", len(b), err)
	}
}

// testMissingProducerSnapshot copies segments without a producer snapshot
// index, which Crabka's LogSegmentData allows to be absent: the copy
// succeeds, fetching that index returns ErrRemoteResourceNotFound, every
// other part is served; a retry of a copy with one without it leaves none.
func testMissingProducerSnapshot(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(48)
	for i, withTxn := range []bool{false, true} {
		m := seg(tpA, g.next(), int64(i*100), int64(i*100+99), 0, int64(i*100))
		c := makeContent(uint64(20+i), 700, withTxn)
		c.producer = nil
		if _, err := e.s.CopyLogSegmentData(m, e.data(c)); err != nil {
			t.Fatalf("copy without a producer snapshot index (transaction index: %v): %v", withTxn, err)
		}
		_, err := e.s.FetchIndex(m, tiered.IndexProducerSnapshot)
		wantErr(t, "producer snapshot index of a segment copied without one", err, tiered.ErrRemoteResourceNotFound)
		for _, it := range []tiered.IndexType{tiered.IndexOffset, tiered.IndexTimestamp, tiered.IndexLeaderEpoch} {
			b, err := readAll(e.s.FetchIndex(m, it))
			if err != nil || !bytes.Equal(b, c.index(it)) {
				t.Fatalf("%s index of a segment copied without a producer snapshot: %d bytes, %v; want %d bytes", it, len(b), err, len(c.index(it)))
			}
		}
		e.wantContent("copied without a producer snapshot index", m, c)
	}
	m := seg(tpA, g.next(), 200, 299, 0, 200)
	e.copy(m, makeContent(22, 700, true))
	c := makeContent(23, 600, false)
	c.producer = nil
	e.copy(m, c)
	_, err := e.s.FetchIndex(m, tiered.IndexProducerSnapshot)
	wantErr(t, "a retry without a producer snapshot index", err, tiered.ErrRemoteResourceNotFound)
	e.wantContent("a retry without a producer snapshot index", m, c)
}

func testIdempotentCopy(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(43)
	m := seg(tpA, g.next(), 0, 99, 0, 0)
	c := makeContent(4, 3000, true)
	e.copy(m, c)
	e.copy(m, c)
	e.wantContent("copied twice", m, c)
	c2 := makeContent(5, 2000, false)
	e.copy(m, c2)
	e.wantContent("a retry overwrites", m, c2)
	_, err := e.s.FetchIndex(m, tiered.IndexTransaction)
	wantErr(t, "a retry without a transaction index", err, tiered.ErrRemoteResourceNotFound)
}

func testIdempotentDelete(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(44)
	m := seg(tpA, g.next(), 0, 99, 0, 0)
	keep := seg(tpA, g.next(), 100, 199, 0, 100)
	c := makeContent(6, 3000, true)
	e.copy(m, c)
	e.copy(keep, c)
	wantOK(t, "delete", e.s.DeleteLogSegmentData(m))
	e.wantAbsent("after delete", m)
	wantOK(t, "delete again", e.s.DeleteLogSegmentData(m))
	wantOK(t, "delete of a segment never copied", e.s.DeleteLogSegmentData(seg(tpB, g.next(), 0, 9, 0, 0)))
	e.wantContent("another segment", keep, c)
	e.copy(m, c)
	e.wantContent("copied again after delete", m, c)
}

func testMissingSource(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(45)
	m := seg(tpA, g.next(), 0, 99, 0, 0)
	d := e.data(makeContent(7, 100, true))
	d.TimeIndex = "/local/missing"
	if _, err := e.s.CopyLogSegmentData(m, d); err == nil {
		t.Fatalf("copy with a missing source file succeeded")
	}
	e.wantAbsent("after a failed copy", m)
	c := makeContent(8, 100, true)
	e.copy(m, c)
	e.wantContent("after a retry", m, c)
}

func testRSMPartitions(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	id := newIDs(46).next()
	// The same segment UUID in two partitions names two segments.
	ma := seg(tpA, id, 0, 99, 0, 0)
	mb := seg(tpB, id, 0, 99, 0, 0)
	ca, cb := makeContent(9, 300, true), makeContent(10, 400, false)
	e.copy(ma, ca)
	e.copy(mb, cb)
	e.wantContent(tpA.String(), ma, ca)
	e.wantContent(tpB.String(), mb, cb)
	wantOK(t, "delete", e.s.DeleteLogSegmentData(ma))
	e.wantAbsent(tpA.String(), ma)
	e.wantContent(tpB.String()+" after deleting in "+tpA.String(), mb, cb)
	bad := ma
	bad.ID.ID = tiered.UUID{}
	_, err := e.s.CopyLogSegmentData(bad, e.data(ca))
	wantErr(t, "copy with a zero segment id", err, tiered.ErrInvalidArgument)
}

func testRSMConcurrency(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	const workers, per = 4, 6
	type job struct {
		m tiered.RemoteLogSegmentMetadata
		c content
		d tiered.LogSegmentData
	}
	jobs := make([][]job, workers)
	g := newIDs(47)
	for w := range jobs {
		for i := range per {
			m := seg(tpA, g.next(), int64(i*100), int64(i*100+99), 0, int64(i*100))
			c := makeContent(uint64(w*100+i), 2000+i*1000, i%2 == 0)
			jobs[w] = append(jobs[w], job{m, c, e.data(c)})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, j := range jobs[w] {
				if _, err := e.s.CopyLogSegmentData(j.m, j.d); err != nil {
					errs <- err
					return
				}
				got, err := e.fetched(j.m)
				if err != nil || !sameContent(got, j.c) {
					errs <- fmt.Errorf("worker %d segment %d: fetch: %v", w, i, err)
					return
				}
				if i%3 == 2 {
					if err := e.s.DeleteLogSegmentData(j.m); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent calls: %v", err)
	}
	for _, js := range jobs {
		for i, j := range js {
			if i%3 == 2 {
				e.wantAbsent("deleted", j.m)
			} else {
				e.wantContent("copied", j.m, j.c)
			}
		}
	}
}

func testRSMClosed(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	g := newIDs(48)
	m := seg(tpA, g.next(), 0, 99, 0, 0)
	c := makeContent(11, 100, true)
	e.copy(m, c)
	d := e.data(c)
	wantOK(t, "close", e.s.Close())
	s := e.s
	e.s = nil
	_, err := s.CopyLogSegmentData(m, d)
	wantErr(t, "copy", err, tiered.ErrClosed)
	_, err = s.FetchLogSegment(m, 0, 10)
	wantErr(t, "fetch", err, tiered.ErrClosed)
	_, err = s.FetchIndex(m, tiered.IndexOffset)
	wantErr(t, "fetch index", err, tiered.ErrClosed)
	wantErr(t, "delete", s.DeleteLogSegmentData(m), tiered.ErrClosed)
	wantErr(t, "second close", s.Close(), tiered.ErrClosed)
}

func testRSMReopen(t testing.TB, h Harness) {
	e := newRSM(t, h, nil)
	if !e.caps.Persistent {
		t.Skip("the storage manager is not persistent")
	}
	g := newIDs(49)
	m1 := seg(tpA, g.next(), 0, 99, 0, 0)
	m2 := seg(tpB, g.next(), 0, 99, 0, 0)
	c1, c2 := makeContent(12, 5000, true), makeContent(13, 100, false)
	e.copy(m1, c1)
	e.copy(m2, c2)
	wantOK(t, "delete", e.s.DeleteLogSegmentData(m2))
	e.reopen()
	e.wantContent("after reopen", m1, c1)
	e.wantAbsent("deleted before reopen", m2)
}

// rsmSegModel is what the suite knows of one segment in the power-loss case.
type rsmSegModel struct {
	m       tiered.RemoteLogSegmentMetadata
	c       content
	present bool // acknowledged copied (and not deleted since)
	unsure  bool // a copy or delete of it was not acknowledged
}

// checkRSM verifies each segment: an acknowledged one is intact, an
// acknowledged deletion holds, and one in doubt is intact or absent, never
// torn.
func checkRSM(t testing.TB, e *rsmEnv, model []*rsmSegModel, when string) {
	t.Helper()
	for _, sm := range model {
		got, err := e.fetched(sm.m)
		switch {
		case err == nil && !sameContent(got, sm.c):
			t.Fatalf("%s: segment %s fetched torn or with other content (log %d bytes, want %d)", when, sm.m.ID, len(got.log), len(sm.c.log))
		case err == nil && !sm.present && !sm.unsure:
			t.Fatalf("%s: segment %s came back after an acknowledged delete", when, sm.m.ID)
		case err != nil && !errors.Is(err, tiered.ErrRemoteResourceNotFound):
			t.Fatalf("%s: segment %s: %v (acknowledged: %v)", when, sm.m.ID, err, sm.present)
		case err != nil && sm.present && !sm.unsure:
			t.Fatalf("%s: acknowledged segment %s lost: %v", when, sm.m.ID, err)
		}
	}
}

func testRSMPowerLoss(t testing.TB, h Harness) {
	for round, pct := range crashPercents() {
		e := newRSM(t, h, nil)
		if !e.durable() {
			t.Skip("the storage manager does not sync every change through Options.FS")
		}
		when := fmt.Sprintf("round %d (%d%% of unsynced data kept)", round, pct)
		var (
			mu    sync.Mutex
			model []*rsmSegModel
			acks  int
			stop  = make(chan struct{})
			wg    sync.WaitGroup
			errs  = make(chan error, 3)
		)
		type prepared struct {
			sm *rsmSegModel
			d  tiered.LogSegmentData
		}
		const workers = 3
		work := make([][]prepared, workers)
		g := newIDs(uint64(50 + round))
		for w := range work {
			for i := range 12 {
				m := seg(tpA, g.next(), int64(i*100), int64(i*100+99), 0, int64(i*100))
				c := makeContent(uint64(round*1000+w*100+i), 1000+((w+i)%4)*3000, i%2 == 0)
				sm := &rsmSegModel{m: m, c: c}
				work[w] = append(work[w], prepared{sm, e.data(c)})
				model = append(model, sm)
			}
		}
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i, p := range work[w] {
					for _, del := range []bool{false, true} {
						if del && i%3 != 1 {
							continue
						}
						select {
						case <-stop:
							return
						default:
						}
						mu.Lock()
						p.sm.unsure = true
						mu.Unlock()
						var err error
						if del {
							err = e.s.DeleteLogSegmentData(p.sm.m)
						} else {
							_, err = e.s.CopyLogSegmentData(p.sm.m, p.d)
						}
						if err != nil {
							errs <- fmt.Errorf("worker %d: %w", w, err)
							return
						}
						mu.Lock()
						p.sm.unsure, p.sm.present = false, !del
						acks++
						mu.Unlock()
					}
				}
			}()
		}
		var clone *disk
		var snap []rsmSegModel
		for clone == nil {
			mu.Lock()
			if acks >= 8+round*5 || acks >= workers*12 {
				for _, sm := range model {
					snap = append(snap, *sm)
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
		e.crashTo(clone)
		ptrs := make([]*rsmSegModel, len(snap))
		for i := range snap {
			ptrs[i] = &snap[i]
		}
		checkRSM(t, e, ptrs, when+": after power loss")
		// Segments copied after recovery survive another power loss.
		for _, sm := range ptrs[:4] {
			e.copy(sm.m, sm.c)
			sm.present, sm.unsure = true, false
		}
		e.crashTo(e.d.crash(uint64(round+100), 0))
		checkRSM(t, e, ptrs, when+": after a second power loss")
	}
}

// nthSync is an injector that, once armed, fails the k-th sync it sees
// (counting from 0) with EIO, and no other.
type nthSync struct {
	mu    sync.Mutex
	armed bool
	k, n  int
	fired int
}

func (s *nthSync) String() string { return fmt.Sprintf("nth-sync(%d)", s.k) }

func (s *nthSync) MayFail(kind faults.OpKind) bool { return kind == faults.OpSync }

func (s *nthSync) MaybeError(op faults.Op) error {
	if op.Kind != faults.OpSync {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed {
		return nil
	}
	s.n++
	if s.n-1 != s.k {
		return nil
	}
	s.fired++
	return faults.Inject(op, syscall.EIO, s.String())
}

func (s *nthSync) arm(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.n = on, 0
}

func (s *nthSync) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}

func testRSMSyncFailure(t testing.TB, h Harness) {
	for k := 0; ; k++ {
		inj := &nthSync{k: k}
		e := newRSM(t, h, inj)
		if !e.durable() {
			t.Skip("the storage manager does not sync every change through Options.FS")
		}
		g := newIDs(60)
		old := seg(tpA, g.next(), 0, 99, 0, 0)
		oc := makeContent(20, 9000, true)
		e.copy(old, oc)
		m := seg(tpA, g.next(), 100, 199, 0, 100)
		c := makeContent(21, 9000, true)
		d := e.data(c)
		del := seg(tpB, g.next(), 0, 99, 0, 0)
		e.copy(del, oc)

		inj.arm(true)
		_, err := e.s.CopyLogSegmentData(m, d)
		fired := inj.count()
		inj.arm(false)
		if err == nil && fired > 0 {
			t.Fatalf("copy acknowledged although its sync %d failed", k)
		}
		if err == nil {
			if k == 0 {
				t.Fatalf("a copy by a storage manager that declares SyncOnWrite made no sync")
			}
			e.wantContent("copy", m, c)
			break // every sync of the copy was failed in turn
		}
		when := fmt.Sprintf("copy whose sync %d failed", k)
		e.wantAbsent(when, m)
		e.wantContent(when+": earlier segment", old, oc)
		e.crashTo(e.d.crash(uint64(k), 0))
		model := []*rsmSegModel{{m: old, c: oc, present: true}, {m: m, c: c, unsure: true}, {m: del, c: oc, present: true}}
		checkRSM(t, e, model, when+": after a power loss")
		e.copy(m, c)
		e.wantContent(when+": copied again after recovery", m, c)
		if k > 50 {
			t.Fatalf("copies keep failing after %d injected sync failures", k)
		}
	}
	// A failed sync of a delete: the segment may come back after a crash,
	// but intact.
	inj := &nthSync{k: 0}
	e := newRSM(t, h, inj)
	g := newIDs(61)
	m := seg(tpA, g.next(), 0, 99, 0, 0)
	c := makeContent(22, 5000, false)
	e.copy(m, c)
	inj.arm(true)
	err := e.s.DeleteLogSegmentData(m)
	inj.arm(false)
	if err == nil && inj.count() > 0 {
		t.Fatalf("delete acknowledged although its sync failed")
	}
	e.crashTo(e.d.crash(7, 0))
	checkRSM(t, e, []*rsmSegModel{{m: m, c: c, present: err != nil, unsure: err != nil}}, "delete whose sync failed, after a power loss")
}

// crashAt is an injector that, once armed, takes the disk as power losses
// would leave it just before the k-th sync (counting from 0), keeping 0%
// and 100% of the unsynced data, and lets every operation run. The
// operation in flight runs on the goroutine that calls before.
type crashAt struct {
	mu     sync.Mutex
	mem    *vfs.MemFS
	before func() // called as the clones are taken
	k, n   int
	armed  bool
	clones []*disk
}

func (c *crashAt) String() string                { return fmt.Sprintf("crash-at-sync(%d)", c.k) }
func (c *crashAt) MayFail(faults.OpKind) bool    { return false }
func (c *crashAt) MaybeError(op faults.Op) error { c.maybeCrash(op); return nil }

func (c *crashAt) maybeCrash(op faults.Op) {
	if op.Kind != faults.OpSync {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return
	}
	c.n++
	if c.n-1 != c.k {
		return
	}
	if c.before != nil {
		c.before()
	}
	d := &disk{mem: c.mem}
	c.clones = []*disk{d.crash(uint64(c.k), 0), d.crash(uint64(c.k), 100)}
}

func (c *crashAt) arm(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.n = on, 0
}

func (c *crashAt) taken() []*disk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clones
}

// testRSMCrashDuringCopy cuts the power before each sync of a copy in turn
// and checks that the segment is then absent or intact, never torn, and
// that an earlier segment is intact.
func testRSMCrashDuringCopy(t testing.TB, h Harness) {
	for k := 0; ; k++ {
		inj := &crashAt{k: k}
		e := newRSM(t, h, inj)
		if !e.durable() {
			t.Skip("the storage manager does not sync every change through Options.FS")
		}
		inj.mem = e.d.mem
		g := newIDs(62)
		old := seg(tpA, g.next(), 0, 99, 0, 0)
		oc := makeContent(23, 9000, true)
		e.copy(old, oc)
		m := seg(tpA, g.next(), 100, 199, 0, 100)
		c := makeContent(24, 9000, true)
		d := e.data(c)
		inj.arm(true)
		_, err := e.s.CopyLogSegmentData(m, d)
		inj.arm(false)
		wantOK(t, "copy", err)
		clones := inj.taken()
		if clones == nil {
			if k == 0 {
				t.Fatalf("a copy by a storage manager that declares SyncOnWrite made no sync")
			}
			return
		}
		for i, cl := range clones {
			e.crashTo(cl)
			when := fmt.Sprintf("power lost before sync %d of a copy (%d%% of unsynced data kept)", k, i*100)
			checkRSM(t, e, []*rsmSegModel{{m: old, c: oc, present: true}, {m: m, c: c, unsure: true}}, when)
		}
		if k > 50 {
			t.Fatalf("a copy made more than %d syncs", k)
		}
	}
}
