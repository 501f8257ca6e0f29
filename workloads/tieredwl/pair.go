package tieredwl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/workloads"
)

// errNoSegment reports a lookup or fetch that found no segment where one
// must be.
var errNoSegment = errors.New("tieredwl: no segment found")

const (
	// metaSegRecords is how many offsets each preloaded segment covers;
	// epochEvery is how many preloaded segments one leader epoch spans.
	metaSegRecords = 100
	epochEvery     = 1000
	// dataSegRecords is how many offsets each copied segment covers.
	dataSegRecords = 1000
)

// pairTarget is a storage manager and a metadata manager driven as a
// broker drives them.
type pairTarget struct {
	set    settings
	rsm    tiered.RemoteStorageManager
	rlmm   tiered.RemoteLogMetadataManager
	data   tiered.LogSegmentData
	tpData tiered.TopicIDPartition // copied segments
	tpMeta tiered.TopicIDPartition // preloaded metadata only
	next   atomic.Int64            // next offset of tpData

	mu     sync.RWMutex
	copied []tiered.RemoteLogSegmentMetadata // finished, with data
}

func openPair(env workloads.Env, rsmName, rlmmName string, set settings) (*pairTarget, error) {
	fs := vfs.Default
	rsm, err := tiered.OpenRSM(rsmName, tiered.Options{Dir: fs.PathJoin(env.Dir, "remote"), FS: fs})
	if err != nil {
		return nil, err
	}
	mfs := vfs.FS(fs)
	if set.metaOnMem {
		mfs = vfs.NewMem()
	}
	rlmm, err := tiered.OpenRLMM(rlmmName, tiered.Options{Dir: fs.PathJoin(env.Dir, "rlmm"), FS: mfs, Params: env.EngineParams})
	if err != nil {
		_ = rsm.Close()
		return nil, err
	}
	rng := rand.New(rand.NewPCG(env.Seed, 0x74696572))
	t := &pairTarget{
		set: set, rsm: rsm, rlmm: rlmm,
		tpData: tiered.TopicIDPartition{TopicID: tiered.NewUUID(rng), Topic: "bench-data", Partition: 0},
		tpMeta: tiered.TopicIDPartition{TopicID: tiered.NewUUID(rng), Topic: "bench-meta", Partition: 0},
	}
	if err := rlmm.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{t.tpData, t.tpMeta}, nil); err != nil {
		_ = t.Close()
		return nil, err
	}
	t.data, err = writeSource(fs, fs.PathJoin(env.Dir, "local"), set.segSize, rng)
	if err != nil {
		_ = t.Close()
		return nil, err
	}
	return t, nil
}

// writeSource writes the local files of one closed segment: size bytes of
// log data and small indexes.
func writeSource(fs vfs.FS, dir string, size int64, rng *rand.Rand) (tiered.LogSegmentData, error) {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return tiered.LogSegmentData{}, fmt.Errorf("tieredwl: mkdir %s: %w", dir, err)
	}
	put := func(name string, n int64) (string, error) {
		p := fs.PathJoin(dir, name)
		f, err := fs.Create(p, vfs.WriteCategoryUnspecified)
		if err != nil {
			return "", fmt.Errorf("tieredwl: create %s: %w", p, err)
		}
		buf := make([]byte, min(n, 1<<20))
		for left := n; left > 0; left -= int64(len(buf)) {
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
				_ = f.Close()
				return "", fmt.Errorf("tieredwl: write %s: %w", p, err)
			}
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return "", fmt.Errorf("tieredwl: sync %s: %w", p, err)
		}
		return p, f.Close()
	}
	d := tiered.LogSegmentData{FS: fs, LeaderEpochIndex: []byte("0\n1\n1 0\n")}
	var err error
	if d.LogSegment, err = put("00000000.log", size); err != nil {
		return d, err
	}
	if d.OffsetIndex, err = put("00000000.index", 4096); err != nil {
		return d, err
	}
	if d.TimeIndex, err = put("00000000.timeindex", 4096); err != nil {
		return d, err
	}
	if d.ProducerSnapshotIndex, err = put("00000000.snapshot", 256); err != nil {
		return d, err
	}
	return d, nil
}

func (t *pairTarget) Close() error {
	err := t.rlmm.Close()
	if rerr := t.rsm.Close(); err == nil {
		err = rerr
	}
	return err
}

// metaSegment returns preloaded segment i of tpMeta.
func (t *pairTarget) metaSegment(rng *rand.Rand, i int) tiered.RemoteLogSegmentMetadata {
	start := int64(i) * metaSegRecords
	return tiered.RemoteLogSegmentMetadata{
		ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: t.tpMeta, ID: tiered.NewUUID(rng)},
		StartOffset:         start,
		EndOffset:           start + metaSegRecords - 1,
		SegmentSizeInBytes:  t.set.segSize,
		State:               tiered.CopySegmentStarted,
		BrokerID:            1,
		SegmentLeaderEpochs: map[int32]int64{int32(1 + i/epochEvery): start},
	}
}

// Preload records spec.Preload finished segments of metadata (no data),
// then copies fetch_segments segments when the mix fetches.
func (t *pairTarget) Preload(ctx context.Context, g *workloads.Gen) error {
	for i := range t.set.preload {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		m := t.metaSegment(g.Rand, i)
		if err := t.rlmm.AddRemoteLogSegmentMetadata(m); err != nil {
			return err
		}
		if err := t.rlmm.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{ID: m.ID, State: tiered.CopySegmentFinished, BrokerID: 1}); err != nil {
			return err
		}
	}
	if !t.set.fetches {
		return nil
	}
	for range t.set.fetchSegments {
		if _, err := t.copyOne(g.Rand); err != nil {
			return err
		}
	}
	return nil
}

