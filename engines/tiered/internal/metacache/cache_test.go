package metacache

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

var tps = []tiered.TopicIDPartition{
	{TopicID: tiered.UUID{1}, Topic: "a", Partition: 0},
	{TopicID: tiered.UUID{2}, Topic: "b", Partition: 1},
}

// randomCache drives a cache through seeded random changes, valid or not,
// including overlapping segments and partition deletions, and returns it
// with the segments it tried.
func randomCache(seed uint64, n int) (*Cache, []tiered.RemoteLogSegmentMetadata) {
	r := rand.New(rand.NewPCG(seed, 1))
	c := New()
	var segs []tiered.RemoteLogSegmentMetadata
	for i := range n {
		switch x := r.IntN(20); {
		case x < 8 || len(segs) == 0:
			tp := tps[r.IntN(len(tps))]
			start := int64(r.IntN(50)) * 10
			end := start + int64(1+r.IntN(40))
			eps := map[int32]int64{int32(start / 100): start}
			if mid := start + 1 + int64(r.IntN(int(end-start))); mid <= end && r.IntN(2) == 0 {
				eps[int32(start/100)+1] = mid
			}
			s := tiered.RemoteLogSegmentMetadata{
				ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: tiered.UUID{9, byte(i), byte(i >> 8)}},
				StartOffset:         start,
				EndOffset:           end,
				State:               tiered.CopySegmentStarted,
				SegmentSizeInBytes:  end - start,
				SegmentLeaderEpochs: eps,
			}
			if c.CheckAdd(s) == nil {
				c.ApplyAdd(s)
				segs = append(segs, s)
			}
		case x < 19:
			s := segs[r.IntN(len(segs))]
			u := tiered.RemoteLogSegmentMetadataUpdate{ID: s.ID, State: tiered.SegmentStates()[1+r.IntN(3)], EventTimestampMs: int64(i)}
			if c.CheckUpdate(u) == nil {
				c.ApplyUpdate(u)
			}
		default:
			d := tiered.RemotePartitionDeleteMetadata{TopicIDPartition: tps[r.IntN(len(tps))], State: tiered.PartitionDeleteStates()[r.IntN(3)]}
			if c.CheckPartitionDelete(d) == nil {
				c.ApplyPartitionDelete(d)
			}
		}
	}
	return c, segs
}

// answers collects what every query returns from c.
func answers(c *Cache, segs []tiered.RemoteLogSegmentMetadata) []string {
	var out []string
	for _, tp := range tps {
		out = append(out, fmt.Sprint(c.Deleted(tp), c.List(tp)))
		for e := int32(0); e < 7; e++ {
			o, ok := c.Highest(tp, e)
			out = append(out, fmt.Sprint(e, o, ok, c.ListEpoch(tp, e)))
			for off := int64(0); off < 560; off += 7 {
				m, ok := c.Lookup(tp, e, off)
				out = append(out, fmt.Sprint(off, m.ID.ID, ok))
			}
		}
	}
	for _, s := range segs {
		out = append(out, fmt.Sprint(c.CheckAdd(s) == nil))
	}
	return out
}

func TestSnapshotRebuildsTheCache(t *testing.T) {
	for seed := range uint64(30) {
		c, segs := randomCache(seed, 300)
		d := New()
		err := c.Snapshot(func(r Record) error { return d.Replay(r) })
		if err != nil {
			t.Fatalf("seed %d: replay of a snapshot: %v", seed, err)
		}
		if a, b := answers(c, segs), answers(d, segs); !reflect.DeepEqual(a, b) {
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("seed %d: rebuilt cache answers %q, the original %q", seed, b[i], a[i])
				}
			}
			t.Fatalf("seed %d: rebuilt cache differs", seed)
		}
	}
}

// TestLookupInvariants checks, over random histories, that lookups return
// only finished segments that hold the offset in the epoch.
func TestLookupInvariants(t *testing.T) {
	for seed := range uint64(30) {
		c, _ := randomCache(seed, 300)
		for _, tp := range tps {
			for e := int32(0); e < 7; e++ {
				for off := int64(0); off < 560; off++ {
					m, ok := c.Lookup(tp, e, off)
					if !ok {
						continue
					}
					s, x, in := m.EpochRange(e)
					if m.State != tiered.CopySegmentFinished || !in || off < s || off > x {
						t.Fatalf("seed %d: lookup (%d, %d) returned %+v", seed, e, off, m)
					}
				}
			}
		}
	}
}

func TestReplayRefusesInvalidChanges(t *testing.T) {
	c := New()
	u := tiered.RemoteLogSegmentMetadataUpdate{ID: tiered.RemoteLogSegmentID{TopicIDPartition: tps[0], ID: tiered.UUID{1}}, State: tiered.CopySegmentFinished}
	if err := c.Replay(Record{Kind: KindUpdate, Update: u}); !errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("replay of an update of an unknown segment: %v", err)
	}
	if err := c.Replay(Record{Kind: KindEpoch, Partition: tps[0], Refs: []Ref{{ID: tiered.UUID{3}}}}); !errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("replay of an epoch naming an unknown segment: %v", err)
	}
	if err := c.Replay(Record{Kind: 99}); !errors.Is(err, tiered.ErrCorrupt) {
		t.Fatalf("replay of an unknown kind: %v", err)
	}
}
