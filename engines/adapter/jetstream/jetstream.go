package jetstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sys/unix"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// Engine names: the engine with JetStream's defaults and a preset with its
// strictest sync setting, so that tools which take one parameter set per
// engine name (bench, jepsen-lite) run both side by side.
const (
	// StorageType is JetStream with its own defaults (sync_interval=2m).
	StorageType = "jetstream"
	// SyncAlways is JetStream with sync_interval=always, its strictest
	// setting.
	SyncAlways = "jetstream-sync-always"
)

// Parameter names and values.
const (
	ParamSyncInterval = "sync_interval"
	ParamMaxPayload   = "max_payload"
	ParamMaxBatch     = "max_batch"
	ParamTimeout      = "timeout"

	// Always is the sync_interval value of JetStream's SyncAlways.
	Always = "always"
)

// Defaults, each JetStream's own.
const (
	// DefaultSyncInterval is the server's default sync_interval.
	DefaultSyncInterval = 2 * time.Minute
	// DefaultMaxPayload is the server's default max_payload, the largest
	// message (one encoded record) it accepts.
	DefaultMaxPayload = server.MAX_PAYLOAD_SIZE
	// DefaultMaxBatch is the server's default limits.max_batch_size, the
	// most messages in one atomic batch.
	DefaultMaxBatch = 1000
	// DefaultTimeout is how long a call waits for the server when its
	// context has no deadline: the JetStream client's default API timeout.
	DefaultTimeout = 5 * time.Second
)

// maxInflightBatches bounds the atomic batches one shard has open at once,
// below the server's default limit of 50 per stream, so that concurrent
// BatchWrite callers wait here rather than being refused.
const maxInflightBatches = 32

// presets fix parameters for the registered names other than StorageType.
var presets = map[string]map[string]string{
	StorageType: nil,
	SyncAlways:  {ParamSyncInterval: Always},
}

func init() {
	for _, name := range []string{StorageType, SyncAlways} {
		adapter.Register(name, func(o adapter.Options) (adapter.StorageAdapter, error) { return OpenAs(name, o) })
	}
}

// Bugs plants known bugs in the engine, to prove that the checks that
// should catch them do. The zero value is the correct engine.
type Bugs struct {
	// SkipRecoveryCheck opens the engine without checking that JetStream
	// recovered every stream directory it found, so a stream whose
	// metadata is damaged vanishes silently.
	SkipRecoveryCheck bool
	// IgnoreFailedWrites keeps serving after a mutation the server refused
	// or did not answer, instead of failing the engine.
	IgnoreFailedWrites bool
	// IgnoreServerWriteErrors keeps serving after the server logged a
	// critical write error (a failed write or sync of its files), instead
	// of failing the engine.
	IgnoreServerWriteErrors bool
}

// settings are the parsed parameters.
type settings struct {
	syncAlways   bool
	syncInterval time.Duration
	maxPayload   int
	maxBatch     int
	timeout      time.Duration
}

func parseSettings(name string, params map[string]string) (settings, error) {
	fixed := presets[name]
	s := settings{syncInterval: DefaultSyncInterval, maxPayload: DefaultMaxPayload, maxBatch: DefaultMaxBatch, timeout: DefaultTimeout}
	if err := adapter.CheckParams(name, params, ParamSyncInterval, ParamMaxPayload, ParamMaxBatch, ParamTimeout); err != nil {
		return s, err
	}
	for k := range params {
		if f, ok := fixed[k]; ok {
			return s, fmt.Errorf("%w: engine %s fixes %s=%s; set %s on engine %s instead", adapter.ErrBadOption, name, k, f, k, StorageType)
		}
	}
	get := func(k string) (string, bool) {
		if v, ok := fixed[k]; ok {
			return v, true
		}
		v, ok := params[k]
		return v, ok
	}
	if v, ok := get(ParamSyncInterval); ok {
		if v == Always {
			s.syncAlways = true
		} else {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return s, fmt.Errorf("%w: %s %q: want %q or a positive duration (2m, 1s)", adapter.ErrBadOption, ParamSyncInterval, v, Always)
			}
			s.syncInterval = d
		}
	}
	if v, ok := get(ParamMaxPayload); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > 64<<20 {
			return s, fmt.Errorf("%w: %s %q: want bytes from 1024 to 67108864", adapter.ErrBadOption, ParamMaxPayload, v)
		}
		s.maxPayload = n
	}
	if v, ok := get(ParamMaxBatch); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return s, fmt.Errorf("%w: %s %q: want a count from 1 to 1000000", adapter.ErrBadOption, ParamMaxBatch, v)
		}
		s.maxBatch = n
	}
	if v, ok := get(ParamTimeout); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("%w: %s %q: want a positive duration", adapter.ErrBadOption, ParamTimeout, v)
		}
		s.timeout = d
	}
	return s, nil
}

