package tieredtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/internal/corruptcase"
)

// DefaultMetaFiles are the files the corruption cases damage as metadata
// when a Harness names none: the durable manager's metadata log, and the
// headers of the local storage manager's segment files.
const DefaultMetaFiles = "*.log|*.seg|MANIFEST-*|OPTIONS-*|marker.*"

var corruptTPs = []tiered.TopicIDPartition{tpA, tpB}

func isCorrupt(err error) bool { return errors.Is(err, tiered.ErrCorrupt) }

func metaFiles(h Harness) string {
	if h.MetaFiles != "" {
		return h.MetaFiles
	}
	return DefaultMetaFiles
}

// rlmmPlan is the metadata history of the corruption case and where every
// segment ends.
type rlmmPlan struct {
	ops  []func(m tiered.RemoteLogMetadataManager) error
	segs []rlmmSeg
}

type rlmmSeg struct {
	final tiered.RemoteLogSegmentMetadata
	// earlier are the metadata the segment held before its final state.
	earlier []tiered.RemoteLogSegmentMetadata
}

// makeRLMMPlan draws 48 segments over two partitions: each is added, most
// finish their copy, a third of those are deleted (half of them to the
// end), in an interleaved order.
func makeRLMMPlan(seed uint64) *rlmmPlan {
	rng := rand.New(rand.NewPCG(seed, 0x71E2))
	p := &rlmmPlan{}
	next := map[tiered.TopicIDPartition]int64{}
	type pending struct {
		i     int
		steps []tiered.RemoteLogSegmentState
	}
	var queue []pending
	for i := 0; i < 48; i++ {
		tp := corruptTPs[i%2]
		start := next[tp]
		end := start + 50 + int64(rng.IntN(500))
		next[tp] = end + 1
		s := seg(tp, tiered.NewUUID(rng), start, end, 0, start)
		s.SegmentSizeInBytes = (end - start + 1) * 100
		p.segs = append(p.segs, rlmmSeg{final: s})
		var steps []tiered.RemoteLogSegmentState
		switch x := rng.IntN(12); {
		case x < 1:
		case x < 8:
			steps = []tiered.RemoteLogSegmentState{tiered.CopySegmentFinished}
		case x < 10:
			steps = []tiered.RemoteLogSegmentState{tiered.CopySegmentFinished, tiered.DeleteSegmentStarted}
		default:
			steps = []tiered.RemoteLogSegmentState{tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished}
		}
		add := s.Clone()
		p.ops = append(p.ops, func(m tiered.RemoteLogMetadataManager) error { return m.AddRemoteLogSegmentMetadata(add) })
		queue = append(queue, pending{i: i, steps: steps})
		// Move some earlier segments on by a step.
		for k := 0; k < 2 && len(queue) > 0; k++ {
			j := rng.IntN(len(queue))
			q := &queue[j]
			if len(q.steps) == 0 {
				queue = append(queue[:j], queue[j+1:]...)
				continue
			}
			p.step(q.i, q.steps[0])
			q.steps = q.steps[1:]
		}
	}
	for _, q := range queue {
		for _, st := range q.steps {
			p.step(q.i, st)
		}
	}
	return p
}

// step moves segment i to state to.
func (p *rlmmPlan) step(i int, to tiered.RemoteLogSegmentState) {
	s := &p.segs[i]
	u := upd(s.final, to)
	s.earlier = append(s.earlier, s.final)
	s.final = s.final.WithUpdate(u)
	p.ops = append(p.ops, func(m tiered.RemoteLogMetadataManager) error { return m.UpdateRemoteLogSegmentMetadata(u) })
}

