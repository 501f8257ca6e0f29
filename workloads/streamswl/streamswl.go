// Package streamswl is the streams family of the workloads driver: it runs
// the operations of a Durable Streams server against any engine in the
// streams registry, and against "physical", the baseline that appends the
// same framed bytes to one file with one fdatasync per append, which is
// what the disk gives.
//
// Each driver worker owns a stream and an idempotent producer on it.
// append is one producer append of one message. tail appends one message
// to the worker's tail stream, on which a reader goroutine of the target
// blocks in Wait, and returns when that reader has read the message: its
// latency is the delivery latency of a long-poll reader (the durable
// append plus the wake-up and the read), and the difference with append's
// latency in the same run is what notification costs. fork extends the
// worker's chain of forks by one (a fork of the previous link at its
// tail, then one append to it) and reads the new link from the start,
// through the whole chain; at fork_depth links the chain is deleted, leaf
// first, and started again.
//
// Importing it registers the family with the workloads package.
package streamswl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/workloads"
)

func init() { workloads.RegisterFamily(Family{}) }

// Name is the family's name.
const Name = "streams"

// Physical is the baseline engine's name.
const Physical = "physical"

// Operation indexes, in the order of Family.Ops.
const (
	OpAppend = iota
	OpTail
	OpFork
	OpRead
)

var ops = []workloads.OpInfo{
	OpAppend: {Name: "append", Doc: "one idempotent-producer append of one message to the worker's stream", Primary: true},
	OpTail:   {Name: "tail", Doc: "one append to the worker's tail stream, returning when the reader blocked in Wait on it has read the message (delivery latency)", Primary: true},
	OpFork:   {Name: "fork", Doc: "fork the last link of the worker's fork chain at its tail, append one message to the fork and read it from the start through the chain"},
	OpRead:   {Name: "read", Doc: "read the worker's stream from the start"},
}

var params = []workloads.Param{
	{Name: "producer", Default: "true", Doc: "appends name an idempotent producer (id, epoch 0, increasing sequence)", Check: checkBool},
	{Name: "fork_depth", Default: "8", Doc: "links of a fork chain before it is deleted and started again", Check: checkDepth},
}

func checkBool(s string) error {
	if _, err := strconv.ParseBool(s); err != nil {
		return fmt.Errorf("%q: want true or false", s)
	}
	return nil
}

func checkDepth(s string) error {
	if v, err := strconv.Atoi(s); err != nil || v < 1 || v > 1000 {
		return fmt.Errorf("%q: want an integer in 1..1000", s)
	}
	return nil
}

// Family is the streams workload family.
type Family struct{}

var _ workloads.Family = Family{}

func (Family) Name() string { return Name }
func (Family) Doc() string {
	return "durable streams engines (streams.Store); baseline: physical (the disk's limit: framed writes, each made durable by fdatasync, the best of append, preallocated overwrite and O_DIRECT)"
}
func (Family) Ops() []workloads.OpInfo   { return slices.Clone(ops) }
func (Family) Params() []workloads.Param { return slices.Clone(params) }
func (Family) ItemUnit() string          { return "messages" }
func (Family) Baseline() string          { return Physical }

// Engines lists the registered streams engines and the physical baseline.
func (Family) Engines() []string { return append(streams.Names(), Physical) }

// Supports reports whether engine can run s: the baseline only appends.
func (Family) Supports(engine string, s *workloads.Spec) bool {
	if engine != Physical {
		return true
	}
	for op := range s.Mix {
		if op != ops[OpAppend].Name {
			return false
		}
	}
	return true
}

// Validate rejects reads of streams that stay empty.
func (Family) Validate(s *workloads.Spec) []workloads.FieldError {
	if _, ok := s.Mix["read"]; ok {
		if _, app := s.Mix["append"]; !app && s.Preload == 0 {
			return []workloads.FieldError{{Field: "mix.read", Msg: "read of a stream that stays empty: add append to the mix or a preload"}}
		}
	}
	return nil
}

