package tieredtest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

var rlmmCases = []Case{
	{"rlmm/segment-transitions", testSegmentTransitions},
	{"rlmm/partition-delete-transitions", testPartitionDeleteTransitions},
	{"rlmm/add-and-update-arguments", testAddUpdateArguments},
	{"rlmm/visibility", testVisibility},
	{"rlmm/epoch-boundaries", testEpochBoundaries},
	{"rlmm/unknown-epoch", testUnknownEpoch},
	{"rlmm/past-epoch-end", testPastEpochEnd},
	{"rlmm/overlapping-segments", testOverlapping},
	{"rlmm/highest-offset-after-delete", testHighestAfterDelete},
	{"rlmm/lists-and-size", testListsAndSize},
	{"rlmm/idempotent-retries", testIdempotentRetries},
	{"rlmm/partition-delete", testPartitionDelete},
	{"rlmm/assignment", testAssignment},
	{"rlmm/validation", testValidation},
	{"rlmm/ownership", testOwnership},
	{"rlmm/concurrency", testConcurrency},
	{"rlmm/closed", testRLMMClosed},
	{"rlmm/reopen", testRLMMReopen},
	{"rlmm/power-loss", testRLMMPowerLoss},
	{"rlmm/sync-failure", testRLMMSyncFailure},
	{"rlmm/crash-at-each-sync", testRLMMCrashAtEachSync},
	{"rlmm/corruption", testRLMMCorruption},
}

// segmentTransitions is Kafka's isValidTransition written out: from the
// state on the left, the states a segment may move to.
var segmentTransitions = map[tiered.RemoteLogSegmentState][]tiered.RemoteLogSegmentState{
	tiered.StateNone:             {tiered.CopySegmentStarted},
	tiered.CopySegmentStarted:    {tiered.CopySegmentStarted, tiered.CopySegmentFinished, tiered.DeleteSegmentStarted},
	tiered.CopySegmentFinished:   {tiered.CopySegmentFinished, tiered.DeleteSegmentStarted},
	tiered.DeleteSegmentStarted:  {tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished},
	tiered.DeleteSegmentFinished: {tiered.DeleteSegmentFinished},
}

// pathTo lists the states a new segment goes through to reach s.
func pathTo(s tiered.RemoteLogSegmentState) []tiered.RemoteLogSegmentState {
	switch s {
	case tiered.CopySegmentStarted:
		return []tiered.RemoteLogSegmentState{tiered.CopySegmentStarted}
	case tiered.CopySegmentFinished:
		return []tiered.RemoteLogSegmentState{tiered.CopySegmentStarted, tiered.CopySegmentFinished}
	case tiered.DeleteSegmentStarted:
		return []tiered.RemoteLogSegmentState{tiered.CopySegmentStarted, tiered.CopySegmentFinished, tiered.DeleteSegmentStarted}
	case tiered.DeleteSegmentFinished:
		return []tiered.RemoteLogSegmentState{tiered.CopySegmentStarted, tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished}
	}
	return nil
}

// move drives s to state to: by an add for CopySegmentStarted, else by an
// update.
func (e *rlmmEnv) move(s tiered.RemoteLogSegmentMetadata, to tiered.RemoteLogSegmentState) error {
	if to == tiered.CopySegmentStarted {
		return e.m.AddRemoteLogSegmentMetadata(s)
	}
	return e.m.UpdateRemoteLogSegmentMetadata(upd(s, to))
}

