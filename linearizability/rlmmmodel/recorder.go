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
	serve []tiered.TopicIDPartition

	mu sync.RWMutex // held shared by calls, exclusively by Crash
	m  tiered.RemoteLogMetadataManager

	hmu sync.Mutex
	ops []porcupine.Operation
}

// NewRecorder returns a recorder of m. If serve names partitions, the
// recorder assigns them (a recorded call) now and after every crash, as a
// broker does when it starts.
func NewRecorder(m tiered.RemoteLogMetadataManager, serve ...tiered.TopicIDPartition) *Recorder {
	r := &Recorder{clock: linearizability.NewMonotonic(), m: m, serve: serve}
	if len(serve) > 0 {
		_ = r.do(0, Input{Kind: KindAssign, Leaders: names(serve)})
	}
	return r
}

func names(tps []tiered.TopicIDPartition) []string {
	out := make([]string, len(tps))
	for i, tp := range tps {
		out[i] = TP(tp)
	}
	return out
}

// do calls in on the manager and records it; the caller holds mu or runs
// alone.
func (r *Recorder) do(client int, in Input) Output {
	call := r.clock.Now()
	out := Apply(r.m, in)
	ret := r.clock.Now()
	r.hmu.Lock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	r.hmu.Unlock()
	return out
}

// Do calls in for client and records it.
func (r *Recorder) Do(client int, in Input) Output {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.do(client, in)
}

// Add calls AddRemoteLogSegmentMetadata.
func (r *Recorder) Add(client int, m tiered.RemoteLogSegmentMetadata) Output {
	return r.Do(client, Input{Kind: KindAdd, TP: TP(m.ID.TopicIDPartition), Seg: SegOf(m)})
}

// Update calls UpdateRemoteLogSegmentMetadata.
func (r *Recorder) Update(client int, id tiered.RemoteLogSegmentID, to tiered.RemoteLogSegmentState) Output {
	return r.Do(client, Input{Kind: KindUpdate, TP: TP(id.TopicIDPartition), Seg: Seg{ID: id.ID.String(), State: to}})
}

// Crash waits for the calls in flight, then runs crash, which must cut the
// power under the manager (or drop it) and return the manager opened
// again; the recorder goes on with that one, after assigning the
// partitions it serves.
func (r *Recorder) Crash(client int, crash func(old tiered.RemoteLogMetadataManager) (tiered.RemoteLogMetadataManager, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	call := r.clock.Now()
	m, err := crash(r.m)
	if err != nil {
		return err
	}
	r.m = m
	ret := r.clock.Now()
	r.hmu.Lock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: Input{Kind: KindCrash}, Call: call, Output: Output{}, Return: ret})
	r.hmu.Unlock()
	if len(r.serve) > 0 {
		_ = r.do(client, Input{Kind: KindAssign, Leaders: names(r.serve)})
	}
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
