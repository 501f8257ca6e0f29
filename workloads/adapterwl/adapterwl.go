// Package adapterwl is the adapter family of the workloads driver: the
// message-queue storage SPI of package engines/adapter driven the way a
// broker drives it. Producers append batches (BatchWrite) to shards;
// consumers read sequentially by offset and commit group offsets; lookups
// scan by tag, find the newest record of a key and seek by timestamp; and a
// drain, as in the OpenMessaging Benchmark's backlog test, consumes a
// backlog produced while consumers were stopped (the preload) and measures
// how fast consumers catch up.
//
// # Engines
//
// Every engine in the adapter registry runs every workload; importing the
// package imports the engines the project ships (memory, pebble, segment,
// manager) and jetstream, NATS JetStream embedded, at its default sync
// setting (jetstream) and its strictest (jetstream-sync-always). The manager routes the family's shards to the storage type
// named by the route parameter. Two baselines run beside them:
//
//   - physical, the family's baseline: each produce batch is framed as a
//     log engine would frame it (offset, timestamp, key, tags, data, a
//     CRC-32C), written with one write after the previous batch in one
//     zero-filled-ahead file, and made durable with one fdatasync. No index,
//     no reads: what the disk gives at the same batch cadence. It runs only
//     produce.
//   - gomap, plain Go maps and slices under one lock per shard with none of
//     the SPI's validation, deletes or copies on read: the floor an
//     in-memory engine is compared against under the same driver.
//
// # Drain
//
// The drain op is the consumer-group loop: read read_len records from the
// group's position, commit the new position. Commits are mutations, and
// on engines that declare SyncOnWrite each one is durable, so the drain
// rate is bounded by one sync per read_len records: raise read_len to see
// the read path instead. The backlog is the preload; a group that reaches
// the tail hands over to a fresh group starting at offset 0, so the rate
// stays that of draining a backlog for the whole run.
//
// # Items
//
// Every operation counts the records it moved as items: records written
// by produce, records returned by consume, drain and tag_scan, one per
// key_lookup, ts_seek and commit that found something. A workload's item
// throughput is therefore records per second whatever its mix.
//
// Importing the package registers the family with the workloads package.
package adapterwl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	// The engines the project ships register themselves.
	_ "github.com/ordeal-dev/ordeal/engines/adapter/jetstream"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/manager"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/memory"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/adapter/segment"
	"github.com/ordeal-dev/ordeal/workloads"
)

func init() { workloads.RegisterFamily(Family{}) }

// Name is the family's name.
const Name = "adapter"

// Baseline engine names.
const (
	Physical = "physical"
	GoMap    = "gomap"
)

// Operation indexes, in the order of Family.Ops.
const (
	OpProduce = iota
	OpConsume
	OpTagScan
	OpKeyLookup
	OpTSSeek
	OpCommit
	OpDrain
)

var ops = []workloads.OpInfo{
	OpProduce:   {Name: "produce", Doc: "BatchWrite of one batch to the worker's shard; each record has a key drawn from keys, one of tags tags and the next timestamp", Primary: true},
	OpConsume:   {Name: "consume", Doc: "ReadByOffset of read_len records from the worker's cursor, which advances (and stays at the tail once caught up)", Primary: true},
	OpTagScan:   {Name: "tag_scan", Doc: "ReadByTag of read_len records with a random tag from an offset drawn from keys over the shard", Primary: true},
	OpKeyLookup: {Name: "key_lookup", Doc: "ReadByKey of a key drawn from keys", Primary: true},
	OpTSSeek:    {Name: "ts_seek", Doc: "OffsetByTimestamp of a timestamp drawn uniformly over those written", Primary: true},
	OpCommit:    {Name: "commit", Doc: "CommitOffset of the worker's cursor for its group", Primary: true},
	OpDrain:     {Name: "drain", Doc: "the consumer-group loop: OffsetByGroup-tracked ReadByOffset of read_len records then CommitOffset; a group that reached the tail is replaced by a fresh one starting at offset 0", Primary: true},
}

