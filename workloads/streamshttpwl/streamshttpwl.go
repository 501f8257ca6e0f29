// Package streamshttpwl is the streams-http family of the workloads
// driver: Durable Streams servers measured over their HTTP protocol, from
// the same client, so that ordeal's server and the Node reference server
// are compared side by side in one run.
//
// Engines: "ordeal" is engines/streams/httpserver over the acid engine in
// the engine's directory, served in process on a loopback TCP listener
// (engine parameters other than long_poll go to acid); "reference" is the
// Node reference server, file-backed in the engine's directory, run by
// httpstore.Process from the template in the engine parameter "cmd"
// (default "node ref-server.mjs --port {port} --dir {dir}") in the
// directory "workdir" (default: engines/streams/httpserver/conformance
// found from the working directory upwards, where npm ci installed it).
// The reference is the baseline: a report gives ordeal's throughput as a
// fraction of it.
//
// Operations, each one HTTP exchange or more: append is one POST of one
// message to the worker's own stream, naming an idempotent producer; read
// is a catch-up GET of the preloaded stream from offset -1 to its tail;
// tail is one POST to the worker's tail stream, returning when the
// worker's long-poll reader (a goroutine looping on live=long-poll GETs)
// has received it: the delivery latency of a live reader.
//
// Importing it registers the family with the workloads package.
package streamshttpwl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	hp "github.com/ordeal-dev/ordeal/engines/streams/httpproto"
	"github.com/ordeal-dev/ordeal/engines/streams/httpserver"
	"github.com/ordeal-dev/ordeal/engines/streams/httpstore"
	"github.com/ordeal-dev/ordeal/workloads"
)

func init() { workloads.RegisterFamily(Family{}) }

// Names of the family and its engines.
const (
	Name      = "streams-http"
	Ordeal    = "ordeal"
	Reference = "reference"
	// DefaultReferenceCmd runs the Node reference server.
	DefaultReferenceCmd = "node ref-server.mjs --port {port} --dir {dir}"
	// ReferenceDir is where npm ci installs the reference server, from the
	// module root.
	ReferenceDir = "engines/streams/httpserver/conformance"
)

// Operation indexes, in the order of Family.Ops.
const (
	OpAppend = iota
	OpRead
	OpTail
)

var ops = []workloads.OpInfo{
	OpAppend: {Name: "append", Doc: "one POST of one message to the worker's stream, with idempotent producer headers", Primary: true},
	OpRead:   {Name: "read", Doc: "a catch-up GET of the preloaded stream from offset -1 to its tail"},
	OpTail:   {Name: "tail", Doc: "one POST to the worker's tail stream, returning when its long-poll reader received the message", Primary: true},
}

var params = []workloads.Param{
	{Name: "producer", Default: "true", Doc: "appends name an idempotent producer (id, epoch 0, increasing sequence)", Check: checkBool},
}

func checkBool(s string) error {
	if _, err := strconv.ParseBool(s); err != nil {
		return fmt.Errorf("%q: want true or false", s)
	}
	return nil
}

// Family is the streams-http workload family.
type Family struct{}

var _ workloads.Family = Family{}

func (Family) Name() string { return Name }
func (Family) Doc() string {
	return "durable streams servers over HTTP: ordeal's server (acid) and the Node reference server (baseline)"
}
func (Family) Ops() []workloads.OpInfo               { return slices.Clone(ops) }
func (Family) Params() []workloads.Param             { return slices.Clone(params) }
func (Family) ItemUnit() string                      { return "messages" }
func (Family) Baseline() string                      { return Reference }
func (Family) Engines() []string                     { return []string{Ordeal, Reference} }
func (Family) Supports(string, *workloads.Spec) bool { return true }
func (Family) Validate(s *workloads.Spec) []workloads.FieldError {
	if _, ok := s.Mix["read"]; ok && s.Preload == 0 {
		return []workloads.FieldError{{Field: "mix.read", Msg: "catch-up read of an empty stream: set a preload"}}
	}
	return nil
}

// StatusError is an HTTP answer an operation did not expect.
type StatusError struct {
	Op     string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("streamshttpwl: %s: status %d: %s", e.Op, e.Status, e.Body)
}

// ErrorKind names the class of an error: the streams class of an HTTP
// status, or "transport".
func (Family) ErrorKind(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return "http_" + hp.Class(se.Status).String()
	}
	if errors.Is(err, ErrReaderStopped) {
		return "reader"
	}
	return "transport"
}

// ErrReaderStopped reports a tail reader that ended before it received the
// message a tail operation waits for.
var ErrReaderStopped = errors.New("streamshttpwl: the long-poll reader stopped")