func (t *pairTarget) NewWorker(int) workloads.Worker { return &pairWorker{t: t} }

// copyOne tiers one segment and returns its metadata.
func (t *pairTarget) copyOne(rng *rand.Rand) (tiered.RemoteLogSegmentMetadata, error) {
	start := t.next.Add(dataSegRecords) - dataSegRecords
	m := tiered.RemoteLogSegmentMetadata{
		ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: t.tpData, ID: tiered.NewUUID(rng)},
		StartOffset:         start,
		EndOffset:           start + dataSegRecords - 1,
		SegmentSizeInBytes:  t.set.segSize,
		State:               tiered.CopySegmentStarted,
		BrokerID:            1,
		SegmentLeaderEpochs: map[int32]int64{1: start},
	}
	if err := t.rlmm.AddRemoteLogSegmentMetadata(m); err != nil {
		return m, err
	}
	custom, err := t.rsm.CopyLogSegmentData(m, t.data)
	if err != nil {
		return m, err
	}
	if err := t.rlmm.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{ID: m.ID, State: tiered.CopySegmentFinished, BrokerID: 1, CustomMetadata: custom}); err != nil {
		return m, err
	}
	m.State, m.CustomMetadata = tiered.CopySegmentFinished, custom
	t.mu.Lock()
	t.copied = append(t.copied, m)
	t.mu.Unlock()
	return m, nil
}

// deleteOne deletes a copied segment by retention.
func (t *pairTarget) deleteOne(m tiered.RemoteLogSegmentMetadata) error {
	t.mu.Lock()
	for i, c := range t.copied {
		if c.ID == m.ID {
			t.copied = append(t.copied[:i], t.copied[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
	up := func(s tiered.RemoteLogSegmentState) error {
		return t.rlmm.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{ID: m.ID, State: s, BrokerID: 1})
	}
	if err := up(tiered.DeleteSegmentStarted); err != nil {
		return err
	}
	if err := t.rsm.DeleteLogSegmentData(m); err != nil {
		return err
	}
	return up(tiered.DeleteSegmentFinished)
}

func (t *pairTarget) pick(rng *rand.Rand) (tiered.RemoteLogSegmentMetadata, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(t.copied) == 0 {
		return tiered.RemoteLogSegmentMetadata{}, false
	}
	return t.copied[rng.IntN(len(t.copied))], true
}

type pairWorker struct {
	t   *pairTarget
	own []tiered.RemoteLogSegmentMetadata
	buf []byte
}

func (w *pairWorker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	t := w.t
	switch op {
	case OpCopy:
		m, err := t.copyOne(g.Rand)
		if err != nil {
			return workloads.Work{}, err
		}
		w.own = append(w.own, m)
		if len(w.own) > t.set.retain {
			old := w.own[0]
			w.own = w.own[1:]
			if err := t.deleteOne(old); err != nil {
				return workloads.Work{}, err
			}
		}
		return workloads.Work{Items: t.set.segSize, BytesWritten: t.set.segSize}, nil
	case OpLookup:
		tp, epoch, off := t.tpMeta, int32(0), int64(0)
		if t.set.preload > 0 {
			i := g.Rand.IntN(t.set.preload)
			epoch, off = int32(1+i/epochEvery), int64(i)*metaSegRecords+g.Rand.Int64N(metaSegRecords)
		} else {
			m, ok := t.pick(g.Rand)
			if !ok {
				return workloads.Work{}, nil
			}
			tp, epoch, off = t.tpData, 1, m.StartOffset+g.Rand.Int64N(dataSegRecords)
		}
		_, ok, err := t.rlmm.RemoteLogSegmentMetadata(tp, epoch, off)
		if err == nil && !ok {
			err = fmt.Errorf("%w: offset %d of epoch %d", errNoSegment, off, epoch)
		}
		return workloads.Work{}, err
	case OpHighest:
		epoch := int32(1)
		if t.set.preload > 0 {
			epoch = int32(1 + g.Rand.IntN((t.set.preload+epochEvery-1)/epochEvery))
		}
		_, _, err := t.rlmm.HighestOffsetForEpoch(t.tpMeta, epoch)
		return workloads.Work{}, err
	case OpFetch:
		c, ok := t.pick(g.Rand)
		if !ok {
			return workloads.Work{}, nil
		}
		off := c.StartOffset + g.Rand.Int64N(dataSegRecords)
		m, ok, err := t.rlmm.RemoteLogSegmentMetadata(t.tpData, 1, off)
		if err != nil {
			return workloads.Work{}, err
		}
		if !ok {
			// Deleted by retention since it was picked.
			return workloads.Work{}, nil
		}
		n := min(t.set.fetchLen, t.set.segSize)
		start := g.Rand.Int64N(t.set.segSize - n + 1)
		r, err := t.rsm.FetchLogSegment(m, start, start+n-1)
		if errors.Is(err, tiered.ErrRemoteResourceNotFound) {
			return workloads.Work{}, nil
		}
		if err != nil {
			return workloads.Work{}, err
		}
		if w.buf == nil {
			w.buf = make([]byte, 256<<10)
		}
		got, err := io.CopyBuffer(io.Discard, r, w.buf)
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		return workloads.Work{BytesRead: got}, err
	}
	return workloads.Work{}, fmt.Errorf("tieredwl: operation %d out of range", op)
}