var params = []workloads.Param{
	{Name: "shards", Default: "1", Doc: "shards the workload uses; worker i produces to and consumes from shard i mod shards", Check: checkPositive},
	{Name: "tags", Default: "16", Doc: "distinct tags; each record carries one", Check: checkPositive},
	{Name: "read_len", Default: "100", Doc: "records one consume, drain or tag_scan asks for", Check: checkPositive},
	{Name: "route", Default: "segment", Doc: "storage type of the shards on adapter/manager"},
}

func checkPositive(s string) error {
	if v, err := strconv.ParseUint(s, 10, 64); err != nil || v == 0 || v > 1_000_000 {
		return fmt.Errorf("%q: want an integer in 1..1000000", s)
	}
	return nil
}

// Family is the adapter workload family.
type Family struct{}

var _ workloads.Family = Family{}

func (Family) Name() string { return Name }
func (Family) Doc() string {
	return "message-queue storage adapter engines; baselines: physical (the disk's limit: framed writes, each made durable by fdatasync, the best of append, preallocated overwrite and O_DIRECT), gomap (plain Go map)"
}
func (Family) Ops() []workloads.OpInfo   { return slices.Clone(ops) }
func (Family) Params() []workloads.Param { return slices.Clone(params) }
func (Family) ItemUnit() string          { return "records" }
func (Family) Baseline() string          { return Physical }

// Engines lists the registered adapter engines and the two baselines.
func (Family) Engines() []string {
	return append(adapter.Engines(), GoMap, Physical)
}

// Supports reports whether engine can run s: the physical baseline only
// produces; everything else runs every operation.
func (Family) Supports(engine string, s *workloads.Spec) bool {
	if engine != Physical {
		return true
	}
	for op := range s.Mix {
		if op != ops[OpProduce].Name {
			return false
		}
	}
	return true
}

// Validate rejects reads of shards that stay empty and a route the
// registry does not know.
func (Family) Validate(s *workloads.Spec) []workloads.FieldError {
	var errs []workloads.FieldError
	_, produces := s.Mix[ops[OpProduce].Name]
	for _, o := range ops[OpConsume:] {
		if _, ok := s.Mix[o.Name]; ok && !produces && s.Preload == 0 {
			errs = append(errs, workloads.FieldError{Field: "mix." + o.Name,
				Msg: o.Name + " on shards that stay empty: add produce to the mix or a preload"})
		}
	}
	if r := s.Param("route", "segment"); !slices.Contains(adapter.Engines(), r) || r == "manager" {
		errs = append(errs, workloads.FieldError{Field: "params.route",
			Msg: fmt.Sprintf("%q is not a registered storage type other than manager (registered: %v)", r, adapter.Engines())})
	}
	return errs
}

// ErrorKind names the adapter's sentinel errors.
func (Family) ErrorKind(err error) string {
	return workloads.KindOf(err,
		workloads.ErrorName{Err: adapter.ErrNotFound, Name: "not_found"},
		workloads.ErrorName{Err: adapter.ErrShardNotFound, Name: "shard_not_found"},
		workloads.ErrorName{Err: adapter.ErrInvalidArgument, Name: "invalid_argument"},
		workloads.ErrorName{Err: adapter.ErrClosed, Name: "closed"},
		workloads.ErrorName{Err: adapter.ErrFailed, Name: "failed"},
		workloads.ErrorName{Err: adapter.ErrCorrupt, Name: "corrupt"},
	)
}

// settings are a spec's parameters, parsed.
type settings struct {
	shards, tags, readLen int
	route                 string
	keys                  uint64
}

func parseSettings(s *workloads.Spec) settings {
	n := func(name, def string) int {
		v, _ := strconv.Atoi(s.Param(name, def))
		return max(1, v)
	}
	return settings{shards: n("shards", "1"), tags: n("tags", "16"), readLen: n("read_len", "100"),
		route: s.Param("route", "segment"), keys: uint64(min(max(1, s.Keys.Count), 1<<20))}
}

