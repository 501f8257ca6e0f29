package tiered_test

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/memory"
)

// A segment becomes visible to lookups once its copy finished.
func Example() {
	m, err := tiered.OpenRLMM("memory", tiered.Options{})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	tp := tiered.TopicIDPartition{TopicID: tiered.UUID{1}, Topic: "orders", Partition: 0}
	if err := m.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{tp}, nil); err != nil {
		panic(err)
	}
	seg := tiered.RemoteLogSegmentMetadata{
		ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: tiered.UUID{2}},
		StartOffset:         0,
		EndOffset:           999,
		State:               tiered.CopySegmentStarted,
		SegmentLeaderEpochs: map[int32]int64{0: 0, 1: 600},
	}
	if err := m.AddRemoteLogSegmentMetadata(seg); err != nil {
		panic(err)
	}
	_, ok, _ := m.RemoteLogSegmentMetadata(tp, 1, 700)
	fmt.Println("visible while copying:", ok)
	err = m.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{ID: seg.ID, State: tiered.CopySegmentFinished})
	if err != nil {
		panic(err)
	}
	_, ok, _ = m.RemoteLogSegmentMetadata(tp, 1, 700)
	fmt.Println("visible when finished:", ok)
	_, ok, _ = m.RemoteLogSegmentMetadata(tp, 0, 700)
	fmt.Println("offset 700 in epoch 0:", ok)
	high, _, _ := m.HighestOffsetForEpoch(tp, 0)
	fmt.Println("highest offset of epoch 0:", high)
	err = m.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{ID: seg.ID, State: tiered.CopySegmentStarted})
	fmt.Println(err)
	// Output:
	// visible while copying: false
	// visible when finished: true
	// offset 700 in epoch 0: false
	// highest offset of epoch 0: 599
	// tiered: invalid argument: update of segment orders-0:AQAAAAAAAAAAAAAAAAAAAA/AgAAAAAAAAAAAAAAAAAAAA to state COPY_SEGMENT_STARTED
}