// Open starts the engine's server and returns a target that drives it.
func (Family) Open(ctx context.Context, engine string, s *workloads.Spec, env workloads.Env) (workloads.Target, error) {
	producer, _ := strconv.ParseBool(s.Param("producer", "true"))
	t := &target{producer: producer, preload: int64(s.Preload), workers: map[int]*worker{}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	var err error
	switch engine {
	case Ordeal:
		err = t.startOrdeal(env)
	case Reference:
		err = t.startReference(ctx, env)
	default:
		err = fmt.Errorf("%w: streams-http engine %q (engines: %s, %s)", streams.ErrUnknownEngine, engine, Ordeal, Reference)
	}
	if err != nil {
		t.cancel()
		return nil, err
	}
	t.client = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}}
	return t, nil
}

func (t *target) startOrdeal(env workloads.Env) error {
	p := map[string]string{}
	longPoll := 30 * time.Second
	for k, v := range env.EngineParams {
		if k == "long_poll" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%w: long_poll %q", streams.ErrBadOption, v)
			}
			longPoll = d
			continue
		}
		p[k] = v
	}
	st, err := acid.Open(streams.Options{Dir: env.Dir, Params: p})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return errors.Join(err, st.Close())
	}
	h := httpserver.New(st, httpserver.Options{LongPollTimeout: longPoll})
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.base = "http://" + ln.Addr().String()
	t.stop = func() error {
		h.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return errors.Join(srv.Shutdown(ctx), st.Close())
	}
	return nil
}

func (t *target) startReference(ctx context.Context, env workloads.Env) error {
	cmd, workdir := DefaultReferenceCmd, ""
	for k, v := range env.EngineParams {
		switch k {
		case "cmd":
			cmd = v
		case "workdir":
			workdir = v
		default:
			return fmt.Errorf("%w: reference takes cmd and workdir, not %q", streams.ErrBadOption, k)
		}
	}
	if workdir == "" {
		var err error
		if workdir, err = FindReferenceDir(); err != nil {
			return err
		}
	}
	p, err := httpstore.StartProcess(ctx, httpstore.ProcessOptions{Command: cmd, Dir: env.Dir, WorkDir: workdir, Stderr: io.Discard})
	if err != nil {
		return err
	}
	t.base = p.URL()
	t.stop = func() error { return p.Terminate(10 * time.Second) }
	return nil
}

// FindReferenceDir looks for ReferenceDir with the reference server
// installed, from the working directory upwards.
func FindReferenceDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, ReferenceDir)
		if _, err := os.Stat(filepath.Join(cand, "node_modules", "@durable-streams", "server")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: the Node reference server is not installed in %s above the working directory (run npm ci there, or pass reference:workdir=DIR)", streams.ErrBadOption, ReferenceDir)
		}
		dir = parent
	}
}

// target is one server under load.
type target struct {
	base     string
	client   *http.Client
	producer bool
	preload  int64
	stop     func() error

	ctx     context.Context // ends the tail readers
	cancel  context.CancelFunc
	readers sync.WaitGroup

	mu      sync.Mutex
	workers map[int]*worker
}

func (t *target) Close() error {
	t.cancel()
	t.readers.Wait()
	t.client.CloseIdleConnections()
	return t.stop()
}