func rlmmSubject(h Harness) corruptcase.Subject {
	open := func(dir string) (tiered.RemoteLogMetadataManager, error) {
		m, err := h.OpenRLMM(tiered.Options{Dir: dir, Params: h.RLMMParams})
		if err != nil {
			return nil, err
		}
		if err := m.OnPartitionLeadershipChanges(corruptTPs, nil); err != nil {
			_ = m.Close()
			return nil, err
		}
		return m, nil
	}
	return corruptcase.Subject{
		Name:      h.Name + "/rlmm",
		Meta:      metaFiles(h),
		IsCorrupt: isCorrupt,
		Write: func(t testing.TB, dir string, seed uint64) bool {
			t.Helper()
			m, err := open(dir)
			if err != nil {
				t.Fatalf("%s: open metadata manager: %v", h.Name, err)
			}
			if !m.Capabilities().Persistent {
				_ = m.Close()
				t.Skipf("%s keeps no metadata across Close: the corruption case does not apply", h.Name)
				return false
			}
			for k, op := range makeRLMMPlan(seed).ops {
				if err := op(m); err != nil {
					_ = m.Close()
					t.Fatalf("%s: change %d of the history: %v", h.Name, k, err)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatalf("%s: close: %v", h.Name, err)
			}
			return true
		},
		Check: func(dir string, seed uint64, v *corruptcase.Verdict) {
			m, err := open(dir)
			if v.Err("open", err) {
				return
			}
			defer func() { v.Err("close", m.Close()) }()
			checkRLMM(m, makeRLMMPlan(seed), v)
		},
	}
}

// checkRLMM compares the segments m lists with p.
func checkRLMM(m tiered.RemoteLogMetadataManager, p *rlmmPlan, v *corruptcase.Verdict) {
	for _, tp := range corruptTPs {
		list, err := m.ListRemoteLogSegments(tp)
		if v.Err(fmt.Sprintf("ListRemoteLogSegments(%s)", tp), err) {
			continue
		}
		listed := map[tiered.RemoteLogSegmentID]tiered.RemoteLogSegmentMetadata{}
		for _, s := range list {
			listed[s.ID] = s
		}
		for _, s := range p.segs {
			if s.final.ID.TopicIDPartition != tp {
				continue
			}
			got, ok := listed[s.final.ID]
			delete(listed, s.final.ID)
			gone := s.final.State == tiered.DeleteSegmentFinished
			switch {
			case gone && ok:
				v.Resurrected("segment %s, deleted, is listed again in state %s", s.final.ID, got.State)
			case gone:
			case !ok:
				v.Lost("segment %s (%s) is not listed", s.final.ID, s.final.State)
			case reflect.DeepEqual(got, s.final):
			case earlierState(s, got):
				v.Wrong("segment %s is back at an earlier state %s, want %s", s.final.ID, got.State, s.final.State)
			default:
				v.Wrong("segment %s is listed as %+v, want %+v", s.final.ID, got, s.final)
			}
		}
		for id := range listed {
			v.Wrong("segment %s was never added", id)
		}
		// Lookups find the finished segments.
		for _, s := range p.segs {
			if s.final.ID.TopicIDPartition != tp || s.final.State != tiered.CopySegmentFinished {
				continue
			}
			got, ok, err := m.RemoteLogSegmentMetadata(tp, 0, s.final.StartOffset)
			switch {
			case v.Err(fmt.Sprintf("RemoteLogSegmentMetadata(%s, 0, %d)", tp, s.final.StartOffset), err):
			case !ok:
				v.Lost("no segment holds offset %d of %s, want %s", s.final.StartOffset, tp, s.final.ID)
			case got.ID != s.final.ID:
				v.Wrong("offset %d of %s is found in segment %s, want %s", s.final.StartOffset, tp, got.ID, s.final.ID)
			}
		}
	}
}

func earlierState(s rlmmSeg, got tiered.RemoteLogSegmentMetadata) bool {
	for _, e := range s.earlier {
		if reflect.DeepEqual(got, e) {
			return true
		}
	}
	return false
}

// rsmSegment is one segment the RSM corruption case copies.
type rsmSegment struct {
	m       tiered.RemoteLogSegmentMetadata
	c       content
	deleted bool
}

// makeRSMPlan draws 16 segments over two partitions, with log data of 8
// to 64 KiB (some 0.6 MB in all; three times larger in the long form, see
// corruptcase.Scale); four of them are deleted after their copy.
func makeRSMPlan(seed uint64) []rsmSegment {
	rng := rand.New(rand.NewPCG(seed, 0x5E6))
	var out []rsmSegment
	for i := 0; i < 16; i++ {
		tp := corruptTPs[i%2]
		start := int64(i/2) * 1000
		m := seg(tp, tiered.NewUUID(rng), start, start+999, 0, start)
		c := makeContent(rng.Uint64(), corruptcase.Scale()*(8<<10+rng.IntN(56<<10)), rng.IntN(2) == 0)
		m.SegmentSizeInBytes = int64(len(c.log))
		out = append(out, rsmSegment{m: m, c: c, deleted: i%4 == 3})
	}
	return out
}

func rsmSubject(h Harness) corruptcase.Subject {
	open := func(dir string) (tiered.RemoteStorageManager, error) {
		return h.OpenRSM(tiered.Options{Dir: dir, Params: h.RSMParams})
	}
	return corruptcase.Subject{
		Name:      h.Name + "/rsm",
		Meta:      metaFiles(h),
		IsCorrupt: isCorrupt,
		Write: func(t testing.TB, dir string, seed uint64) bool {
			t.Helper()
			s, err := open(dir)
			if err != nil {
				t.Fatalf("%s: open storage manager: %v", h.Name, err)
			}
			if !s.Capabilities().Persistent {
				_ = s.Close()
				t.Skipf("%s keeps no segments across Close: the corruption case does not apply", h.Name)
				return false
			}
			env := &rsmEnv{t: t, h: h, s: s, src: vfs.NewMem()}
			plan := makeRSMPlan(seed)
			for _, sg := range plan {
				env.copy(sg.m, sg.c)
			}
			for _, sg := range plan {
				if sg.deleted {
					if err := s.DeleteLogSegmentData(sg.m); err != nil {
						t.Fatalf("%s: delete %s: %v", h.Name, sg.m.ID, err)
					}
				}
			}
			if err := s.Close(); err != nil {
				t.Fatalf("%s: close: %v", h.Name, err)
			}
			return true
		},
		Check: func(dir string, seed uint64, v *corruptcase.Verdict) {
			s, err := open(dir)
			if v.Err("open", err) {
				return
			}
			defer func() { v.Err("close", s.Close()) }()
			checkCorruptedRSM(s, makeRSMPlan(seed), v)
		},
	}
}

// checkCorruptedRSM fetches every segment of plan, whole and in a range, with every
// index.
func checkCorruptedRSM(s tiered.RemoteStorageManager, plan []rsmSegment, v *corruptcase.Verdict) {
	for _, sg := range plan {
		log, err := readAll(s.FetchLogSegment(sg.m, 0, tiered.ToEnd))
		switch {
		case sg.deleted && err == nil:
			v.Resurrected("segment %s, deleted, can be fetched again", sg.m.ID)
			continue
		case sg.deleted && errors.Is(err, tiered.ErrRemoteResourceNotFound):
			continue
		case errors.Is(err, tiered.ErrRemoteResourceNotFound):
			v.Lost("segment %s is not found", sg.m.ID)
			continue
		case v.Err(fmt.Sprintf("FetchLogSegment(%s)", sg.m.ID), err):
		case !bytes.Equal(log, sg.c.log):
			v.Wrong("segment %s: log data of %d bytes differs from the %d written", sg.m.ID, len(log), len(sg.c.log))
		}
		lo, hi := int64(len(sg.c.log)/3), int64(len(sg.c.log)/2)
		part, err := readAll(s.FetchLogSegment(sg.m, lo, hi))
		if !v.Err(fmt.Sprintf("FetchLogSegment(%s, %d, %d)", sg.m.ID, lo, hi), err) && !bytes.Equal(part, sg.c.log[lo:hi+1]) {
			v.Wrong("segment %s: bytes %d..%d differ from those written", sg.m.ID, lo, hi)
		}
		for _, it := range tiered.IndexTypes() {
			b, err := readAll(s.FetchIndex(sg.m, it))
			want := sg.c.index(it)
			switch {
			case errors.Is(err, tiered.ErrRemoteResourceNotFound) && want == nil:
			case errors.Is(err, tiered.ErrRemoteResourceNotFound):
				v.Lost("segment %s: index %s is not found", sg.m.ID, it)
			case v.Err(fmt.Sprintf("FetchIndex(%s, %s)", sg.m.ID, it), err):
			case want == nil:
				v.Wrong("segment %s: index %s was never copied but is fetched", sg.m.ID, it)
			case !bytes.Equal(b, want):
				v.Wrong("segment %s: index %s differs from the one copied", sg.m.ID, it)
			}
		}
	}
}

func testRLMMCorruption(t testing.TB, h Harness) {
	if h.OpenRLMM == nil {
		t.Skip("no RemoteLogMetadataManager in the harness")
	}
	corruptcase.Report(t, h.Name, corruptcase.Run(t, rlmmSubject(h), corruptcase.Default()))
}

func testRSMCorruption(t testing.TB, h Harness) {
	if h.OpenRSM == nil {
		t.Skip("no RemoteStorageManager in the harness")
	}
	corruptcase.Report(t, h.Name, corruptcase.Run(t, rsmSubject(h), corruptcase.Default()))
}

// Corruption runs the corruption cases' trials on the metadata manager of
// h, if any, then on its storage manager, if any, and returns every result
// of each, passing or not: the corruption table is made of them. Under a
// *testing.T each trial reopens the implementation in a child process
// re-running t's test, which must therefore call Corruption the same way.
func Corruption(t testing.TB, h Harness, trials []corruptcase.Trial) (rlmm, rsm []corruptcase.Result) {
	t.Helper()
	if h.OpenRLMM != nil {
		rlmm = corruptcase.Run(t, rlmmSubject(h), trials)
	}
	if h.OpenRSM != nil {
		rsm = corruptcase.Run(t, rsmSubject(h), trials)
	}
	return rlmm, rsm
}