// ErrorKind names the class of a streams error.
func (Family) ErrorKind(err error) string {
	if errors.Is(err, streams.ErrClosed) {
		return "closed"
	}
	var e *streams.Error
	if !errors.As(err, &e) {
		return "other"
	}
	switch e.Class {
	case streams.ClassUnavailable:
		return "unavailable"
	case streams.ClassInsufficientStorage:
		return "insufficient_storage"
	case streams.ClassStorage:
		return "storage"
	case streams.ClassCapacity:
		return "capacity"
	case streams.ClassNotFound:
		return "not_found"
	case streams.ClassGone:
		return "gone"
	case streams.ClassConflict:
		return "conflict"
	case streams.ClassBadRequest:
		return "bad_request"
	}
	return "other"
}

// Open opens a registered engine in env.Dir, or the physical baseline.
func (Family) Open(ctx context.Context, engine string, s *workloads.Spec, env workloads.Env) (workloads.Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if engine == Physical {
		return openPhysical(env.Dir, int64(s.Preload), env.EngineParams, int(s.Value.Mean())+frameHeader)
	}
	st, err := streams.Open(engine, streams.Options{Dir: env.Dir, Params: env.EngineParams})
	if err != nil {
		return nil, err
	}
	producer, _ := strconv.ParseBool(s.Param("producer", "true"))
	depth, _ := strconv.Atoi(s.Param("fork_depth", "8"))
	rctx, cancel := context.WithCancel(context.Background())
	return &target{s: st, producer: producer, depth: depth, preload: int64(s.Preload), ctx: rctx, cancel: cancel}, nil
}

// target runs the family's operations on a streams.Store.
type target struct {
	s        streams.Store
	producer bool
	depth    int
	preload  int64

	ctx     context.Context // ends the tail readers
	cancel  context.CancelFunc
	readers sync.WaitGroup

	mu      sync.Mutex
	workers map[int]*worker
}

func (t *target) Close() error {
	t.cancel()
	t.readers.Wait()
	return t.s.Close()
}

// Preload appends spec.Preload messages to the stream of worker 0.
func (t *target) Preload(ctx context.Context, g *workloads.Gen) error {
	w := t.worker(0)
	for i := int64(0); i < t.preload; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := w.append(g); err != nil {
			return err
		}
	}
	return nil
}

// NewWorker returns worker id's state; the preload's worker is worker 0.
func (t *target) NewWorker(id int) workloads.Worker { return t.worker(max(id, 0)) }

func (t *target) worker(id int) *worker {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.workers == nil {
		t.workers = map[int]*worker{}
	}
	if w, ok := t.workers[id]; ok {
		return w
	}
	w := &worker{t: t, id: id, stream: fmt.Sprint("w", id), producer: fmt.Sprint("p", id)}
	t.workers[id] = w
	return w
}

// worker is one driver goroutine's streams. The preload and worker 0 use
// the same one, one after the other.
type worker struct {
	t        *target
	id       int
	stream   string
	producer string
	created  bool
	seq      uint64

	tail    string
	tailSeq uint64
	seen    chan streams.Offset // offsets the tail reader read, in order

	chain    []string // the fork chain, root first
	chainGen int
}

func (w *worker) ensure() error {
	if w.created {
		return nil
	}
	if _, err := w.t.s.Create(w.stream, streams.Config{}); err != nil {
		return err
	}
	w.created = true
	return nil
}

func (w *worker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	switch op {
	case OpAppend:
		return w.append(g)
	case OpTail:
		return w.tailOp(g)
	case OpFork:
		return w.fork(g)
	case OpRead:
		if err := w.ensure(); err != nil {
			return workloads.Work{}, err
		}
		res, err := w.t.s.Read(w.stream, streams.Start)
		if err != nil {
			return workloads.Work{}, err
		}
		return readWork(res), nil
	}
	return workloads.Work{}, fmt.Errorf("streamswl: operation %d out of range", op)
}

func readWork(res streams.ReadResult) workloads.Work {
	var b int64
	for _, m := range res.Messages {
		b += int64(len(m.Data))
	}
	return workloads.Work{Items: int64(len(res.Messages)), BytesRead: b}
}