// Engine is the adapter SPI on an embedded JetStream server.
type Engine struct {
	set  settings
	bugs Bugs
	dir  string

	lock *os.File // holds the flock on lockFile
	srv  *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	log  *serverLog

	closed  atomic.Bool
	failMu  sync.Mutex
	failure error
	// base ends when the engine fails or closes; every request to the
	// server ends with it.
	base     context.Context
	stopBase context.CancelFunc

	mu     sync.RWMutex // guards shards; held for writing across CreateShard and DeleteShard
	shards map[string]*shard

	retainMu sync.Mutex // serializes Retain
}

// shard is what the engine knows of one shard's stream.
type shard struct {
	cfg    adapter.ShardConfig
	stream string
	inc    string        // incarnation: names the shard's meta subjects
	floor  atomic.Uint64 // retention floor: offsets below it are dropped
	sem    chan struct{} // bounds open atomic batches
}

var (
	_ adapter.StorageAdapter = (*Engine)(nil)
	_ adapter.Retainer       = (*Engine)(nil)
)

// Open opens the engine with JetStream's defaults (StorageType) in o.Dir.
func Open(o adapter.Options) (*Engine, error) { return OpenAs(StorageType, o) }

// OpenAs opens the engine registered as name (StorageType or SyncAlways) in
// o.Dir.
func OpenAs(name string, o adapter.Options) (*Engine, error) {
	return OpenWithBugs(name, o, Bugs{})
}

// OpenWithBugs opens the engine with planted bugs; see Bugs.
func OpenWithBugs(name string, o adapter.Options, bugs Bugs) (*Engine, error) {
	if _, ok := presets[name]; !ok {
		return nil, fmt.Errorf("%w %q: the jetstream engines are %s and %s", adapter.ErrUnknownStorageType, name, StorageType, SyncAlways)
	}
	set, err := parseSettings(name, o.Params)
	if err != nil {
		return nil, err
	}
	if o.FS != nil && o.FS != vfs.Default {
		return nil, fmt.Errorf("%w: engine %s writes through the operating system (the JetStream server opens its own files) and cannot use the file system %T; leave Options.FS nil", adapter.ErrBadOption, name, o.FS)
	}
	if o.Dir == "" {
		return nil, fmt.Errorf("%w: engine %s needs a Dir", adapter.ErrBadOption, name)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: dir %q: %v", adapter.ErrBadOption, o.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("jetstream: create %s: %w", dir, err)
	}
	e := &Engine{set: set, bugs: bugs, dir: dir, shards: map[string]*shard{}}
	e.base, e.stopBase = context.WithCancel(context.Background())
	e.log = &serverLog{onWriteError: func(msg string) {
		if !e.bugs.IgnoreServerWriteErrors {
			e.fail(errors.New("server: " + msg))
		}
	}}
	if err := e.lockDir(); err != nil {
		return nil, err
	}
	if err := e.start(); err != nil {
		e.stop()
		return nil, err
	}
	if err := e.recover(); err != nil {
		e.stop()
		return nil, err
	}
	if err := e.failed(); err != nil {
		e.stop()
		return nil, fmt.Errorf("jetstream: open %s: %w", dir, err)
	}
	return e, nil
}

// lockFile is the file in Options.Dir the engine holds an exclusive flock
// on while open: two servers on one store would corrupt it.
const lockFile = "ordeal-jetstream.lock"

func (e *Engine) lockDir() error {
	f, err := os.OpenFile(filepath.Join(e.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("jetstream: lock %s: %w", e.dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrDirInUse, e.dir)
		}
		return fmt.Errorf("jetstream: lock %s: %w", e.dir, err)
	}
	e.lock = f
	return nil
}

