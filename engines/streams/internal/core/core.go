// Package core holds the rules of the streams SPI once, over a Backend of
// sharded transactions: the memory and acid implementations differ only in
// where the records live.
package core

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

// ProducerState is the last accepted position of a producer.
type ProducerState struct {
	Epoch uint64 `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

// Meta is the stored record of a stream.
type Meta struct {
	Config        streams.Config           `json:"config"`
	CreatedAt     time.Time                `json:"created_at"`
	ExpiresAt     time.Time                `json:"expires_at"`
	Closed        bool                     `json:"closed"`
	Tail          streams.Offset           `json:"tail"`
	Bytes         uint64                   `json:"bytes"`
	LastWriterSeq string                   `json:"last_writer_seq,omitempty"`
	Producers     map[string]ProducerState `json:"producers,omitempty"`
	ForkOf        string                   `json:"fork_of,omitempty"`
	ForkOffset    streams.Offset           `json:"fork_offset"`
	Refs          uint32                   `json:"refs"`
	Tombstone     bool                     `json:"tombstone"`
}

// Clone returns a deep copy of m.
func (m *Meta) Clone() *Meta {
	c := *m
	if m.Producers != nil {
		c.Producers = make(map[string]ProducerState, len(m.Producers))
		for k, v := range m.Producers {
			c.Producers[k] = v
		}
	}
	return &c
}

// Tx is one transaction on one shard.
type Tx interface {
	// Meta returns the record of name, or nil.
	Meta(name string) (*Meta, error)
	PutMeta(name string, m *Meta) error
	// Delete removes the record and the messages of name.
	Delete(name string) error
	PutMsg(name string, at streams.Offset, data []byte) error
	// Msgs returns the messages of name at or after from and, if upTo is
	// not nil, before *upTo. The data belongs to the caller.
	Msgs(name string, from streams.Offset, upTo *streams.Offset) ([]streams.Message, error)
	ForEach(fn func(name string, m *Meta) error) error
}

// Backend is where records live.
type Backend interface {
	Shards() int
	ShardOf(name string) int
	// Update runs fn in one write transaction, committed durably if fn
	// returns nil and rolled back otherwise.
	Update(shard int, fn func(Tx) error) error
	// Append is Update for appends, which a backend may commit in groups:
	// fn returns a *streams.Error only before it writes anything.
	Append(shard int, fn func(Tx) error) error
	View(shard int, fn func(Tx) error) error
	Close() error
}

// Bugs plants known bugs, to prove the conformance suite catches them.
type Bugs struct {
	// NoTotalRollback keeps the total-bytes reservation of a failed append.
	NoTotalRollback bool
	// ForkReadPastOffset reads a fork's source past the fork offset.
	ForkReadPastOffset bool
	// FixedTTL expires a stream with a TTL that long after its creation:
	// appends, closes and Touch do not slide the window.
	FixedTTL bool
	// KeepExpiredBytes leaves expired streams in place while the store
	// runs: their bytes count against the total until the name is created
	// again or the store is reopened.
	KeepExpiredBytes bool
}

// Options configure a Store.
type Options struct {
	Clock          func() time.Time
	MaxTotalBytes  uint64
	MaxStreamBytes uint64
	Caps           streams.Capabilities
	Bugs           Bugs
}

// Store implements streams.Store over a Backend.
type Store struct {
	b      Backend
	o      Options
	total  atomic.Uint64
	closed atomic.Bool

	mu      sync.Mutex
	waiters map[string]chan struct{}

	// expMu guards expiring, the expiry instants of the streams that have
	// one, earliest first, and tracked, the instant each name is tracked
	// at (an entry of expiring that disagrees is stale). sweepMu serializes
	// sweeps, so that a call that finds an expiry due waits until its bytes
	// are released.
	expMu    sync.Mutex
	expiring expiryHeap
	tracked  map[string]time.Time
	sweepMu  sync.Mutex
}

// expiry is the instant a stream expires.
type expiry struct {
	at   time.Time
	name string
}

// expiryHeap orders expiries earliest first (container/heap).
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }

func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// track notes that name expires at at (zero: never). A name tracked at an
// earlier instant stays so: the sweep then finds its new expiry.
func (s *Store) track(name string, at time.Time) {
	if at.IsZero() {
		return
	}
	s.expMu.Lock()
	defer s.expMu.Unlock()
	if t, ok := s.tracked[name]; ok && !at.Before(t) {
		return
	}
	if s.tracked == nil {
		s.tracked = map[string]time.Time{}
	}
	s.tracked[name] = at
	heap.Push(&s.expiring, expiry{at: at, name: name})
}

// due pops an expiry that has passed at now, if there is one.
func (s *Store) due(now time.Time) (expiry, bool) {
	s.expMu.Lock()
	defer s.expMu.Unlock()
	for len(s.expiring) > 0 && !now.Before(s.expiring[0].at) {
		e := heap.Pop(&s.expiring).(expiry)
		if t, ok := s.tracked[e.name]; ok && t.Equal(e.at) {
			delete(s.tracked, e.name)
			return e, true
		}
	}
	return expiry{}, false
}

// sweep removes the streams whose expiry has passed and that serve no fork,
// and releases their bytes: expiry frees a stream's bytes while the store
// runs, at the first Create, Append or Fork after it. An expired stream
// that still serves forks keeps its bytes until its last fork goes (see
// unref). The record decides: a stream whose TTL window slid since it was
// tracked is tracked again at its new expiry, one deleted or created again
// is left as its record says.
func (s *Store) sweep() error {
	if s.o.Bugs.KeepExpiredBytes {
		return nil
	}
	now := s.o.Clock()
	s.expMu.Lock()
	idle := len(s.expiring) == 0 || now.Before(s.expiring[0].at)
	s.expMu.Unlock()
	if idle {
		return nil
	}
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	for {
		e, ok := s.due(now)
		if !ok {
			return nil
		}
		later, err := s.purge(e.name, false)
		if err != nil {
			s.track(e.name, e.at) // swept again by the next call
			return err
		}
		s.track(e.name, later)
	}
}

var _ streams.Store = (*Store)(nil)

// New opens a Store over b. It sums the bytes of every stream, counts
// again the forks of each source (a crash between the transactions of a
// fork or of a cascading delete, which span shards, leaves a count off),
// and removes the tombstones left without forks and the streams that
// expired while it was closed.
func New(b Backend, o Options) (*Store, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	s := &Store{b: b, o: o, waiters: map[string]chan struct{}{}}
	now := o.Clock()
	refs := map[string]uint32{}
	stored := map[string]uint32{}
	expires := map[string]time.Time{}
	var dead []string
	for i := 0; i < b.Shards(); i++ {
		err := b.View(i, func(tx Tx) error {
			return tx.ForEach(func(name string, m *Meta) error {
				s.total.Add(m.Bytes)
				stored[name] = m.Refs
				if m.ForkOf != "" {
					refs[m.ForkOf]++
				}
				switch {
				case m.Tombstone || isExpired(m, now):
					dead = append(dead, name)
				case !m.ExpiresAt.IsZero():
					expires[name] = m.ExpiresAt
				}
				return nil
			})
		})
		if err != nil {
			return nil, streams.StorageFailure("", "rebuild totals", err)
		}
	}
	for name, n := range stored {
		if n == refs[name] {
			continue
		}
		want := refs[name]
		err := s.update(name, "recount forks", func(tx Tx) error {
			m, err := tx.Meta(name)
			if err != nil || m == nil {
				return err
			}
			m.Refs = want
			return tx.PutMeta(name, m)
		})
		if err != nil {
			return nil, err
		}
	}
	for _, name := range dead {
		if err := s.purgeDead(name); err != nil {
			return nil, err
		}
	}
	for name, at := range expires {
		s.track(name, at)
	}
	return s, nil
}

// TotalBytes is the payload of all streams as the store accounts it.
func (s *Store) TotalBytes() uint64 { return s.total.Load() }

func isExpired(m *Meta, now time.Time) bool {
	return !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt)
}

func notFound(name string) error {
	return &streams.Error{Class: streams.ClassNotFound, Stream: name}
}

// live returns the record of a stream open to direct access.
func (s *Store) live(tx Tx, name string) (*Meta, error) {
	m, err := tx.Meta(name)
	if err != nil {
		return nil, err
	}
	if m == nil || isExpired(m, s.o.Clock()) && !m.Tombstone {
		return nil, notFound(name)
	}
	if m.Tombstone {
		return nil, &streams.Error{Class: streams.ClassGone, Stream: name, Msg: "deleted, kept for its forks"}
	}
	return m, nil
}

func (s *Store) check(name string) error {
	if s.closed.Load() {
		return &streams.Error{Class: streams.ClassUnavailable, Kind: streams.ErrClosed, Stream: name}
	}
	if name == "" {
		return streams.Errorf(streams.ClassBadRequest, streams.ErrBadConfig, name, "empty stream name")
	}
	return nil
}

// classify turns a backend failure into an *Error of its class (see
// streams.StorageFailure).
func classify(name, op string, err error) error {
	if err == nil {
		return nil
	}
	var e *streams.Error
	if errors.As(err, &e) {
		return err
	}
	return streams.StorageFailure(name, op, err)
}

func (s *Store) update(name, op string, fn func(Tx) error) error {
	return classify(name, op, s.b.Update(s.b.ShardOf(name), fn))
}

func (s *Store) view(name, op string, fn func(Tx) error) error {
	return classify(name, op, s.b.View(s.b.ShardOf(name), fn))
}

func (s *Store) newMeta(cfg streams.Config) *Meta {
	now := s.o.Clock()
	m := &Meta{Config: cfg, CreatedAt: now, Closed: cfg.Closed}
	switch {
	case cfg.TTL > 0:
		m.ExpiresAt = now.Add(cfg.TTL)
	case !cfg.ExpiresAt.IsZero():
		m.ExpiresAt = cfg.ExpiresAt
	}
	return m
}

// slide restarts the TTL window of m, if it has one.
func (s *Store) slide(m *Meta) {
	if m.Config.TTL > 0 && !s.o.Bugs.FixedTTL {
		m.ExpiresAt = s.o.Clock().Add(m.Config.TTL)
	}
}

// Create implements streams.Store.
func (s *Store) Create(name string, cfg streams.Config) (bool, error) {
	if err := s.check(name); err != nil {
		return false, err
	}
	if err := cfg.Validate(); err != nil {
		return false, err
	}
	if err := s.sweep(); err != nil {
		return false, err
	}
	if err := s.purgeExpired(name); err != nil {
		return false, err
	}
	created := false
	var expires time.Time
	err := s.update(name, "create", func(tx Tx) error {
		created = false
		m, err := tx.Meta(name)
		if err != nil {
			return err
		}
		if m != nil {
			switch {
			case m.Tombstone:
				return streams.Errorf(streams.ClassConflict, streams.ErrExists, name, "a deleted stream still serves its forks")
			case isExpired(m, s.o.Clock()):
				return streams.Errorf(streams.ClassConflict, streams.ErrExists, name, "an expired stream still serves its forks")
			case m.ForkOf != "" || !m.Config.Equal(cfg):
				return &streams.Error{Class: streams.ClassConflict, Kind: streams.ErrExists, Stream: name}
			}
			return nil
		}
		created = true
		m = s.newMeta(cfg)
		expires = m.ExpiresAt
		return tx.PutMeta(name, m)
	})
	if err != nil {
		return false, err
	}
	if created {
		s.track(name, expires)
	}
	s.notify(name)
	return created, nil
}

func (s *Store) reserve(n uint64) error {
	if n == 0 {
		return nil
	}
	if s.o.MaxTotalBytes == 0 {
		s.total.Add(n)
		return nil
	}
	for {
		cur := s.total.Load()
		if cur+n < cur || cur+n > s.o.MaxTotalBytes {
			return streams.Errorf(streams.ClassCapacity, streams.ErrLimit, "", "total bytes %d + %d over the limit %d", cur, n, s.o.MaxTotalBytes)
		}
		if s.total.CompareAndSwap(cur, cur+n) {
			return nil
		}
	}
}

func (s *Store) release(n uint64) {
	for {
		cur := s.total.Load()
		next := cur - n
		if n > cur {
			next = 0
		}
		if s.total.CompareAndSwap(cur, next) {
			return
		}
	}
}

// Append implements streams.Store.
func (s *Store) Append(name string, data []byte, o streams.AppendOptions) (streams.AppendResult, error) {
	if err := s.check(name); err != nil {
		return streams.AppendResult{}, err
	}
	if len(data) == 0 && !o.Close {
		return streams.AppendResult{}, streams.Errorf(streams.ClassBadRequest, streams.ErrBadConfig, name, "empty append")
	}
	if err := s.sweep(); err != nil {
		return streams.AppendResult{}, err
	}
	n := uint64(len(data))
	if err := s.reserve(n); err != nil {
		err.(*streams.Error).Stream = name
		return streams.AppendResult{}, err
	}
	var res streams.AppendResult
	var wrote bool
	err := classify(name, "append", s.b.Append(s.b.ShardOf(name), func(tx Tx) error {
		res, wrote = streams.AppendResult{}, false
		m, err := s.live(tx, name)
		if err != nil {
			return err
		}
		p := o.Producer
		var st ProducerState
		known := false
		if p != nil {
			st, known = m.Producers[p.ID]
			if known && p.Epoch < st.Epoch {
				return &streams.Error{Class: streams.ClassConflict, Kind: streams.ErrStaleEpoch, Stream: name, CurrentEpoch: st.Epoch}
			}
			if known && p.Epoch == st.Epoch && p.Seq <= st.Seq {
				res = streams.AppendResult{Offset: m.Tail, Next: m.Tail, Duplicate: true, LastSeq: st.Seq}
				return nil
			}
		}
		if m.Closed {
			if n == 0 && o.Close && p == nil {
				res = streams.AppendResult{Offset: m.Tail, Next: m.Tail}
				return nil
			}
			return &streams.Error{Class: streams.ClassConflict, Kind: streams.ErrStreamClosed, Stream: name}
		}
		if p != nil {
			expected := uint64(0)
			if known && p.Epoch > st.Epoch {
				if p.Seq != 0 {
					return streams.Errorf(streams.ClassBadRequest, streams.ErrEpochSeq, name, "epoch %d seq %d", p.Epoch, p.Seq)
				}
			} else if known {
				expected = st.Seq + 1
			}
			if p.Seq != expected {
				return &streams.Error{Class: streams.ClassConflict, Kind: streams.ErrSeqGap, Stream: name, ExpectedSeq: expected, ReceivedSeq: p.Seq}
			}
		}
		if o.WriterSeq != "" && m.LastWriterSeq != "" && o.WriterSeq <= m.LastWriterSeq {
			return streams.Errorf(streams.ClassConflict, streams.ErrSeqRegression, name, "%q after %q", o.WriterSeq, m.LastWriterSeq)
		}
		if s.o.MaxStreamBytes > 0 && m.Bytes+n > s.o.MaxStreamBytes {
			return streams.Errorf(streams.ClassCapacity, streams.ErrLimit, name, "stream bytes %d + %d over the limit %d", m.Bytes, n, s.o.MaxStreamBytes)
		}
		res.Offset = m.Tail
		if n > 0 {
			if err := tx.PutMsg(name, m.Tail, data); err != nil {
				return err
			}
			m.Tail = streams.Offset{ReadSeq: m.Tail.ReadSeq + 1, ByteOffset: m.Tail.ByteOffset + n}
			m.Bytes += n
		}
		if p != nil {
			if m.Producers == nil {
				m.Producers = map[string]ProducerState{}
			}
			m.Producers[p.ID] = ProducerState{Epoch: p.Epoch, Seq: p.Seq}
			res.LastSeq = p.Seq
		}
		if o.WriterSeq != "" {
			m.LastWriterSeq = o.WriterSeq
		}
		if o.Close {
			m.Closed = true
		}
		s.slide(m)
		res.Next = m.Tail
		wrote = true
		return tx.PutMeta(name, m)
	}))
	if err != nil {
		if !s.o.Bugs.NoTotalRollback {
			s.release(n)
		}
		return streams.AppendResult{}, err
	}
	if !wrote {
		s.release(n)
		return res, nil
	}
	s.notify(name)
	return res, nil
}

// Read implements streams.Store.
func (s *Store) Read(name string, from streams.Offset) (streams.ReadResult, error) {
	if err := s.check(name); err != nil {
		return streams.ReadResult{}, err
	}
	var res streams.ReadResult
	var m *Meta
	err := s.view(name, "read", func(tx Tx) error {
		res = streams.ReadResult{}
		var err error
		if m, err = s.live(tx, name); err != nil {
			return err
		}
		res.Next, res.Closed = m.Tail, m.Closed
		if from == streams.Now {
			from = m.Tail
			return nil
		}
		if from.Compare(m.Tail) > 0 {
			return streams.Errorf(streams.ClassBadRequest, streams.ErrBadOffset, name, "%v is past the tail %v", from, m.Tail)
		}
		own := from
		if m.ForkOf != "" && own.Compare(m.ForkOffset) < 0 {
			own = m.ForkOffset
		}
		res.Messages, err = tx.Msgs(name, own, nil)
		return err
	})
	if err != nil {
		return streams.ReadResult{}, err
	}
	if m.ForkOf != "" && from.Compare(m.ForkOffset) < 0 {
		prefix, err := s.readRange(m.ForkOf, from, m.ForkOffset, 0)
		if err != nil {
			return streams.ReadResult{}, err
		}
		res.Messages = append(prefix, res.Messages...)
	}
	return res, nil
}

// maxForkDepth bounds the recursion through fork chains.
const maxForkDepth = 1 << 10

// readRange returns the messages of name, through its own sources, in
// [from, upTo). The stream may be a tombstone.
func (s *Store) readRange(name string, from, upTo streams.Offset, depth int) ([]streams.Message, error) {
	if depth > maxForkDepth {
		return nil, streams.StorageFailure(name, "read fork chain", errors.New("fork chain too deep"))
	}
	var m *Meta
	var own []streams.Message
	bound := &upTo
	if s.o.Bugs.ForkReadPastOffset && depth == 0 {
		bound = nil
	}
	err := s.view(name, "read fork source", func(tx Tx) error {
		var err error
		if m, err = tx.Meta(name); err != nil {
			return err
		}
		if m == nil {
			return fmt.Errorf("%w: the record of a fork's source is missing", streams.ErrCorrupt)
		}
		start := from
		if m.ForkOf != "" && start.Compare(m.ForkOffset) < 0 {
			start = m.ForkOffset
		}
		own, err = tx.Msgs(name, start, bound)
		return err
	})
	if err != nil {
		return nil, err
	}
	if m.ForkOf != "" && from.Compare(m.ForkOffset) < 0 {
		lim := m.ForkOffset
		if upTo.Compare(lim) < 0 {
			lim = upTo
		}
		prefix, err := s.readRange(m.ForkOf, from, lim, depth+1)
		if err != nil {
			return nil, err
		}
		own = append(prefix, own...)
	}
	return own, nil
}

// watch returns the channel closed at the next change of name.
func (s *Store) watch(name string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.waiters[name]
	if !ok {
		ch = make(chan struct{})
		s.waiters[name] = ch
	}
	return ch
}

func (s *Store) notify(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.waiters[name]; ok {
		close(ch)
		delete(s.waiters, name)
	}
}

// Wait implements streams.Store.
func (s *Store) Wait(ctx context.Context, name string, after streams.Offset) error {
	for {
		ch := s.watch(name)
		md, err := s.Metadata(name)
		if err != nil {
			return err
		}
		if after == streams.Now {
			after = md.Tail
		}
		if md.Tail.Compare(after) > 0 || md.Closed {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Metadata implements streams.Store.
func (s *Store) Metadata(name string) (streams.Metadata, error) {
	if err := s.check(name); err != nil {
		return streams.Metadata{}, err
	}
	var md streams.Metadata
	err := s.view(name, "metadata", func(tx Tx) error {
		m, err := s.live(tx, name)
		if err != nil {
			return err
		}
		md = streams.Metadata{
			Config: m.Config, CreatedAt: m.CreatedAt, ExpiresAt: m.ExpiresAt, Closed: m.Closed,
			Tail: m.Tail, Bytes: m.Bytes, Forks: m.Refs, ForkOf: m.ForkOf, ForkOffset: m.ForkOffset,
			LastWriterSeq: m.LastWriterSeq,
		}
		return nil
	})
	return md, err
}

// CloseStream implements streams.Store.
func (s *Store) CloseStream(name string) error {
	if err := s.check(name); err != nil {
		return err
	}
	err := s.update(name, "close stream", func(tx Tx) error {
		m, err := s.live(tx, name)
		if err != nil || m.Closed {
			return err
		}
		m.Closed = true
		s.slide(m)
		return tx.PutMeta(name, m)
	})
	if err == nil {
		s.notify(name)
	}
	return err
}

// Touch implements streams.Store.
func (s *Store) Touch(name string) error {
	if err := s.check(name); err != nil {
		return err
	}
	return s.update(name, "touch", func(tx Tx) error {
		m, err := s.live(tx, name)
		if err != nil || m.Config.TTL <= 0 {
			return err
		}
		s.slide(m)
		return tx.PutMeta(name, m)
	})
}

// Delete implements streams.Store.
func (s *Store) Delete(name string) error {
	if err := s.check(name); err != nil {
		return err
	}
	var freed uint64
	var parent string
	err := s.update(name, "delete", func(tx Tx) error {
		freed, parent = 0, ""
		m, err := s.live(tx, name)
		if err != nil {
			return err
		}
		if m.Refs > 0 {
			m.Tombstone = true
			return tx.PutMeta(name, m)
		}
		freed, parent = m.Bytes, m.ForkOf
		return tx.Delete(name)
	})
	if err != nil {
		return err
	}
	s.release(freed)
	s.notify(name)
	if parent != "" {
		return s.unref(parent)
	}
	return nil
}

// purgeExpired removes name if it expired and has no forks.
func (s *Store) purgeExpired(name string) error {
	_, err := s.purge(name, false)
	return err
}

// purgeDead removes name if it is a tombstone or expired, and has no
// forks.
func (s *Store) purgeDead(name string) error {
	_, err := s.purge(name, true)
	return err
}

// purge removes name if it is dead (expired or, with tombstones, a
// tombstone) and has no forks, and releases its bytes. If name lives and
// has an expiry, purge returns it: a sliding TTL moves it later.
func (s *Store) purge(name string, tombstones bool) (time.Time, error) {
	var freed uint64
	var parent string
	var expires time.Time
	err := s.update(name, "purge", func(tx Tx) error {
		freed, parent, expires = 0, "", time.Time{}
		m, err := tx.Meta(name)
		if err != nil || m == nil {
			return err
		}
		expired := isExpired(m, s.o.Clock())
		if !expired && !m.Tombstone {
			expires = m.ExpiresAt
		}
		if m.Refs > 0 {
			return nil
		}
		dead := expired && !m.Tombstone
		if tombstones {
			dead = dead || m.Tombstone
		}
		if !dead {
			return nil
		}
		freed, parent = m.Bytes, m.ForkOf
		return tx.Delete(name)
	})
	if err != nil {
		return time.Time{}, err
	}
	s.release(freed)
	if parent != "" {
		return expires, s.unref(parent)
	}
	return expires, nil
}

// unref drops one fork reference of name and removes the tombstones (or
// expired streams) left without forks, up the chain.
func (s *Store) unref(name string) error {
	for name != "" {
		var freed uint64
		next := ""
		err := s.update(name, "release fork source", func(tx Tx) error {
			freed, next = 0, ""
			m, err := tx.Meta(name)
			if err != nil || m == nil {
				return err
			}
			if m.Refs > 0 {
				m.Refs--
			}
			if m.Refs == 0 && (m.Tombstone || isExpired(m, s.o.Clock())) {
				freed, next = m.Bytes, m.ForkOf
				return tx.Delete(name)
			}
			return tx.PutMeta(name, m)
		})
		if err != nil {
			return err
		}
		s.release(freed)
		name = next
	}
	return nil
}

// Fork implements streams.Store.
func (s *Store) Fork(name, source string, at streams.Offset, cfg streams.Config) (bool, error) {
	if err := s.check(name); err != nil {
		return false, err
	}
	if err := s.check(source); err != nil {
		return false, err
	}
	if err := cfg.Validate(); err != nil {
		return false, err
	}
	if name == source {
		return false, streams.Errorf(streams.ClassBadRequest, streams.ErrBadConfig, name, "a stream cannot fork itself")
	}
	if err := s.sweep(); err != nil {
		return false, err
	}
	err := s.update(source, "fork: reference source", func(tx Tx) error {
		m, err := s.live(tx, source)
		if err != nil {
			return err
		}
		if at == streams.Now {
			at = m.Tail
		} else if at.Compare(m.Tail) > 0 {
			return streams.Errorf(streams.ClassBadRequest, streams.ErrBadOffset, source, "fork offset %v past the tail %v", at, m.Tail)
		}
		if cfg.ContentType == "" {
			cfg.ContentType = m.Config.ContentType
		} else if cfg.ContentType != m.Config.ContentType {
			return streams.Errorf(streams.ClassBadRequest, streams.ErrBadConfig, name, "content type %q differs from the source's %q", cfg.ContentType, m.Config.ContentType)
		}
		m.Refs++
		return tx.PutMeta(source, m)
	})
	if err != nil {
		return false, err
	}
	created := false
	var expires time.Time
	err = s.update(name, "fork: create", func(tx Tx) error {
		created = false
		m, err := tx.Meta(name)
		if err != nil {
			return err
		}
		if m != nil {
			if !m.Tombstone && !isExpired(m, s.o.Clock()) && m.ForkOf == source && m.ForkOffset == at && m.Config.Equal(cfg) {
				return nil
			}
			return &streams.Error{Class: streams.ClassConflict, Kind: streams.ErrExists, Stream: name}
		}
		m = s.newMeta(cfg)
		m.ForkOf, m.ForkOffset, m.Tail = source, at, at
		created, expires = true, m.ExpiresAt
		return tx.PutMeta(name, m)
	})
	if err != nil || !created {
		if uerr := s.unref(source); err == nil {
			err = uerr
		}
		return false, err
	}
	s.track(name, expires)
	s.notify(name)
	return true, nil
}

// Capabilities implements streams.Store.
func (s *Store) Capabilities() streams.Capabilities { return s.o.Caps }

// Close implements streams.Store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return &streams.Error{Class: streams.ClassUnavailable, Kind: streams.ErrClosed}
	}
	s.mu.Lock()
	for name, ch := range s.waiters {
		close(ch)
		delete(s.waiters, name)
	}
	s.mu.Unlock()
	return s.b.Close()
}