func testSegmentTransitions(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(1)
	from := append([]tiered.RemoteLogSegmentState{tiered.StateNone}, tiered.SegmentStates()...)
	off := int64(0)
	for _, f := range from {
		for _, to := range tiered.SegmentStates() {
			name := fmt.Sprintf("%s -> %s", f, to)
			s := seg(tpA, g.next(), off, off+9, 0, off)
			off += 10
			for _, st := range pathTo(f) {
				wantOK(t, name+": reach "+st.String(), e.move(s, st))
			}
			valid := slices.Contains(segmentTransitions[f], to)
			err := e.move(s, to)
			switch {
			case valid && err != nil:
				t.Fatalf("%s: valid transition refused: %v", name, err)
			case !valid && f == tiered.StateNone:
				wantErr(t, name+": update of an unknown segment", err, tiered.ErrRemoteResourceNotFound)
			case !valid:
				wantErr(t, name, err, tiered.ErrInvalidTransition)
			}
			want := to
			if !valid {
				want = f
			}
			listed := want
			if want == tiered.DeleteSegmentFinished {
				listed = tiered.StateNone
			}
			if got := e.stateOf(s); got != listed {
				t.Fatalf("%s: segment listed in state %s, want %s", name, got, listed)
			}
			_, err = e.m.ListRemoteLogSegmentsForEpoch(tpA, 0)
			wantOK(t, name+": list epoch", err)
			found := e.lookup(tpA, 0, s.StartOffset) == s.ID.ID
			if found != (want == tiered.CopySegmentFinished) {
				t.Fatalf("%s: lookup found the segment: %v, state %s", name, found, want)
			}
		}
	}
}

var partitionTransitions = map[tiered.RemotePartitionDeleteState][]tiered.RemotePartitionDeleteState{
	tiered.PartitionDeleteNone:     {tiered.DeletePartitionMarked},
	tiered.DeletePartitionMarked:   {tiered.DeletePartitionMarked, tiered.DeletePartitionStarted},
	tiered.DeletePartitionStarted:  {tiered.DeletePartitionStarted, tiered.DeletePartitionFinished},
	tiered.DeletePartitionFinished: {tiered.DeletePartitionFinished},
}

func testPartitionDeleteTransitions(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	from := append([]tiered.RemotePartitionDeleteState{tiered.PartitionDeleteNone}, tiered.PartitionDeleteStates()...)
	n := int32(100)
	for _, f := range from {
		for _, to := range tiered.PartitionDeleteStates() {
			name := fmt.Sprintf("partition %s -> %s", f, to)
			tp := tiered.TopicIDPartition{TopicID: tiered.UUID{9}, Topic: "gone", Partition: n}
			n++
			wantOK(t, "assign", e.m.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{tp}, nil))
			for _, st := range tiered.PartitionDeleteStates() {
				if st > f {
					break
				}
				wantOK(t, name+": reach "+st.String(), e.m.PutRemotePartitionDeleteMetadata(pdel(tp, st)))
			}
			valid := slices.Contains(partitionTransitions[f], to)
			err := e.m.PutRemotePartitionDeleteMetadata(pdel(tp, to))
			if valid && err != nil {
				t.Fatalf("%s: valid transition refused: %v", name, err)
			}
			if !valid {
				wantErr(t, name, err, tiered.ErrInvalidTransition)
			}
			now := to
			if !valid {
				now = f
			}
			_, err = e.m.ListRemoteLogSegments(tp)
			if now == tiered.DeletePartitionFinished {
				wantErr(t, name+": list after the deletion finished", err, tiered.ErrPartitionDeleted)
			} else {
				wantOK(t, name+": list", err)
			}
		}
	}
}

func pdel(tp tiered.TopicIDPartition, s tiered.RemotePartitionDeleteState) tiered.RemotePartitionDeleteMetadata {
	return tiered.RemotePartitionDeleteMetadata{TopicIDPartition: tp, State: s, EventTimestampMs: 1_700_000_000_000 + int64(s), BrokerID: 3}
}