// Open opens a registered engine in env.Dir, or a baseline, and creates the
// workload's shards.
func (Family) Open(ctx context.Context, engine string, s *workloads.Spec, env workloads.Env) (workloads.Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	set := parseSettings(s)
	if engine == Physical {
		return openPhysical(env.Dir, int64(s.Preload), set, env.EngineParams, 8+int(s.Batch.Mean()*(s.Value.Mean()+40)))
	}
	var (
		a   adapter.StorageAdapter
		err error
	)
	storageType := engine
	switch engine {
	case GoMap:
		if len(env.EngineParams) > 0 {
			return nil, fmt.Errorf("%w: the gomap baseline takes no parameters, got %v", adapter.ErrBadOption, env.EngineParams)
		}
		a = newGoMap()
	case "manager":
		storageType = set.route
		a, err = adapter.Open(engine, adapter.Options{Dir: env.Dir, Params: env.EngineParams})
	default:
		a, err = adapter.Open(engine, adapter.Options{Dir: env.Dir, Params: env.EngineParams})
	}
	if err != nil {
		return nil, err
	}
	t := &engineTarget{a: a, set: set, preload: int64(s.Preload), shards: make([]*shardState, set.shards), names: newNames(set)}
	for i := range t.shards {
		name := "shard-" + strconv.Itoa(i)
		if err := a.CreateShard(ctx, adapter.ShardConfig{Name: name, StorageType: storageType}); err != nil {
			_ = a.Close()
			return nil, fmt.Errorf("adapterwl: create %s: %w", name, err)
		}
		t.shards[i] = &shardState{name: name}
	}
	return t, nil
}

// tsBase is the first record's timestamp (Unix milliseconds); each record
// written gets the next one, so timestamps grow with offsets per shard.
const tsBase = 1_700_000_000_000

// shardState is what the workload knows of one shard.
type shardState struct {
	name string
	next atomic.Uint64 // offsets below next are known written
	mu   sync.Mutex    // orders writes with the timestamps they take
	ts   int64         // timestamps handed out so far
}

// engineTarget runs the family's operations on an adapter engine.
type engineTarget struct {
	a       adapter.StorageAdapter
	set     settings
	preload int64
	shards  []*shardState
	groups  atomic.Uint64 // fresh drain groups handed out
	names   names
}

// names are the keys and tag sets records get, made once so that the
// driver's cost per record stays small beside the engine's.
type names struct {
	keys []string
	tags [][]string
}

func newNames(set settings) names {
	n := names{keys: make([]string, set.keys), tags: make([][]string, set.tags)}
	for i := range n.keys {
		n.keys[i] = "key-" + strconv.Itoa(i)
	}
	for i := range n.tags {
		n.tags[i] = []string{"tag-" + strconv.Itoa(i)}
	}
	return n
}

func (t *engineTarget) Close() error { return t.a.Close() }

// Preload produces spec.Preload records round-robin over the shards in
// batches of up to 1000: the backlog a drain consumes.
func (t *engineTarget) Preload(ctx context.Context, g *workloads.Gen) error {
	remaining := int(t.preload)
	for i := 0; remaining > 0; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(remaining, 1000)
		w := &engineWorker{t: t, sh: t.shards[i%len(t.shards)]}
		if _, err := w.produce(n, g); err != nil {
			return err
		}
		remaining -= n
	}
	return nil
}

func (t *engineTarget) NewWorker(id int) workloads.Worker {
	sh := t.shards[max(0, id)%len(t.shards)]
	return &engineWorker{t: t, sh: sh, group: "consumer-" + strconv.Itoa(id)}
}

type engineWorker struct {
	t      *engineTarget
	sh     *shardState
	buf    []adapter.Record
	cursor uint64 // consume position
	group  string
	drainG string // current drain group
	drainC uint64 // its position
}

func recordsWork(rs []adapter.Record) workloads.Work {
	var b int64
	for _, r := range rs {
		b += int64(len(r.Data))
	}
	return workloads.Work{Items: int64(len(rs)), BytesRead: b}
}

