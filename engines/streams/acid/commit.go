package acid

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
)

// groupBatches and groupRequests count, over every store of the process,
// the group commits and the appends they carried; the benchmark reports
// their ratio.
var groupBatches, groupRequests atomic.Int64

// shard is one bbolt file and its group-commit queue.
type shard struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []*request
	leading bool
}

// request is one append waiting for a group commit. wake receives once:
// with lead set, the request leads the next commit; otherwise it is done.
type request struct {
	fn   func(core.Tx) error
	err  error
	lead bool
	wake chan struct{}
}

// append runs fn in a transaction shared with the appends queued meanwhile.
// The first appender leads: it commits the queue in one transaction,
// releases the appenders of that batch, and hands the lead to the first
// request queued by then. A leader yields once before it takes the queue,
// so that the appenders just released can join its batch.
func (s *shard) append(b *backend, fn func(core.Tx) error) error {
	r := &request{fn: fn, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, r)
	if s.leading {
		s.mu.Unlock()
		<-r.wake
		if !r.lead {
			return r.err
		}
	} else {
		s.leading = true
		s.mu.Unlock()
	}
	runtime.Gosched()
	s.mu.Lock()
	batch := s.queue
	s.queue = nil
	s.mu.Unlock()
	groupBatches.Add(1)
	groupRequests.Add(int64(len(batch)))

	s.commit(b, batch)

	for _, q := range batch {
		if q != r {
			q.wake <- struct{}{}
		}
	}
	s.mu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		s.leading = false
	}
	s.mu.Unlock()
	return r.err
}

// commit runs batch in one transaction. A request refused by the rules
// wrote nothing and keeps its error; any other failure rolls the whole
// transaction back and runs each request alone.
func (s *shard) commit(b *backend, batch []*request) {
	if len(batch) == 1 {
		batch[0].err = guard(func() error {
			return s.db.Update(func(btx *bolt.Tx) error { return batch[0].fn(&tx{b: b, tx: btx}) })
		})
		return
	}
	err := guard(func() error {
		return s.update(b, batch)
	})
	if err == nil {
		return
	}
	for _, q := range batch {
		q.err = guard(func() error {
			return s.db.Update(func(btx *bolt.Tx) error { return q.fn(&tx{b: b, tx: btx}) })
		})
	}
}

// update runs every request of batch in one transaction.
func (s *shard) update(b *backend, batch []*request) error {
	return s.db.Update(func(btx *bolt.Tx) error {
		t := &tx{b: b, tx: btx}
		for _, q := range batch {
			q.err = q.fn(t)
			var refused *streams.Error
			if q.err != nil && !errors.As(q.err, &refused) {
				return q.err
			}
		}
		return nil
	})
}