func testAddUpdateArguments(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(2)
	s := seg(tpA, g.next(), 0, 9, 0, 0)
	for _, st := range []tiered.RemoteLogSegmentState{tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished} {
		bad := s.Clone()
		bad.State = st
		wantErr(t, "add in state "+st.String(), e.m.AddRemoteLogSegmentMetadata(bad), tiered.ErrInvalidArgument)
	}
	if got := e.stateOf(s); got != tiered.StateNone {
		t.Fatalf("refused adds recorded the segment in state %s", got)
	}
	e.add(s)
	wantErr(t, "update to COPY_SEGMENT_STARTED", e.m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.CopySegmentStarted)), tiered.ErrInvalidArgument)
	wantErr(t, "update to an unknown state", e.m.UpdateRemoteLogSegmentMetadata(upd(s, 9)), tiered.ErrInvalidArgument)
	wantErr(t, "update to NONE", e.m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.StateNone)), tiered.ErrInvalidArgument)
	// The update carries the broker, event time and custom metadata.
	u := upd(s, tiered.CopySegmentFinished)
	u.CustomMetadata = tiered.CustomMetadata("bucket=a")
	wantOK(t, "finish", e.m.UpdateRemoteLogSegmentMetadata(u))
	got := e.list(tpA)
	if len(got) != 1 || got[0].BrokerID != 2 || got[0].EventTimestampMs != u.EventTimestampMs || string(got[0].CustomMetadata) != "bucket=a" {
		t.Fatalf("after the update: %+v", got)
	}
	e.update(s, tiered.DeleteSegmentStarted) // nil custom metadata keeps it
	if got := e.list(tpA); len(got) != 1 || string(got[0].CustomMetadata) != "bucket=a" {
		t.Fatalf("an update without custom metadata changed it: %+v", got)
	}
}

func testVisibility(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(3)
	s := seg(tpA, g.next(), 0, 99, 0, 0)
	e.add(s)
	if id := e.lookup(tpA, 0, 50); !id.IsZero() {
		t.Fatalf("a segment being copied is visible to lookups")
	}
	if _, ok := e.highest(tpA, 0); ok {
		t.Fatalf("a segment being copied counts for the highest offset")
	}
	if l, _ := e.m.ListRemoteLogSegmentsForEpoch(tpA, 0); len(l) != 1 {
		t.Fatalf("a segment being copied is not listed for its epoch: %d listed", len(l))
	}
	e.update(s, tiered.CopySegmentFinished)
	for _, o := range []int64{0, 50, 99} {
		if e.lookup(tpA, 0, o) != s.ID.ID {
			t.Fatalf("finished segment not found at offset %d", o)
		}
	}
	if o, ok := e.highest(tpA, 0); !ok || o != 99 {
		t.Fatalf("highest offset %d, %v, want 99", o, ok)
	}
	e.update(s, tiered.DeleteSegmentStarted)
	if id := e.lookup(tpA, 0, 50); !id.IsZero() {
		t.Fatalf("a segment being deleted is visible to lookups")
	}
	if l := e.list(tpA); len(l) != 1 || l[0].State != tiered.DeleteSegmentStarted {
		t.Fatalf("a segment being deleted is not listed: %+v", l)
	}
	e.update(s, tiered.DeleteSegmentFinished)
	if l := e.list(tpA); len(l) != 0 {
		t.Fatalf("a deleted segment is listed: %+v", l)
	}
	if l, _ := e.m.ListRemoteLogSegmentsForEpoch(tpA, 0); len(l) != 0 {
		t.Fatalf("a deleted segment is listed for its epoch")
	}
	// Another partition sees nothing of tpA.
	if l := e.list(tpB); len(l) != 0 {
		t.Fatalf("partition %s lists %d segments of another partition", tpB, len(l))
	}
}