// call sends one request and returns the answer with its body read; an
// answer outside want is a *StatusError.
func (t *target) call(ctx context.Context, op, method, path string, q url.Values, h http.Header, body []byte, want ...int) (*http.Response, []byte, error) {
	u := t.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(want, resp.StatusCode) {
		return nil, nil, &StatusError{Op: op, Status: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	return resp, b, nil
}

var binary = http.Header{hp.HeaderContentType: {hp.DefaultContentType}}

// create creates a binary stream and returns its tail.
func (t *target) create(path string) (string, error) {
	resp, _, err := t.call(context.Background(), "create", http.MethodPut, path, nil, binary, nil, http.StatusCreated, http.StatusOK)
	if err != nil {
		return "", err
	}
	return resp.Header.Get(hp.HeaderNextOffset), nil
}

// Preload appends spec.Preload messages to the catch-up stream.
func (t *target) Preload(ctx context.Context, g *workloads.Gen) error {
	if t.preload == 0 {
		return nil
	}
	if _, err := t.create("/catchup"); err != nil {
		return err
	}
	for i := int64(0); i < t.preload; i++ {
		if _, _, err := t.call(ctx, "preload", http.MethodPost, "/catchup", nil, binary, g.Bytes(max(1, g.ValueSize())), http.StatusNoContent, http.StatusOK); err != nil {
			return err
		}
	}
	return nil
}

func (t *target) NewWorker(id int) workloads.Worker {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.workers[id]
	if !ok {
		w = &worker{t: t, id: id}
		t.workers[id] = w
	}
	return w
}

// worker is one driver goroutine's streams.
type worker struct {
	t       *target
	id      int
	created bool
	seq     uint64

	tailPath string
	tailSeq  uint64
	seen     chan string // offsets the tail reader reached, in order
}

func (w *worker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	switch op {
	case OpAppend:
		return w.append(g)
	case OpRead:
		return w.read()
	case OpTail:
		return w.tail(g)
	}
	return workloads.Work{}, fmt.Errorf("streamshttpwl: operation %d out of range", op)
}

func (w *worker) headers(seq *uint64) http.Header {
	h := binary.Clone()
	if w.t.producer {
		h.Set(hp.HeaderProducerID, fmt.Sprint("p", w.id))
		h.Set(hp.HeaderProducerEpoch, "0")
		h.Set(hp.HeaderProducerSeq, strconv.FormatUint(*seq, 10))
		*seq++
	}
	return h
}

func (w *worker) append(g *workloads.Gen) (workloads.Work, error) {
	path := fmt.Sprint("/w", w.id)
	if !w.created {
		if _, err := w.t.create(path); err != nil {
			return workloads.Work{}, err
		}
		w.created = true
	}
	data := g.Bytes(max(1, g.ValueSize()))
	if _, _, err := w.t.call(context.Background(), "append", http.MethodPost, path, nil, w.headers(&w.seq), data, http.StatusOK, http.StatusNoContent); err != nil {
		return workloads.Work{}, err
	}
	return workloads.Work{Items: 1, BytesWritten: int64(len(data))}, nil
}

// read reads the catch-up stream from its start to its tail.
func (w *worker) read() (workloads.Work, error) {
	from := hp.OffsetStart
	var n int64
	for i := 0; ; i++ {
		resp, b, err := w.t.call(context.Background(), "read", http.MethodGet, "/catchup", url.Values{hp.QueryOffset: {from}}, nil, nil, http.StatusOK)
		if err != nil {
			return workloads.Work{}, err
		}
		n += int64(len(b))
		next := resp.Header.Get(hp.HeaderNextOffset)
		if resp.Header.Get(hp.HeaderUpToDate) == "true" || next == from || i > 1<<20 {
			break
		}
		from = next
	}
	return workloads.Work{Items: w.t.preload, BytesRead: n}, nil
}

// tail appends to the worker's tail stream and waits until its reader has
// received the message.
func (w *worker) tail(g *workloads.Gen) (workloads.Work, error) {
	if w.seen == nil {
		w.tailPath = fmt.Sprint("/t", w.id)
		at, err := w.t.create(w.tailPath)
		if err != nil {
			return workloads.Work{}, err
		}
		w.seen = make(chan string, 64)
		w.t.readers.Add(1)
		go w.t.tailReader(w.tailPath, at, w.seen)
	}
	data := g.Bytes(max(1, g.ValueSize()))
	resp, _, err := w.t.call(context.Background(), "tail append", http.MethodPost, w.tailPath, nil, w.headers(&w.tailSeq), data, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return workloads.Work{}, err
	}
	next := resp.Header.Get(hp.HeaderNextOffset)
	for {
		select {
		case at, ok := <-w.seen:
			if !ok {
				return workloads.Work{}, fmt.Errorf("%w: %s", ErrReaderStopped, w.tailPath)
			}
			if at >= next { // offsets order lexicographically
				return workloads.Work{Items: 1, BytesWritten: int64(len(data)), BytesRead: int64(len(data))}, nil
			}
		case <-w.t.ctx.Done():
			return workloads.Work{}, w.t.ctx.Err()
		}
	}
}

// tailReader long-polls path from offset at, sending the offset it reached
// after each answer with data, until the target closes or a request fails.
func (t *target) tailReader(path, at string, seen chan<- string) {
	defer t.readers.Done()
	defer close(seen)
	for {
		resp, _, err := t.call(t.ctx, "long-poll", http.MethodGet, path,
			url.Values{hp.QueryOffset: {at}, hp.QueryLive: {hp.LiveLongPoll}}, nil, nil, http.StatusOK, http.StatusNoContent)
		if err != nil {
			return
		}
		next := resp.Header.Get(hp.HeaderNextOffset)
		if resp.StatusCode == http.StatusOK && next != at {
			at = next
			select {
			case seen <- at:
			case <-t.ctx.Done():
				return
			}
		}
	}
}