func (w *worker) options(seq *uint64) streams.AppendOptions {
	if !w.t.producer {
		return streams.AppendOptions{}
	}
	p := &streams.Producer{ID: w.producer, Seq: *seq}
	*seq++
	return streams.AppendOptions{Producer: p}
}

func (w *worker) append(g *workloads.Gen) (workloads.Work, error) {
	if err := w.ensure(); err != nil {
		return workloads.Work{}, err
	}
	data := g.Bytes(max(1, g.ValueSize()))
	if _, err := w.t.s.Append(w.stream, data, w.options(&w.seq)); err != nil {
		return workloads.Work{}, err
	}
	return workloads.Work{Items: 1, BytesWritten: int64(len(data))}, nil
}

// tailOp appends to the tail stream and waits for its reader to read the
// message.
func (w *worker) tailOp(g *workloads.Gen) (workloads.Work, error) {
	if w.seen == nil {
		w.tail = fmt.Sprint("t", w.id)
		if _, err := w.t.s.Create(w.tail, streams.Config{}); err != nil {
			return workloads.Work{}, err
		}
		w.seen = make(chan streams.Offset, 64)
		w.t.readers.Add(1)
		go w.t.tailReader(w.tail, w.seen)
	}
	data := g.Bytes(max(1, g.ValueSize()))
	res, err := w.t.s.Append(w.tail, data, w.options(&w.tailSeq))
	if err != nil {
		return workloads.Work{}, err
	}
	for {
		select {
		case at, ok := <-w.seen:
			if !ok {
				return workloads.Work{}, fmt.Errorf("streamswl: the tail reader of %s stopped: %w", w.tail, ErrReaderStopped)
			}
			if at.Compare(res.Offset) >= 0 {
				return workloads.Work{Items: 1, BytesWritten: int64(len(data)), BytesRead: int64(len(data))}, nil
			}
		case <-w.t.ctx.Done():
			return workloads.Work{}, w.t.ctx.Err()
		}
	}
}

// tailReader long-polls name from its start, sending the offset of every
// message it reads, until the target closes or the stream fails.
func (t *target) tailReader(name string, seen chan<- streams.Offset) {
	defer t.readers.Done()
	defer close(seen)
	next := streams.Start
	for {
		if err := t.s.Wait(t.ctx, name, next); err != nil {
			return
		}
		res, err := t.s.Read(name, next)
		if err != nil {
			return
		}
		for _, m := range res.Messages {
			select {
			case seen <- m.Offset:
			case <-t.ctx.Done():
				return
			}
		}
		next = res.Next
	}
}

// fork extends the worker's chain by one link and reads it through the
// chain; a full chain is deleted first.
func (w *worker) fork(g *workloads.Gen) (workloads.Work, error) {
	s := w.t.s
	if len(w.chain) >= w.t.depth {
		for i := len(w.chain) - 1; i >= 0; i-- {
			if err := s.Delete(w.chain[i]); err != nil {
				return workloads.Work{}, err
			}
		}
		w.chain = w.chain[:0]
		w.chainGen++
	}
	name := fmt.Sprintf("f%d-%d-%d", w.id, w.chainGen, len(w.chain))
	var err error
	if len(w.chain) == 0 {
		_, err = s.Create(name, streams.Config{})
	} else {
		_, err = s.Fork(name, w.chain[len(w.chain)-1], streams.Now, streams.Config{})
	}
	if err != nil {
		return workloads.Work{}, err
	}
	w.chain = append(w.chain, name)
	data := g.Bytes(max(1, g.ValueSize()))
	if _, err := s.Append(name, data, streams.AppendOptions{}); err != nil {
		return workloads.Work{}, err
	}
	res, err := s.Read(name, streams.Start)
	if err != nil {
		return workloads.Work{}, err
	}
	if len(res.Messages) != len(w.chain) {
		return workloads.Work{}, fmt.Errorf("streamswl: fork %s reads %d messages through its chain, want %d: %w", name, len(res.Messages), len(w.chain), ErrForkRead)
	}
	wk := readWork(res)
	wk.BytesWritten = int64(len(data))
	return wk, nil
}