func testEpochBoundaries(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(4)
	s1 := seg(tpA, g.next(), 0, 99, 0, 0, 1, 40, 2, 70)
	s2 := seg(tpA, g.next(), 100, 199, 2, 100, 3, 150)
	e.finished(s1)
	e.finished(s2)
	cases := []struct {
		epoch  int32
		offset int64
		want   tiered.UUID
	}{
		{0, 0, s1.ID.ID}, {0, 39, s1.ID.ID}, {0, 40, tiered.UUID{}},
		{1, 39, tiered.UUID{}}, {1, 40, s1.ID.ID}, {1, 69, s1.ID.ID}, {1, 70, tiered.UUID{}},
		{2, 69, tiered.UUID{}}, {2, 70, s1.ID.ID}, {2, 99, s1.ID.ID}, {2, 100, s2.ID.ID}, {2, 149, s2.ID.ID}, {2, 150, tiered.UUID{}},
		{3, 149, tiered.UUID{}}, {3, 150, s2.ID.ID}, {3, 199, s2.ID.ID}, {3, 200, tiered.UUID{}},
	}
	for _, c := range cases {
		if got := e.lookup(tpA, c.epoch, c.offset); got != c.want {
			t.Fatalf("lookup epoch %d offset %d: got segment %s, want %s", c.epoch, c.offset, got, c.want)
		}
	}
	for epoch, want := range map[int32]int64{0: 39, 1: 69, 2: 149, 3: 199} {
		if o, ok := e.highest(tpA, epoch); !ok || o != want {
			t.Fatalf("highest offset of epoch %d: %d, %v, want %d", epoch, o, ok, want)
		}
	}
}

func testUnknownEpoch(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(5)
	e.finished(seg(tpA, g.next(), 0, 99, 0, 0))
	if id := e.lookup(tpA, 7, 10); !id.IsZero() {
		t.Fatalf("lookup in an unknown epoch found %s", id)
	}
	if _, ok := e.highest(tpA, 7); ok {
		t.Fatalf("an unknown epoch has a highest offset")
	}
	l, err := e.m.ListRemoteLogSegmentsForEpoch(tpA, 7)
	wantOK(t, "list unknown epoch", err)
	if len(l) != 0 {
		t.Fatalf("unknown epoch lists %d segments", len(l))
	}
	n, err := e.m.RemoteLogSize(tpA, 7)
	if err != nil || n != 0 {
		t.Fatalf("size of an unknown epoch: %d, %v", n, err)
	}
}

func testPastEpochEnd(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(6)
	s1 := seg(tpA, g.next(), 0, 99, 0, 0)
	s3 := seg(tpA, g.next(), 200, 299, 0, 200)
	e.finished(s1)
	e.finished(s3)
	for _, c := range []struct {
		offset int64
		want   tiered.UUID
	}{{99, s1.ID.ID}, {100, tiered.UUID{}}, {150, tiered.UUID{}}, {199, tiered.UUID{}}, {200, s3.ID.ID}, {299, s3.ID.ID}, {300, tiered.UUID{}}, {1 << 40, tiered.UUID{}}} {
		if got := e.lookup(tpA, 0, c.offset); got != c.want {
			t.Fatalf("offset %d: got %s, want %s", c.offset, got, c.want)
		}
	}
}

func testOverlapping(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(7)
	// A new leader re-uploads a superset of what the old one uploaded.
	old := seg(tpA, g.next(), 0, 100, 0, 0)
	e.finished(old)
	sup := seg(tpA, g.next(), 0, 200, 0, 0)
	e.finished(sup)
	for _, o := range []int64{0, 50, 100, 200} {
		if got := e.lookup(tpA, 0, o); got != sup.ID.ID {
			t.Fatalf("duplicate segments: offset %d resolves to %s, want the superseding %s", o, got, sup.ID.ID)
		}
	}
	if l, _ := e.m.ListRemoteLogSegmentsForEpoch(tpA, 0); len(l) != 2 {
		t.Fatalf("the superseded segment is not listed for its epoch: %d listed", len(l))
	}

	// Overlapping: S0 10-90 by the old leader, then S1 5-100 and S2 101-200.
	s0 := seg(tpB, g.next(), 10, 90, 1, 10)
	s1 := seg(tpB, g.next(), 5, 100, 1, 5)
	s2 := seg(tpB, g.next(), 101, 200, 1, 101)
	e.finished(s0)
	e.finished(s1)
	e.finished(s2)
	for _, c := range []struct {
		o    int64
		want tiered.UUID
	}{{5, s1.ID.ID}, {10, s1.ID.ID}, {50, s1.ID.ID}, {95, s1.ID.ID}, {150, s2.ID.ID}} {
		if got := e.lookup(tpB, 1, c.o); got != c.want {
			t.Fatalf("overlapping segments: offset %d resolves to %s, want %s", c.o, got, c.want)
		}
	}
	// A late copy from an old leader that ends below what the epoch holds
	// does not shadow the segments that cover it.
	late := seg(tpB, g.next(), 50, 80, 1, 50)
	e.finished(late)
	for _, c := range []struct {
		o    int64
		want tiered.UUID
	}{{60, s1.ID.ID}, {90, s1.ID.ID}, {150, s2.ID.ID}} {
		if got := e.lookup(tpB, 1, c.o); got != c.want {
			t.Fatalf("after a late copy: offset %d resolves to %s, want %s", c.o, got, c.want)
		}
	}
	if o, ok := e.highest(tpB, 1); !ok || o != 200 {
		t.Fatalf("highest offset after a late copy: %d, %v, want 200", o, ok)
	}
}

