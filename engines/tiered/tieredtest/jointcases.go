package tieredtest

import (
	"fmt"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

var jointCases = []Case{
	{"tiered/finished-survives-power-loss", testFinishedSurvives},
}

// testFinishedSurvives follows the broker's copy protocol (add the segment,
// copy it, record it finished) on one disk, cuts the power, and checks that
// every segment recorded as finished is found and fetched intact.
func testFinishedSurvives(t testing.TB, h Harness) {
	if h.OpenRSM == nil || h.OpenRLMM == nil {
		t.Skip("the harness lacks a storage manager or a metadata manager")
	}
	for round, pct := range []int{0, 50} {
		r := newRSM(t, h, nil)
		l := newRLMM(t, h, nil)
		if !r.durable() || !l.durable() {
			t.Skip("the managers do not sync every change through Options.FS")
		}
		// Both run on the same disk.
		l.crashTo(r.d)
		g := newIDs(uint64(70 + round))
		type copied struct {
			m tiered.RemoteLogSegmentMetadata
			c content
		}
		var done []copied
		for i := range 6 {
			m := seg(tpA, g.next(), int64(i*100), int64(i*100+99), 0, int64(i*100))
			c := makeContent(uint64(round*10+i), 3000+i*2000, i%2 == 0)
			l.add(m)
			r.copy(m, c)
			l.update(m, tiered.CopySegmentFinished)
			done = append(done, copied{m, c})
		}
		d := r.d.crash(uint64(round+1), pct)
		r.crashTo(d)
		l.crashTo(d)
		when := fmt.Sprintf("round %d (%d%% of unsynced data kept)", round, pct)
		for _, x := range done {
			found, ok, err := l.m.RemoteLogSegmentMetadata(tpA, 0, x.m.StartOffset)
			if err != nil || !ok || found.ID != x.m.ID {
				t.Fatalf("%s: finished segment %s not found: %v, %v", when, x.m.ID, ok, err)
			}
			r.wantContent(when+": finished segment", x.m, x.c)
		}
	}
}
