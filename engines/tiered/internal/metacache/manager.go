package metacache

import (
	"fmt"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Journal makes changes durable. Commit is called with the manager's lock
// held, before r is applied to c (which it may read, to compact); a nil
// error means r is durable. After an error that leaves the journal unsure
// of what it holds, every later Commit must return an error wrapping
// tiered.ErrFailed.
type Journal interface {
	Commit(r Record, c *Cache) error
	Close() error
}

// Manager is a tiered.RemoteLogMetadataManager over a Cache.
type Manager struct {
	mu       sync.RWMutex
	cache    *Cache
	journal  Journal // nil: changes need not be made durable
	caps     tiered.Capabilities
	assigned map[tiered.TopicIDPartition]bool
	closed   bool
}

var _ tiered.RemoteLogMetadataManager = (*Manager)(nil)

// NewManager returns a manager over c, committing each change to j (nil for
// none) before applying it.
func NewManager(c *Cache, j Journal, caps tiered.Capabilities) *Manager {
	return &Manager{cache: c, journal: j, caps: caps, assigned: map[tiered.TopicIDPartition]bool{}}
}

// Locked runs f with the manager's lock held, unless the manager is closed.
func (m *Manager) Locked(f func(c *Cache) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return tiered.ErrClosed
	}
	return f(m.cache)
}

func (m *Manager) change(r Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return tiered.ErrClosed
	}
	var tp tiered.TopicIDPartition
	switch r.Kind {
	case KindAdd:
		tp = r.Segment.ID.TopicIDPartition
	case KindUpdate:
		tp = r.Update.ID.TopicIDPartition
	}
	if r.Kind != KindPartitionDelete {
		if err := tp.Validate(); err != nil {
			return err
		}
		if err := m.cache.checkLive(tp); err != nil {
			return err
		}
		if !m.assigned[tp] {
			return fmt.Errorf("%w: %s", tiered.ErrPartitionNotAssigned, tp)
		}
	}
	if err := m.cache.Check(r); err != nil {
		return err
	}
	if m.journal != nil {
		if err := m.journal.Commit(r, m.cache); err != nil {
			return err
		}
	}
	m.cache.Apply(r)
	return nil
}

// read checks what every query checks and runs f under the read lock.
func (m *Manager) read(tp tiered.TopicIDPartition, f func()) error {
	if err := tp.Validate(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return tiered.ErrClosed
	}
	if err := m.cache.checkLive(tp); err != nil {
		return err
	}
	if !m.assigned[tp] {
		return fmt.Errorf("%w: %s", tiered.ErrPartitionNotAssigned, tp)
	}
	f()
	return nil
}

func (m *Manager) AddRemoteLogSegmentMetadata(s tiered.RemoteLogSegmentMetadata) error {
	return m.change(Record{Kind: KindAdd, Segment: s.Clone()})
}

func (m *Manager) UpdateRemoteLogSegmentMetadata(u tiered.RemoteLogSegmentMetadataUpdate) error {
	return m.change(Record{Kind: KindUpdate, Update: u.Clone()})
}

func (m *Manager) PutRemotePartitionDeleteMetadata(d tiered.RemotePartitionDeleteMetadata) error {
	return m.change(Record{Kind: KindPartitionDelete, PartitionDelete: d})
}

func checkEpoch(epoch int32) error {
	if epoch < 0 {
		return fmt.Errorf("%w: negative leader epoch %d", tiered.ErrInvalidArgument, epoch)
	}
	return nil
}

func (m *Manager) RemoteLogSegmentMetadata(tp tiered.TopicIDPartition, epoch int32, offset int64) (s tiered.RemoteLogSegmentMetadata, ok bool, err error) {
	if err := checkEpoch(epoch); err != nil {
		return s, false, err
	}
	if offset < 0 {
		return s, false, fmt.Errorf("%w: negative offset %d", tiered.ErrInvalidArgument, offset)
	}
	err = m.read(tp, func() { s, ok = m.cache.Lookup(tp, epoch, offset) })
	return s, ok, err
}

func (m *Manager) HighestOffsetForEpoch(tp tiered.TopicIDPartition, epoch int32) (o int64, ok bool, err error) {
	if err := checkEpoch(epoch); err != nil {
		return 0, false, err
	}
	err = m.read(tp, func() { o, ok = m.cache.Highest(tp, epoch) })
	return o, ok, err
}

func (m *Manager) ListRemoteLogSegments(tp tiered.TopicIDPartition) (out []tiered.RemoteLogSegmentMetadata, err error) {
	err = m.read(tp, func() { out = m.cache.List(tp) })
	return out, err
}

func (m *Manager) ListRemoteLogSegmentsForEpoch(tp tiered.TopicIDPartition, epoch int32) (out []tiered.RemoteLogSegmentMetadata, err error) {
	if err := checkEpoch(epoch); err != nil {
		return nil, err
	}
	err = m.read(tp, func() { out = m.cache.ListEpoch(tp, epoch) })
	return out, err
}

func (m *Manager) RemoteLogSize(tp tiered.TopicIDPartition, epoch int32) (n int64, err error) {
	if err := checkEpoch(epoch); err != nil {
		return 0, err
	}
	err = m.read(tp, func() {
		for _, s := range m.cache.ListEpoch(tp, epoch) {
			n += s.SegmentSizeInBytes
		}
	})
	return n, err
}

func (m *Manager) OnPartitionLeadershipChanges(leaders, followers []tiered.TopicIDPartition) error {
	for _, tp := range append(append([]tiered.TopicIDPartition(nil), leaders...), followers...) {
		if err := tp.Validate(); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return tiered.ErrClosed
	}
	for _, tp := range leaders {
		m.assigned[tp] = true
	}
	for _, tp := range followers {
		m.assigned[tp] = true
	}
	return nil
}

func (m *Manager) OnStopPartitions(partitions []tiered.TopicIDPartition) error {
	for _, tp := range partitions {
		if err := tp.Validate(); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return tiered.ErrClosed
	}
	for _, tp := range partitions {
		delete(m.assigned, tp)
	}
	return nil
}

func (m *Manager) Capabilities() tiered.Capabilities { return m.caps }

func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return tiered.ErrClosed
	}
	m.closed = true
	if m.journal != nil {
		return m.journal.Close()
	}
	return nil
}