func testHighestAfterDelete(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(8)
	s1 := seg(tpA, g.next(), 0, 100, 0, 0)
	s2 := seg(tpA, g.next(), 101, 200, 0, 101)
	e.finished(s1)
	e.finished(s2)
	e.update(s2, tiered.DeleteSegmentStarted)
	if o, ok := e.highest(tpA, 0); !ok || o != 200 {
		t.Fatalf("highest offset after the last segment's deletion started: %d, %v, want 200", o, ok)
	}
	if id := e.lookup(tpA, 0, 150); !id.IsZero() {
		t.Fatalf("a segment being deleted is found")
	}
	e.update(s2, tiered.DeleteSegmentFinished)
	if o, ok := e.highest(tpA, 0); !ok || o != 200 {
		t.Fatalf("highest offset after the last segment was deleted: %d, %v, want 200", o, ok)
	}
	e.update(s1, tiered.DeleteSegmentStarted)
	e.update(s1, tiered.DeleteSegmentFinished)
	if o, ok := e.highest(tpA, 0); ok {
		t.Fatalf("an epoch whose segments are all deleted still has highest offset %d", o)
	}
}

func testListsAndSize(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(9)
	s3 := seg(tpA, g.next(), 200, 299, 1, 200, 2, 250)
	s1 := seg(tpA, g.next(), 0, 99, 0, 0)
	s2 := seg(tpA, g.next(), 100, 199, 0, 100, 1, 150)
	e.add(s3)
	e.finished(s1)
	e.finished(s2)
	starts := func(l []tiered.RemoteLogSegmentMetadata) []int64 {
		var out []int64
		for _, m := range l {
			out = append(out, m.StartOffset)
		}
		return out
	}
	if got := starts(e.list(tpA)); !slices.Equal(got, []int64{0, 100, 200}) {
		t.Fatalf("list: start offsets %v, want [0 100 200]", got)
	}
	for epoch, want := range map[int32][]int64{0: {0, 100}, 1: {100, 200}, 2: {200}} {
		l, err := e.m.ListRemoteLogSegmentsForEpoch(tpA, epoch)
		wantOK(t, "list epoch", err)
		if got := starts(l); !slices.Equal(got, want) {
			t.Fatalf("list epoch %d: start offsets %v, want %v", epoch, got, want)
		}
		var size int64
		for _, m := range l {
			size += m.SegmentSizeInBytes
		}
		n, err := e.m.RemoteLogSize(tpA, epoch)
		if err != nil || n != size {
			t.Fatalf("size of epoch %d: %d, %v, want %d", epoch, n, err, size)
		}
	}
}