// start runs the server on dir with no listener and connects to it in
// process.
func (e *Engine) start() error {
	opts := &server.Options{
		ServerName:   "ordeal-jetstream",
		Host:         "127.0.0.1",
		DontListen:   true,
		NoSigs:       true,
		NoLog:        true,
		JetStream:    true,
		StoreDir:     e.dir,
		MaxPayload:   int32(e.set.maxPayload),
		SyncAlways:   e.set.syncAlways,
		SyncInterval: e.set.syncInterval,
	}
	opts.JetStreamLimits.MaxBatchSize = e.set.maxBatch
	if e.set.maxPayload > server.MAX_PENDING_SIZE {
		opts.MaxPending = int64(e.set.maxPayload) * 2
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("%w: jetstream server options: %v", adapter.ErrBadOption, err)
	}
	srv.SetLoggerV2(e.log, false, false, false)
	e.srv = srv
	srv.Start()
	if !srv.ReadyForConnections(e.set.timeout + 10*time.Second) {
		return fmt.Errorf("jetstream: server in %s did not start: %s", e.dir, e.log.summary())
	}
	if !srv.JetStreamEnabled() {
		return fmt.Errorf("jetstream: JetStream did not start in %s: %s", e.dir, e.log.summary())
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("ordeal"), nats.MaxReconnects(0))
	if err != nil {
		return fmt.Errorf("jetstream: connect in process: %w", err)
	}
	e.nc = nc
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(e.set.timeout))
	if err != nil {
		return fmt.Errorf("jetstream: client: %w", err)
	}
	e.js = js
	return nil
}

// stop closes the connection and shuts the server down.
func (e *Engine) stop() {
	e.stopBase()
	if e.nc != nil {
		e.nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	}
	if e.lock != nil {
		_ = e.lock.Close() // releases the flock
	}
}

// streamsDir is where the server keeps the streams of the default account.
func (e *Engine) streamsDir() string {
	return filepath.Join(e.dir, server.JetStreamStoreDir, server.DEFAULT_GLOBAL_ACCOUNT, "streams")
}

// recover creates the meta stream if missing, loads every shard with its
// retention floor, finishes a retention purge a crash interrupted, and
// checks that the server recovered every stream directory on disk.
func (e *Engine) recover() error {
	ctx, cancel := context.WithTimeout(context.Background(), e.set.timeout+10*time.Second)
	defer cancel()
	cfg := jetstream.StreamConfig{
		Name:              metaStream,
		Subjects:          []string{metaPrefix + ".>"},
		Storage:           jetstream.FileStorage,
		Replicas:          1,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
	}
	if _, err := e.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("jetstream: create %s: %w", metaStream, err)
	}
	recovered := map[string]bool{metaStream: true}
	list := e.js.ListStreams(ctx)
	for info := range list.Info() {
		recovered[info.Config.Name] = true
		name, ok := info.Config.Metadata[mdShard]
		if !ok {
			continue
		}
		sh, err := shardOf(info.Config)
		if err != nil {
			return fmt.Errorf("jetstream: stream %s: %w", info.Config.Name, err)
		}
		floor, err := e.readFloor(ctx, sh)
		if err != nil {
			return fmt.Errorf("jetstream: shard %q: %w", name, err)
		}
		sh.floor.Store(floor)
		if floor > 0 && info.State.Msgs > 0 && info.State.FirstSeq <= floor {
			if _, err := e.purge(ctx, sh.stream, purgeRequest{Seq: floor + 1}); err != nil {
				return fmt.Errorf("jetstream: shard %q: finish the retention purge below offset %d: %w", name, floor, err)
			}
		}
		e.shards[name] = sh
	}
	if err := list.Err(); err != nil {
		return fmt.Errorf("jetstream: list streams: %w", err)
	}
	if e.bugs.SkipRecoveryCheck {
		return nil
	}
	return e.checkRecovered(recovered)
}

// checkRecovered fails with adapter.ErrCorrupt if a stream directory holds
// a stream the server did not recover (it logs a warning and goes on
// without it, which would lose the shard silently). A directory with
// neither metadata nor messages is what a creation cut short leaves, and
// is ignored.
func (e *Engine) checkRecovered(recovered map[string]bool) error {
	ents, err := os.ReadDir(e.streamsDir())
	if err != nil {
		return fmt.Errorf("jetstream: list %s: %w", e.streamsDir(), err)
	}
	for _, ent := range ents {
		if !ent.IsDir() || recovered[ent.Name()] {
			continue
		}
		d := filepath.Join(e.streamsDir(), ent.Name())
		if !holdsStream(d) {
			continue
		}
		return fmt.Errorf("%w: jetstream did not recover the stream in %s: %s", adapter.ErrCorrupt, d, e.log.summary())
	}
	return nil
}

// holdsStream reports whether a stream directory holds stream metadata or
// a non-empty message block.
func holdsStream(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, server.JetStreamMetaFile)); err == nil {
		return true
	}
	blks, _ := filepath.Glob(filepath.Join(dir, "msgs", "*.blk"))
	for _, b := range blks {
		if st, err := os.Stat(b); err == nil && st.Size() > 0 {
			return true
		}
	}
	return false
}