func (w *engineWorker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	t, sh := w.t, w.sh
	ctx := context.Background()
	switch op {
	case OpProduce:
		return w.produce(g.BatchSize(), g)
	case OpConsume:
		rs, err := t.a.ReadByOffset(ctx, sh.name, w.cursor, t.set.readLen)
		if len(rs) > 0 {
			w.cursor = rs[len(rs)-1].Offset + 1
		}
		return recordsWork(rs), err
	case OpTagScan:
		next := sh.next.Load()
		if next == 0 {
			return workloads.Work{}, nil
		}
		tag := t.names.tags[g.Rand.IntN(t.set.tags)][0]
		rs, err := t.a.ReadByTag(ctx, sh.name, tag, g.Key(next), t.set.readLen)
		return recordsWork(rs), err
	case OpKeyLookup:
		r, err := t.a.ReadByKey(ctx, sh.name, t.names.keys[g.Key(t.set.keys)])
		if errors.Is(err, adapter.ErrNotFound) {
			return workloads.Work{}, nil
		}
		return workloads.Work{Items: 1, BytesRead: int64(len(r.Data))}, err
	case OpTSSeek:
		sh.mu.Lock()
		hi := sh.ts
		sh.mu.Unlock()
		if hi == 0 {
			return workloads.Work{}, nil
		}
		_, err := t.a.OffsetByTimestamp(ctx, sh.name, tsBase+g.Rand.Int64N(hi))
		if errors.Is(err, adapter.ErrNotFound) {
			return workloads.Work{}, nil
		}
		return workloads.Work{Items: 1}, err
	case OpCommit:
		return workloads.Work{Items: 1}, t.a.CommitOffset(ctx, w.group, sh.name, w.cursor)
	case OpDrain:
		return w.drain(ctx)
	}
	return workloads.Work{}, fmt.Errorf("adapterwl: operation %d out of range", op)
}

// drain runs one step of a consumer group catching up: read from the
// group's position, commit the new position. A group that reached the tail
// hands over to a fresh group starting at 0, so the drain rate stays the
// rate of consuming a backlog for as long as the run lasts.
func (w *engineWorker) drain(ctx context.Context) (workloads.Work, error) {
	t, sh := w.t, w.sh
	if w.drainG == "" {
		w.drainG, w.drainC = "drain-"+strconv.FormatUint(t.groups.Add(1), 10), 0
	}
	rs, err := t.a.ReadByOffset(ctx, sh.name, w.drainC, t.set.readLen)
	if err != nil {
		return workloads.Work{}, err
	}
	if len(rs) == 0 {
		w.drainG = ""
		return workloads.Work{}, nil
	}
	w.drainC = rs[len(rs)-1].Offset + 1
	work := recordsWork(rs)
	return work, t.a.CommitOffset(ctx, w.drainG, sh.name, w.drainC)
}

// produce writes one batch of n records to the worker's shard.
func (w *engineWorker) produce(n int, g *workloads.Gen) (workloads.Work, error) {
	t, sh := w.t, w.sh
	if cap(w.buf) < n {
		w.buf = make([]adapter.Record, n)
	}
	batch := w.buf[:n]
	var bytes int64
	for i := range batch {
		batch[i] = adapter.Record{
			Key:  t.names.keys[g.Key(t.set.keys)],
			Tags: t.names.tags[g.Rand.IntN(t.set.tags)],
			Data: g.Bytes(g.ValueSize()),
		}
		bytes += int64(len(batch[i].Data))
	}
	sh.mu.Lock()
	for i := range batch {
		batch[i].Timestamp = tsBase + sh.ts
		sh.ts++
	}
	sh.mu.Unlock()
	offs, err := t.a.BatchWrite(context.Background(), sh.name, batch)
	if err != nil {
		return workloads.Work{}, err
	}
	if len(offs) > 0 {
		last := offs[len(offs)-1] + 1
		for {
			cur := sh.next.Load()
			if cur >= last || sh.next.CompareAndSwap(cur, last) {
				break
			}
		}
	}
	return workloads.Work{Items: int64(n), BytesWritten: bytes}, nil
}