func testIdempotentRetries(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(10)
	s := seg(tpA, g.next(), 0, 99, 0, 0)
	e.add(s)
	retry := s.Clone()
	retry.EventTimestampMs += 5
	e.add(retry) // a retried add replaces the metadata
	if l := e.list(tpA); len(l) != 1 || l[0].EventTimestampMs != retry.EventTimestampMs {
		t.Fatalf("after a retried add: %+v", l)
	}
	e.update(s, tiered.CopySegmentFinished)
	e.update(s, tiered.CopySegmentFinished)
	if e.lookup(tpA, 0, 5) != s.ID.ID {
		t.Fatalf("segment lost by a repeated finish")
	}
	e.update(s, tiered.DeleteSegmentStarted)
	e.update(s, tiered.DeleteSegmentStarted)
	e.update(s, tiered.DeleteSegmentFinished)
	e.update(s, tiered.DeleteSegmentFinished)
	wantErr(t, "add of a deleted segment", e.m.AddRemoteLogSegmentMetadata(s), tiered.ErrInvalidTransition)
	wantErr(t, "finish of a deleted segment", e.m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.CopySegmentFinished)), tiered.ErrInvalidTransition)
	if l := e.list(tpA); len(l) != 0 {
		t.Fatalf("a deleted segment came back: %+v", l)
	}
}

func testPartitionDelete(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(11)
	s := seg(tpA, g.next(), 0, 99, 0, 0)
	e.finished(s)
	other := seg(tpB, g.next(), 0, 9, 0, 0)
	e.finished(other)
	wantOK(t, "mark", e.m.PutRemotePartitionDeleteMetadata(pdel(tpA, tiered.DeletePartitionMarked)))
	wantErr(t, "add after the partition is marked", e.m.AddRemoteLogSegmentMetadata(seg(tpA, g.next(), 100, 199, 0, 100)), tiered.ErrPartitionDeleted)
	if e.lookup(tpA, 0, 5) != s.ID.ID {
		t.Fatalf("segments of a marked partition are no longer found")
	}
	wantOK(t, "start", e.m.PutRemotePartitionDeleteMetadata(pdel(tpA, tiered.DeletePartitionStarted)))
	e.update(s, tiered.DeleteSegmentStarted)
	e.update(s, tiered.DeleteSegmentFinished)
	wantOK(t, "finish", e.m.PutRemotePartitionDeleteMetadata(pdel(tpA, tiered.DeletePartitionFinished)))
	_, _, err := e.m.RemoteLogSegmentMetadata(tpA, 0, 5)
	wantErr(t, "lookup after the deletion", err, tiered.ErrPartitionDeleted)
	_, _, err = e.m.HighestOffsetForEpoch(tpA, 0)
	wantErr(t, "highest offset after the deletion", err, tiered.ErrPartitionDeleted)
	_, err = e.m.ListRemoteLogSegments(tpA)
	wantErr(t, "list after the deletion", err, tiered.ErrPartitionDeleted)
	_, err = e.m.ListRemoteLogSegmentsForEpoch(tpA, 0)
	wantErr(t, "list epoch after the deletion", err, tiered.ErrPartitionDeleted)
	_, err = e.m.RemoteLogSize(tpA, 0)
	wantErr(t, "size after the deletion", err, tiered.ErrPartitionDeleted)
	wantErr(t, "add after the deletion", e.m.AddRemoteLogSegmentMetadata(seg(tpA, g.next(), 0, 9, 0, 0)), tiered.ErrPartitionDeleted)
	wantErr(t, "update after the deletion", e.m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.DeleteSegmentFinished)), tiered.ErrPartitionDeleted)
	wantOK(t, "finish again", e.m.PutRemotePartitionDeleteMetadata(pdel(tpA, tiered.DeletePartitionFinished)))
	if e.lookup(tpB, 0, 5) != other.ID.ID {
		t.Fatalf("deleting %s lost a segment of %s", tpA, tpB)
	}
}

