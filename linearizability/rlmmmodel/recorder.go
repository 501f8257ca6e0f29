package rlmmmodel

import (
	"sync"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Recorder is a recording client of a metadata manager: every call goes to
// the manager and into the history. Calls may come from any number of
// goroutines; Crash waits for the calls in flight and runs alone, so that
// it is ordered in real time against every other operation.
type Recorder struct {
	clock linearizability.Clock

	mu sync.RWMutex // held shared by calls, exclusively by Crash
	m  tiered.RemoteLogMetadataManager

	hmu sync.Mutex
	ops []porcupine.Operation
}

// NewRecorder returns a recorder of m.
func NewRecorder(m tiered.RemoteLogMetadataManager) *Recorder {
	return &Recorder{clock: linearizability.NewMonotonic(), m: m}
}

func tpKey(tp tiered.TopicIDPartition) string { return tp.String() }

func (r *Recorder) record(client int, in Input, call int64, out Output) {
	ret := r.clock.Now()
	r.hmu.Lock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	r.hmu.Unlock()
}

// Add calls AddRemoteLogSegmentMetadata.
func (r *Recorder) Add(client int, m tiered.RemoteLogSegmentMetadata) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	in := Input{Kind: KindAdd, TP: tpKey(m.ID.TopicIDPartition), Seg: SegOf(m)}
	call := r.clock.Now()
	err := r.m.AddRemoteLogSegmentMetadata(m)
	r.record(client, in, call, Output{Err: Classify(err)})
	return err
}

// Update calls UpdateRemoteLogSegmentMetadata.
func (r *Recorder) Update(client int, u tiered.RemoteLogSegmentMetadataUpdate) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	in := Input{Kind: KindUpdate, TP: tpKey(u.ID.TopicIDPartition), Seg: Seg{ID: u.ID.ID.String(), State: u.State}}
	call := r.clock.Now()
	err := r.m.UpdateRemoteLogSegmentMetadata(u)
	r.record(client, in, call, Output{Err: Classify(err)})
	return err
}

// Lookup calls RemoteLogSegmentMetadata.
func (r *Recorder) Lookup(client int, tp tiered.TopicIDPartition, epoch int32, offset int64) (tiered.RemoteLogSegmentMetadata, bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	in := Input{Kind: KindLookup, TP: tpKey(tp), Epoch: epoch, Offset: offset}
	call := r.clock.Now()
	m, ok, err := r.m.RemoteLogSegmentMetadata(tp, epoch, offset)
	out := Output{Err: Classify(err), Found: ok}
	if ok {
		out.ID, out.State = m.ID.ID.String(), m.State
	}
	r.record(client, in, call, out)
	return m, ok, err
}

// Highest calls HighestOffsetForEpoch.
func (r *Recorder) Highest(client int, tp tiered.TopicIDPartition, epoch int32) (int64, bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	in := Input{Kind: KindHighest, TP: tpKey(tp), Epoch: epoch}
	call := r.clock.Now()
	off, ok, err := r.m.HighestOffsetForEpoch(tp, epoch)
	r.record(client, in, call, Output{Err: Classify(err), Found: ok, Offset: off})
	return off, ok, err
}

// List calls ListRemoteLogSegments.
func (r *Recorder) List(client int, tp tiered.TopicIDPartition) ([]tiered.RemoteLogSegmentMetadata, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	in := Input{Kind: KindList, TP: tpKey(tp)}
	call := r.clock.Now()
	list, err := r.m.ListRemoteLogSegments(tp)
	out := Output{Err: Classify(err)}
	for _, m := range list {
		out.List = append(out.List, SegOf(m))
	}
	r.record(client, in, call, out)
	return list, err
}

// Crash waits for the calls in flight, then runs crash, which must cut the
// power under the manager (or drop it) and return the manager opened again
// with its partitions assigned; the recorder goes on with that one.
func (r *Recorder) Crash(client int, crash func(old tiered.RemoteLogMetadataManager) (tiered.RemoteLogMetadataManager, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	call := r.clock.Now()
	m, err := crash(r.m)
	if err != nil {
		return err
	}
	r.m = m
	r.record(client, Input{Kind: KindCrash}, call, Output{})
	return nil
}

// Manager returns the manager the recorder calls now.
func (r *Recorder) Manager() tiered.RemoteLogMetadataManager {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m
}

// Operations returns the history so far.
func (r *Recorder) Operations() []porcupine.Operation {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}
