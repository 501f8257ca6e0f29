package tiered_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

func TestIsValidTransition(t *testing.T) {
	const (
		N  = tiered.StateNone
		CS = tiered.CopySegmentStarted
		CF = tiered.CopySegmentFinished
		DS = tiered.DeleteSegmentStarted
		DF = tiered.DeleteSegmentFinished
	)
	valid := map[[2]tiered.RemoteLogSegmentState]bool{
		{N, CS}: true, {CS, CS}: true, {CS, CF}: true, {CS, DS}: true,
		{CF, CF}: true, {CF, DS}: true, {DS, DS}: true, {DS, DF}: true, {DF, DF}: true,
	}
	for from := N; from <= DF+1; from++ {
		for to := N; to <= DF+1; to++ {
			if got := tiered.IsValidTransition(from, to); got != valid[[2]tiered.RemoteLogSegmentState{from, to}] {
				t.Errorf("IsValidTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func TestIsValidPartitionDeleteTransition(t *testing.T) {
	const (
		N = tiered.PartitionDeleteNone
		M = tiered.DeletePartitionMarked
		S = tiered.DeletePartitionStarted
		F = tiered.DeletePartitionFinished
	)
	valid := map[[2]tiered.RemotePartitionDeleteState]bool{
		{N, M}: true, {M, M}: true, {M, S}: true, {S, S}: true, {S, F}: true, {F, F}: true,
	}
	for from := N; from <= F+1; from++ {
		for to := N; to <= F+1; to++ {
			if got := tiered.IsValidPartitionDeleteTransition(from, to); got != valid[[2]tiered.RemotePartitionDeleteState{from, to}] {
				t.Errorf("IsValidPartitionDeleteTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func meta(epochs map[int32]int64) tiered.RemoteLogSegmentMetadata {
	return tiered.RemoteLogSegmentMetadata{
		ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: tiered.TopicIDPartition{TopicID: tiered.UUID{1}, Topic: "t", Partition: 0}, ID: tiered.UUID{2}},
		StartOffset:         100,
		EndOffset:           199,
		State:               tiered.CopySegmentStarted,
		SegmentLeaderEpochs: epochs,
	}
}

func TestEpochRange(t *testing.T) {
	m := meta(map[int32]int64{3: 100, 5: 120, 9: 180})
	for _, c := range []struct {
		epoch      int32
		start, end int64
		ok         bool
	}{{3, 100, 119, true}, {5, 120, 179, true}, {9, 180, 199, true}, {4, 0, 0, false}} {
		s, e, ok := m.EpochRange(c.epoch)
		if s != c.start || e != c.end || ok != c.ok {
			t.Errorf("EpochRange(%d) = %d, %d, %v; want %d, %d, %v", c.epoch, s, e, ok, c.start, c.end, c.ok)
		}
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("valid metadata refused: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for name, eps := range map[string]map[int32]int64{
		"empty":           {},
		"first not start": {0: 101},
		"past end":        {0: 100, 1: 200},
		"not rising":      {0: 100, 1: 150, 2: 150},
	} {
		if err := meta(eps).Validate(); !errors.Is(err, tiered.ErrInvalidArgument) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	bad := meta(map[int32]int64{0: 100})
	bad.ID.TopicIDPartition.Topic = ".."
	if err := bad.Validate(); !errors.Is(err, tiered.ErrInvalidArgument) {
		t.Errorf("topic '..': got %v", err)
	}
}

func TestUUIDRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		u := tiered.NewUUID(r)
		if len(u.String()) != 22 {
			t.Fatalf("uuid %s is not 22 characters", u)
		}
		v, err := tiered.ParseUUID(u.String())
		if err != nil || v != u {
			t.Fatalf("round trip of %s: %s, %v", u, v, err)
		}
	}
	if _, err := tiered.ParseUUID("short"); !errors.Is(err, tiered.ErrInvalidArgument) {
		t.Fatalf("bad uuid: %v", err)
	}
}

func TestRegistryUnknown(t *testing.T) {
	if _, err := tiered.OpenRSM("nope", tiered.Options{}); !errors.Is(err, tiered.ErrUnknownEngine) {
		t.Fatalf("OpenRSM of an unknown name: %v", err)
	}
	if _, err := tiered.OpenRLMM("nope", tiered.Options{}); !errors.Is(err, tiered.ErrUnknownEngine) {
		t.Fatalf("OpenRLMM of an unknown name: %v", err)
	}
	if err := tiered.CheckParams("x", map[string]string{"b": "1"}, "a"); !errors.Is(err, tiered.ErrBadOption) {
		t.Fatalf("CheckParams: %v", err)
	}
}

func TestWithUpdate(t *testing.T) {
	m := meta(map[int32]int64{0: 100})
	m.CustomMetadata = tiered.CustomMetadata("k")
	u := tiered.RemoteLogSegmentMetadataUpdate{ID: m.ID, State: tiered.CopySegmentFinished, BrokerID: 4, EventTimestampMs: 9}
	got := m.WithUpdate(u)
	if got.State != tiered.CopySegmentFinished || got.BrokerID != 4 || got.EventTimestampMs != 9 || string(got.CustomMetadata) != "k" {
		t.Fatalf("WithUpdate: %+v", got)
	}
	u.CustomMetadata = tiered.CustomMetadata("z")
	if got := m.WithUpdate(u); string(got.CustomMetadata) != "z" {
		t.Fatalf("WithUpdate did not replace custom metadata: %+v", got)
	}
}