func testAssignment(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(12)
	s := seg(tpA, g.next(), 0, 99, 0, 0)
	e.finished(s)
	tpC := tiered.TopicIDPartition{TopicID: tiered.UUID{7}, Topic: "new", Partition: 0}
	wantErr(t, "add to an unassigned partition", e.m.AddRemoteLogSegmentMetadata(seg(tpC, g.next(), 0, 9, 0, 0)), tiered.ErrPartitionNotAssigned)
	_, err := e.m.ListRemoteLogSegments(tpC)
	wantErr(t, "list an unassigned partition", err, tiered.ErrPartitionNotAssigned)
	wantOK(t, "stop", e.m.OnStopPartitions([]tiered.TopicIDPartition{tpA}))
	_, _, err = e.m.RemoteLogSegmentMetadata(tpA, 0, 5)
	wantErr(t, "lookup in a stopped partition", err, tiered.ErrPartitionNotAssigned)
	wantErr(t, "update in a stopped partition", e.m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.DeleteSegmentStarted)), tiered.ErrPartitionNotAssigned)
	wantOK(t, "assign again as follower", e.m.OnPartitionLeadershipChanges(nil, []tiered.TopicIDPartition{tpA}))
	if e.lookup(tpA, 0, 5) != s.ID.ID {
		t.Fatalf("metadata of a stopped partition lost")
	}
	if e.stateOf(s) != tiered.CopySegmentFinished {
		t.Fatalf("an update refused for a stopped partition was applied")
	}
}

func testValidation(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(13)
	good := seg(tpA, g.next(), 100, 199, 0, 100, 1, 150)
	bad := map[string]func(*tiered.RemoteLogSegmentMetadata){
		"no epochs":               func(m *tiered.RemoteLogSegmentMetadata) { m.SegmentLeaderEpochs = nil },
		"end before start":        func(m *tiered.RemoteLogSegmentMetadata) { m.EndOffset = 99 },
		"negative start":          func(m *tiered.RemoteLogSegmentMetadata) { m.StartOffset = -1 },
		"negative size":           func(m *tiered.RemoteLogSegmentMetadata) { m.SegmentSizeInBytes = -1 },
		"first epoch after start": func(m *tiered.RemoteLogSegmentMetadata) { m.SegmentLeaderEpochs[0] = 101 },
		"epoch past the end":      func(m *tiered.RemoteLogSegmentMetadata) { m.SegmentLeaderEpochs[1] = 200 },
		"epoch offsets not rising": func(m *tiered.RemoteLogSegmentMetadata) {
			m.SegmentLeaderEpochs[0], m.SegmentLeaderEpochs[1] = 150, 100
		},
		"negative epoch": func(m *tiered.RemoteLogSegmentMetadata) {
			m.SegmentLeaderEpochs[-1] = 100
			delete(m.SegmentLeaderEpochs, 0)
		},
		"zero segment id":           func(m *tiered.RemoteLogSegmentMetadata) { m.ID.ID = tiered.UUID{} },
		"zero topic id":             func(m *tiered.RemoteLogSegmentMetadata) { m.ID.TopicIDPartition.TopicID = tiered.UUID{} },
		"bad topic name":            func(m *tiered.RemoteLogSegmentMetadata) { m.ID.TopicIDPartition.Topic = "a/b" },
		"negative partition number": func(m *tiered.RemoteLogSegmentMetadata) { m.ID.TopicIDPartition.Partition = -1 },
	}
	for name, f := range bad {
		m := good.Clone()
		f(&m)
		wantErr(t, name, e.m.AddRemoteLogSegmentMetadata(m), tiered.ErrInvalidArgument)
	}
	e.add(good)
	_, _, err := e.m.RemoteLogSegmentMetadata(tpA, 0, -1)
	wantErr(t, "lookup of a negative offset", err, tiered.ErrInvalidArgument)
	_, _, err = e.m.RemoteLogSegmentMetadata(tpA, -1, 5)
	wantErr(t, "lookup in a negative epoch", err, tiered.ErrInvalidArgument)
	_, _, err = e.m.HighestOffsetForEpoch(tpA, -1)
	wantErr(t, "highest offset of a negative epoch", err, tiered.ErrInvalidArgument)
	if l := e.list(tpA); len(l) != 1 {
		t.Fatalf("refused adds left %d segments", len(l))
	}
}

