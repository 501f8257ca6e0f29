package acid

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
)

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
// The first appender leads: it commits the queue in one transaction, then
// hands the lead to the first request queued during that commit.
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
		s.mu.Lock()
	} else {
		s.leading = true
	}
	batch := s.queue
	s.queue = nil
	s.mu.Unlock()

	s.commit(b, batch)

	s.mu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		s.leading = false
	}
	s.mu.Unlock()
	for _, q := range batch {
		if q != r {
			q.wake <- struct{}{}
		}
	}
	return r.err
}

// commit runs batch in one transaction. A request refused by the rules
// wrote nothing and keeps its error; any other failure rolls the whole
// transaction back and runs each request alone.
func (s *shard) commit(b *backend, batch []*request) {
	if len(batch) == 1 {
		batch[0].err = s.db.Update(func(btx *bolt.Tx) error { return batch[0].fn(&tx{b: b, tx: btx}) })
		return
	}
	err := s.db.Update(func(btx *bolt.Tx) error {
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
	if err == nil {
		return
	}
	for _, q := range batch {
		q.err = s.db.Update(func(btx *bolt.Tx) error { return q.fn(&tx{b: b, tx: btx}) })
	}
}
