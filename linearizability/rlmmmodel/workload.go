package rlmmmodel

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Workload is a random history of broker-like calls: clients add segments
// of fresh offsets (so that no two overlap), move them through states
// drawn at random (invalid moves included), and look up offsets, highest
// offsets, lists and sizes; client 0 crashes the manager every CrashEvery
// of its operations. The recorder must serve the partitions.
type Workload struct {
	Clients    int
	Ops        int // per client
	Seed       uint64
	Partitions []tiered.TopicIDPartition
	// Epochs is how many leader epochs segments are spread over (default
	// 2).
	Epochs     int
	CrashEvery int
	// Crash is passed to Recorder.Crash.
	Crash func(old tiered.RemoteLogMetadataManager) (tiered.RemoteLogMetadataManager, error)
}

// Drive runs w against r and returns the first error of a crash.
func Drive(r *Recorder, w Workload) error {
	if w.Clients <= 0 || len(w.Partitions) == 0 {
		return fmt.Errorf("%w: workload needs clients and partitions", ErrHistory)
	}
	if w.Epochs <= 0 {
		w.Epochs = 2
	}
	var mu sync.Mutex
	next := make([]int64, len(w.Partitions))
	alloc := func(p int, n int64) int64 {
		mu.Lock()
		defer mu.Unlock()
		o := next[p]
		next[p] += n
		return o
	}
	top := func(p int) int64 {
		mu.Lock()
		defer mu.Unlock()
		return next[p]
	}
	states := []tiered.RemoteLogSegmentState{tiered.CopySegmentFinished, tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished}
	var wg sync.WaitGroup
	errs := make([]error, w.Clients)
	for c := range w.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(w.Seed, uint64(c)+1))
			var own []tiered.RemoteLogSegmentMetadata
			for i := range w.Ops {
				if c == 0 && w.CrashEvery > 0 && w.Crash != nil && i > 0 && i%w.CrashEvery == 0 {
					if err := r.Crash(c, w.Crash); err != nil {
						errs[c] = err
						return
					}
				}
				p := rng.IntN(len(w.Partitions))
				tp := w.Partitions[p]
				epoch := int32(1 + rng.IntN(w.Epochs))
				switch k := rng.IntN(12); {
				case k < 3 || len(own) == 0:
					n := int64(1 + rng.IntN(50))
					start := alloc(p, n)
					m := tiered.RemoteLogSegmentMetadata{
						ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: tp, ID: tiered.NewUUID(rng)},
						StartOffset:         start,
						EndOffset:           start + n - 1,
						SegmentSizeInBytes:  n * 100,
						State:               tiered.CopySegmentStarted,
						SegmentLeaderEpochs: map[int32]int64{epoch: start},
					}
					if n > 2 && rng.IntN(3) == 0 {
						m.SegmentLeaderEpochs[epoch+1] = start + n/2
					}
					if r.Add(c, m).Err == ErrNone {
						own = append(own, m)
					}
				case k < 6:
					m := own[rng.IntN(len(own))]
					r.Update(c, m.ID, states[rng.IntN(len(states))])
				case k < 8:
					r.Do(c, Input{Kind: KindLookup, TP: TP(tp), Epoch: epoch, Offset: rng.Int64N(top(p) + 1)})
				case k < 9:
					r.Do(c, Input{Kind: KindHighest, TP: TP(tp), Epoch: epoch})
				case k < 10:
					r.Do(c, Input{Kind: KindListEpoch, TP: TP(tp), Epoch: epoch})
				case k < 11:
					r.Do(c, Input{Kind: KindSize, TP: TP(tp), Epoch: epoch})
				default:
					r.Do(c, Input{Kind: KindList, TP: TP(tp)})
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