func testOwnership(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(14)
	s := seg(tpA, g.next(), 0, 99, 0, 0, 1, 50)
	s.CustomMetadata = tiered.CustomMetadata("abc")
	in := s.Clone()
	e.add(in)
	in.SegmentLeaderEpochs[1] = 60
	in.CustomMetadata[0] = 'x'
	e.update(s, tiered.CopySegmentFinished)
	got, ok, err := e.m.RemoteLogSegmentMetadata(tpA, 1, 55)
	if err != nil || !ok {
		t.Fatalf("lookup: %v, %v (the manager kept the caller's map?)", ok, err)
	}
	if string(got.CustomMetadata) != "abc" || got.SegmentLeaderEpochs[1] != 50 {
		t.Fatalf("the manager kept the caller's slices: %+v", got)
	}
	got.SegmentLeaderEpochs[1] = 70
	got.CustomMetadata[0] = 'y'
	again := e.list(tpA)
	if again[0].SegmentLeaderEpochs[1] != 50 || string(again[0].CustomMetadata) != "abc" {
		t.Fatalf("metadata returned to the caller is shared with the manager: %+v", again[0])
	}
}

func testConcurrency(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	const workers, per = 4, 20
	tps := make([]tiered.TopicIDPartition, workers)
	for w := range tps {
		tps[w] = tiered.TopicIDPartition{TopicID: tiered.UUID{0xc, byte(w + 1)}, Topic: "conc", Partition: int32(w)}
	}
	wantOK(t, "assign", e.m.OnPartitionLeadershipChanges(tps, nil))
	var wg sync.WaitGroup
	errs := make(chan error, workers*2)
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			g := newIDs(uint64(100 + w))
			for i := range per {
				s := seg(tps[w], g.next(), int64(i*10), int64(i*10+9), 0, int64(i*10))
				if err := e.m.AddRemoteLogSegmentMetadata(s); err != nil {
					errs <- err
					return
				}
				if err := e.m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.CopySegmentFinished)); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range per {
				m, ok, err := e.m.RemoteLogSegmentMetadata(tps[w], 0, int64(i*10))
				if err != nil {
					errs <- err
					return
				}
				if ok && (m.State != tiered.CopySegmentFinished || m.StartOffset != int64(i*10)) {
					errs <- fmt.Errorf("lookup of offset %d returned %+v", i*10, m)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent calls: %v", err)
	}
	for _, tp := range tps {
		if o, ok := e.highest(tp, 0); !ok || o != per*10-1 {
			t.Fatalf("%s: highest offset %d, %v", tp, o, ok)
		}
		if l := e.list(tp); len(l) != per {
			t.Fatalf("%s: %d segments listed, want %d", tp, len(l), per)
		}
	}
}

func testRLMMClosed(t testing.TB, h Harness) {
	e := newRLMM(t, h, nil)
	g := newIDs(15)
	s := seg(tpA, g.next(), 0, 9, 0, 0)
	e.add(s)
	wantOK(t, "close", e.m.Close())
	m := e.m
	e.m = nil
	wantErr(t, "add", m.AddRemoteLogSegmentMetadata(seg(tpA, g.next(), 10, 19, 0, 10)), tiered.ErrClosed)
	wantErr(t, "update", m.UpdateRemoteLogSegmentMetadata(upd(s, tiered.CopySegmentFinished)), tiered.ErrClosed)
	_, _, err := m.RemoteLogSegmentMetadata(tpA, 0, 0)
	wantErr(t, "lookup", err, tiered.ErrClosed)
	_, err = m.ListRemoteLogSegments(tpA)
	wantErr(t, "list", err, tiered.ErrClosed)
	wantErr(t, "put partition delete", m.PutRemotePartitionDeleteMetadata(pdel(tpA, tiered.DeletePartitionMarked)), tiered.ErrClosed)
	wantErr(t, "assign", m.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{tpA}, nil), tiered.ErrClosed)
	wantErr(t, "second close", m.Close(), tiered.ErrClosed)
}