// shardOf rebuilds a shard from its stream's configuration.
func shardOf(c jetstream.StreamConfig) (*shard, error) {
	md := c.Metadata
	sh := &shard{stream: c.Name, inc: md[mdIncarnation], sem: make(chan struct{}, maxInflightBatches)}
	sh.cfg.Name = md[mdShard]
	sh.cfg.StorageType = md[mdStorageType]
	var err error
	if sh.cfg.SegmentSize, err = strconv.ParseInt(md[mdSegmentSize], 10, 64); err != nil {
		return nil, fmt.Errorf("%w: metadata %s %q", adapter.ErrCorrupt, mdSegmentSize, md[mdSegmentSize])
	}
	ret, err := strconv.ParseInt(md[mdRetention], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata %s %q", adapter.ErrCorrupt, mdRetention, md[mdRetention])
	}
	sh.cfg.Retention = time.Duration(ret)
	if err := sh.cfg.Validate(); err != nil || sh.inc == "" || streamName(sh.cfg.Name) != c.Name {
		return nil, fmt.Errorf("%w: metadata of shard %q (incarnation %q)", adapter.ErrCorrupt, sh.cfg.Name, sh.inc)
	}
	return sh, nil
}

// Capabilities: persistent; SyncOnWrite with sync_interval=always; files
// written by the server through the operating system, not Options.FS.
func (e *Engine) Capabilities() adapter.Capabilities {
	return adapter.Capabilities{Persistent: true, SyncOnWrite: e.set.syncAlways, UsesFS: false}
}

// Close shuts the server down. The server writes out what it buffers as it
// stops (see the package documentation).
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return adapter.ErrClosed
	}
	e.stop()
	return nil
}

// enter is the check every method makes first.
func (e *Engine) enter(ctx context.Context) error {
	if e.closed.Load() {
		return adapter.ErrClosed
	}
	if f := e.failed(); f != nil {
		return fmt.Errorf("%w: %v", adapter.ErrFailed, f)
	}
	return ctx.Err()
}

// fail records the first storage error and ends the requests in flight;
// every later call but Close returns adapter.ErrFailed.
func (e *Engine) fail(err error) {
	e.failMu.Lock()
	if e.failure == nil {
		e.failure = err
	}
	e.failMu.Unlock()
	e.stopBase()
}

// failed returns the error that failed the engine, or nil.
func (e *Engine) failed() error {
	e.failMu.Lock()
	defer e.failMu.Unlock()
	return e.failure
}

// lookup returns the shard named name.
func (e *Engine) lookup(name string) (*shard, error) {
	e.mu.RLock()
	sh, ok := e.shards[name]
	e.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", adapter.ErrShardNotFound, name)
	}
	return sh, nil
}

// withTimeout returns ctx for one request: it ends with ctx, after the
// engine's timeout if ctx has no deadline, and when the engine fails or
// closes.
func (e *Engine) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	var (
		rctx   context.Context
		cancel context.CancelFunc
	)
	if _, ok := ctx.Deadline(); ok {
		rctx, cancel = context.WithCancel(ctx)
	} else {
		rctx, cancel = context.WithTimeout(ctx, e.set.timeout)
	}
	stop := context.AfterFunc(e.base, cancel)
	return rctx, func() { stop(); cancel() }
}

// serverLog keeps the server's recent warnings and errors, to explain a
// failed start or recovery, and reports the server's critical write errors
// (a failed write or sync of a stream's files, after which the server
// stops answering that stream's publishes).
type serverLog struct {
	onWriteError func(msg string)

	mu    sync.Mutex
	lines []string
}

const serverLogLines = 32

func (l *serverLog) add(level, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.mu.Lock()
	if len(l.lines) == serverLogLines {
		l.lines = slices.Delete(l.lines, 0, 1)
	}
	l.lines = append(l.lines, level+": "+msg)
	l.mu.Unlock()
	if level != "warning" && strings.Contains(strings.ToLower(msg), "critical write error") && l.onWriteError != nil {
		l.onWriteError(msg)
	}
}

// summary returns the recorded lines, or a note that there are none.
func (l *serverLog) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "the server logged no warning or error"
	}
	return "server log: " + strings.Join(l.lines, "; ")
}

func (l *serverLog) Noticef(format string, v ...any) {}
func (l *serverLog) Debugf(format string, v ...any)  {}
func (l *serverLog) Tracef(format string, v ...any)  {}
func (l *serverLog) Warnf(format string, v ...any)   { l.add("warning", format, v...) }
func (l *serverLog) Errorf(format string, v ...any)  { l.add("error", format, v...) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.add("fatal", format, v...) }
