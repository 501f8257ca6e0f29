package httpstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	hp "github.com/ordeal-dev/ordeal/engines/streams/httpproto"
)

func init() {
	streams.Register("http", func(o streams.Options) (streams.Store, error) { return Open(o) })
}

// Defaults of the parameters.
const (
	DefaultPrefix  = "/v1/stream"
	DefaultTimeout = 10 * time.Second
	// ZeroOffset is the server offset the client takes for the start of a
	// stream it did not create: the offset the protocol's conformance suite
	// also forks at.
	ZeroOffset = "0000000000000000_0000000000000000"
)

// Store is a streams.Store over a Durable Streams server.
type Store struct {
	base    *url.URL
	prefix  string
	timeout time.Duration
	client  *http.Client
	ctx     context.Context
	cancel  context.CancelFunc
	closed  atomic.Bool
	nonce   string
	count   atomic.Uint64

	mu sync.Mutex
	// offsets maps a stream and a position, in the client's offsets, to
	// the server offset the client saw there.
	offsets map[string]map[streams.Offset]string
	// parents maps a fork the client made to its source and fork
	// position: a fork shares its source's offsets up to that position
	// (the protocol reads a fork at its source's offsets), so a position
	// the client saw in the source names the same server offset in the
	// fork.
	parents map[string]forkParent
}

// forkParent is the source of a fork and the position it was forked at.
type forkParent struct {
	source string
	at     streams.Offset
}

var _ streams.Store = (*Store)(nil)

// Open returns a Store for the server at o.Params["url"]. Parameters: url
// (required), prefix (the path streams live under, default /v1/stream),
// timeout (of one request other than a long-poll, default 10s). Dir, FS,
// Clock and the byte limits are the server's business and are ignored.
func Open(o streams.Options) (*Store, error) {
	if err := streams.CheckParams("http", o.Params, "url", "prefix", "timeout"); err != nil {
		return nil, err
	}
	raw := o.Params["url"]
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: http url %q is not http(s)://host[:port]", streams.ErrBadOption, raw)
	}
	prefix := DefaultPrefix
	if p, ok := o.Params["prefix"]; ok {
		prefix = strings.TrimSuffix(p, "/")
		if prefix != "" && !strings.HasPrefix(prefix, "/") {
			return nil, fmt.Errorf("%w: http prefix %q does not start with /", streams.ErrBadOption, p)
		}
	}
	timeout := DefaultTimeout
	if v, ok := o.Params["timeout"]; ok {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 {
			return nil, fmt.Errorf("%w: http timeout %q is not a positive duration", streams.ErrBadOption, v)
		}
	}
	var nb [8]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, fmt.Errorf("httpstore: nonce: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{
		base: &url.URL{Scheme: u.Scheme, Host: u.Host}, prefix: prefix, timeout: timeout,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}},
		ctx:    ctx, cancel: cancel, nonce: hex.EncodeToString(nb[:]),
		offsets: map[string]map[streams.Offset]string{}, parents: map[string]forkParent{},
	}, nil
}

// path returns the URL path of a stream.
func (s *Store) path(name string) string {
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.prefix + "/" + strings.Join(segs, "/")
}

// request is one call to the server.
type request struct {
	op, method, name string
	query            url.Values
	header           http.Header
	body             []byte
	live             bool // a long-poll: no client timeout, only ctx
	ctx              context.Context
}

// response is a server's answer, its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *Store) do(r request) (response, error) {
	if s.closed.Load() {
		return response{}, &streams.Error{Class: streams.ClassUnavailable, Kind: streams.ErrClosed, Stream: r.name}
	}
	ctx := r.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	if !r.live {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, s.timeout)
		defer c2()
	}
	u := *s.base
	u.Path = s.path(r.name)
	u.RawPath = ""
	if r.query != nil {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return response{}, streams.Unavailable(r.name, r.op, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if r.ctx != nil && r.ctx.Err() != nil {
			return response{}, r.ctx.Err()
		}
		return response{}, streams.Unavailable(r.name, r.op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if r.ctx != nil && r.ctx.Err() != nil {
			return response{}, r.ctx.Err()
		}
		return response{}, streams.Unavailable(r.name, r.op, fmt.Errorf("read body: %w", err))
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// refusal turns an error status into a *streams.Error, with the kind the
// status and headers tell for the operation (see the package
// documentation).
func refusal(r request, resp response) error {
	e := &streams.Error{Class: hp.Class(resp.status), Stream: r.name,
		Msg: fmt.Sprintf("%s: %d %s", r.op, resp.status, strings.TrimSpace(string(resp.body)))}
	h := resp.header
	switch resp.status {
	case http.StatusForbidden:
		e.Kind = streams.ErrStaleEpoch
		e.CurrentEpoch, _ = strconv.ParseUint(h.Get(hp.HeaderProducerEpoch), 10, 64)
	case http.StatusConflict:
		switch {
		case h.Get(hp.HeaderExpectedSeq) != "":
			e.Kind = streams.ErrSeqGap
			e.ExpectedSeq, _ = strconv.ParseUint(h.Get(hp.HeaderExpectedSeq), 10, 64)
			e.ReceivedSeq, _ = strconv.ParseUint(h.Get(hp.HeaderReceivedSeq), 10, 64)
		case hp.IsClosed(h.Get(hp.HeaderClosed)) && r.op == "append":
			e.Kind = streams.ErrStreamClosed
		case r.op == "append" && r.header.Get(hp.HeaderSeq) != "":
			e.Kind = streams.ErrSeqRegression
		case r.op == "create" || r.op == "fork":
			e.Kind = streams.ErrExists
		}
	case http.StatusBadRequest:
		switch {
		case r.op == "append" && r.header.Get(hp.HeaderProducerSeq) != "" && r.header.Get(hp.HeaderProducerSeq) != "0":
			e.Kind = streams.ErrEpochSeq
		case r.op == "fork" || r.op == "read":
			e.Kind = streams.ErrBadOffset
		default:
			e.Kind = streams.ErrBadConfig
		}
	case http.StatusRequestEntityTooLarge:
		e.Kind = streams.ErrLimit
	}
	return e
}

// frame is one message as the client writes it.
type frame struct {
	N string `json:"n"`
	D []byte `json:"d"`
}

func (s *Store) newNonce() string {
	return s.nonce + "-" + strconv.FormatUint(s.count.Add(1), 36)
}

// snapshot is a read of a whole stream.
type snapshot struct {
	msgs   []streams.Message
	nonces []string
	tail   streams.Offset
	server string // the server offset of tail
	closed bool
}

// readAll reads name from its start to the tail.
func (s *Store) readAll(name string) (snapshot, error) {
	var snap snapshot
	from := hp.OffsetStart
	for i := 0; ; i++ {
		r := request{op: "read", method: http.MethodGet, name: name, query: url.Values{hp.QueryOffset: {from}}}
		resp, err := s.do(r)
		if err != nil {
			return snapshot{}, err
		}
		if resp.status != http.StatusOK {
			return snapshot{}, refusal(r, resp)
		}
		var frames []frame
		if len(bytes.TrimSpace(resp.body)) > 0 {
			if err := json.Unmarshal(resp.body, &frames); err != nil {
				return snapshot{}, streams.Unavailable(name, "read", fmt.Errorf("%w: %v", ErrBadFrame, err))
			}
		}
		for _, f := range frames {
			if f.N == "" {
				return snapshot{}, streams.Unavailable(name, "read", ErrBadFrame)
			}
			snap.msgs = append(snap.msgs, streams.Message{Offset: snap.tail, Data: f.D})
			snap.nonces = append(snap.nonces, f.N)
			snap.tail = streams.Offset{ReadSeq: snap.tail.ReadSeq + 1, ByteOffset: snap.tail.ByteOffset + uint64(len(f.D))}
		}
		next := resp.header.Get(hp.HeaderNextOffset)
		if next == "" {
			return snapshot{}, streams.Unavailable(name, "read", errors.New("no Stream-Next-Offset in the answer"))
		}
		snap.server = next
		if resp.header.Get(hp.HeaderUpToDate) == "true" || (len(frames) == 0 && next == from) {
			snap.closed = hp.IsClosed(resp.header.Get(hp.HeaderClosed))
			break
		}
		if i > 1<<20 {
			return snapshot{}, streams.Unavailable(name, "read", errors.New("read did not reach the tail"))
		}
		from = next
	}
	s.learn(name, snap.tail, snap.server)
	return snap, nil
}

// learn records the server offset of a position.
func (s *Store) learn(name string, at streams.Offset, server string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.offsets[name]
	if m == nil {
		m = map[streams.Offset]string{}
		s.offsets[name] = m
	}
	m[at] = server
}

func (s *Store) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.offsets, name)
	delete(s.parents, name)
}

// forked records that name is a fork of source at position at.
func (s *Store) forked(name, source string, at streams.Offset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parents[name] = forkParent{source: source, at: at}
}

// serverOffset is the server offset of position at of name: one the
// client saw in name, or, for a position a fork inherited, one it saw in
// the fork's source (and so on up the chain of forks).
func (s *Store) serverOffset(name string, at streams.Offset) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range len(s.parents) + 1 { // a chain visits each fork once
		if o, ok := s.offsets[name][at]; ok {
			return o, true
		}
		p, ok := s.parents[name]
		if !ok || at.Compare(p.at) > 0 {
			return "", false
		}
		name = p.source
	}
	return "", false
}

func check(name string) error {
	if name == "" {
		return streams.Errorf(streams.ClassBadRequest, streams.ErrBadConfig, name, "empty stream name")
	}
	return nil
}

func configHeaders(h http.Header, cfg streams.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.TTL > 0 {
		if cfg.TTL%time.Second != 0 {
			return streams.Errorf(streams.ClassBadRequest, streams.ErrBadConfig, "", "ttl %v is not whole seconds", cfg.TTL)
		}
		h.Set(hp.HeaderTTL, strconv.FormatInt(int64(cfg.TTL/time.Second), 10))
	}
	if !cfg.ExpiresAt.IsZero() {
		h.Set(hp.HeaderExpiresAt, cfg.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	if cfg.Closed {
		h.Set(hp.HeaderClosed, hp.ClosedTrue)
	}
	return nil
}

// Create implements streams.Store.
func (s *Store) Create(name string, cfg streams.Config) (bool, error) {
	if err := check(name); err != nil {
		return false, err
	}
	h := http.Header{}
	h.Set(hp.HeaderContentType, hp.JSONContentType)
	if err := configHeaders(h, cfg); err != nil {
		return false, err
	}
	r := request{op: "create", method: http.MethodPut, name: name, header: h}
	resp, err := s.do(r)
	if err != nil {
		return false, err
	}
	switch resp.status {
	case http.StatusCreated:
		s.forget(name)
		if o := resp.header.Get(hp.HeaderNextOffset); o != "" {
			s.learn(name, streams.Start, o)
		}
		return true, nil
	case http.StatusOK:
		return false, nil
	}
	return false, refusal(r, resp)
}

// Append implements streams.Store.
func (s *Store) Append(name string, data []byte, o streams.AppendOptions) (streams.AppendResult, error) {
	if err := check(name); err != nil {
		return streams.AppendResult{}, err
	}
	h := http.Header{}
	var body []byte
	nonce := ""
	if len(data) > 0 {
		nonce = s.newNonce()
		b, err := json.Marshal(frame{N: nonce, D: data})
		if err != nil {
			return streams.AppendResult{}, streams.Unavailable(name, "append", err)
		}
		body = b
		h.Set(hp.HeaderContentType, hp.JSONContentType)
	} else {
		body = []byte{}
	}
	if p := o.Producer; p != nil {
		h.Set(hp.HeaderProducerID, p.ID)
		h.Set(hp.HeaderProducerEpoch, strconv.FormatUint(p.Epoch, 10))
		h.Set(hp.HeaderProducerSeq, strconv.FormatUint(p.Seq, 10))
	}
	if o.WriterSeq != "" {
		h.Set(hp.HeaderSeq, o.WriterSeq)
	}
	if o.Close {
		h.Set(hp.HeaderClosed, hp.ClosedTrue)
	}
	r := request{op: "append", method: http.MethodPost, name: name, header: h, body: body}
	resp, err := s.do(r)
	if err != nil {
		return streams.AppendResult{}, err
	}
	if resp.status != http.StatusOK && resp.status != http.StatusNoContent {
		return streams.AppendResult{}, refusal(r, resp)
	}
	var res streams.AppendResult
	if o.Producer != nil {
		if v := resp.header.Get(hp.HeaderProducerSeq); v != "" {
			res.LastSeq, _ = strconv.ParseUint(v, 10, 64)
		}
		res.Duplicate = len(data) > 0 && resp.status == http.StatusNoContent
	}
	snap, err := s.readAll(name)
	if err != nil {
		return streams.AppendResult{}, fmt.Errorf("httpstore: the append was acknowledged, its position is unknown: %w", err)
	}
	if nonce == "" || res.Duplicate {
		res.Offset, res.Next = snap.tail, snap.tail
		return res, nil
	}
	for i, n := range snap.nonces {
		if n == nonce {
			m := snap.msgs[i]
			res.Offset = m.Offset
			res.Next = streams.Offset{ReadSeq: m.Offset.ReadSeq + 1, ByteOffset: m.Offset.ByteOffset + uint64(len(m.Data))}
			if next := resp.header.Get(hp.HeaderNextOffset); next != "" {
				s.learn(name, res.Next, next)
			}
			return res, nil
		}
	}
	return streams.AppendResult{}, streams.Unavailable(name, "append", errors.New("the acknowledged append is not in a later read of the stream"))
}

// Read implements streams.Store.
func (s *Store) Read(name string, from streams.Offset) (streams.ReadResult, error) {
	if err := check(name); err != nil {
		return streams.ReadResult{}, err
	}
	snap, err := s.readAll(name)
	if err != nil {
		return streams.ReadResult{}, err
	}
	res := streams.ReadResult{Next: snap.tail, Closed: snap.closed}
	if from == streams.Now {
		return res, nil
	}
	if from.Compare(snap.tail) > 0 {
		return streams.ReadResult{}, streams.Errorf(streams.ClassBadRequest, streams.ErrBadOffset, name, "%v is past the tail %v", from, snap.tail)
	}
	for _, m := range snap.msgs {
		if m.Offset.Compare(from) >= 0 {
			res.Messages = append(res.Messages, m)
		}
	}
	return res, nil
}

// Wait implements streams.Store: it long-polls at the tail.
func (s *Store) Wait(ctx context.Context, name string, after streams.Offset) error {
	if err := check(name); err != nil {
		return err
	}
	for {
		snap, err := s.readAll(name)
		if err != nil {
			return err
		}
		if after == streams.Now {
			after = snap.tail
		}
		if snap.tail.Compare(after) > 0 || snap.closed {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r := request{op: "wait", method: http.MethodGet, name: name, live: true, ctx: ctx,
			query: url.Values{hp.QueryOffset: {snap.server}, hp.QueryLive: {hp.LiveLongPoll}}}
		resp, err := s.do(r)
		if err != nil {
			return err
		}
		switch resp.status {
		case http.StatusOK, http.StatusNoContent:
		default:
			return refusal(r, resp)
		}
	}
}

// Metadata implements streams.Store.
func (s *Store) Metadata(name string) (streams.Metadata, error) {
	if err := check(name); err != nil {
		return streams.Metadata{}, err
	}
	r := request{op: "metadata", method: http.MethodHead, name: name}
	resp, err := s.do(r)
	if err != nil {
		return streams.Metadata{}, err
	}
	if resp.status != http.StatusOK {
		return streams.Metadata{}, refusal(r, resp)
	}
	h := resp.header
	md := streams.Metadata{Closed: hp.IsClosed(h.Get(hp.HeaderClosed))}
	md.Config.ContentType = h.Get(hp.HeaderContentType)
	if v := h.Get(hp.HeaderTTL); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			md.Config.TTL = time.Duration(n) * time.Second
		}
	}
	if v := h.Get(hp.HeaderExpiresAt); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && md.Config.TTL == 0 {
			md.Config.ExpiresAt, md.ExpiresAt = t, t
		}
	}
	snap, err := s.readAll(name)
	if err != nil {
		return streams.Metadata{}, err
	}
	md.Tail, md.Bytes = snap.tail, snap.tail.ByteOffset
	return md, nil
}

// Touch implements streams.Store: a read at the tail.
func (s *Store) Touch(name string) error {
	if err := check(name); err != nil {
		return err
	}
	r := request{op: "touch", method: http.MethodGet, name: name, query: url.Values{hp.QueryOffset: {hp.OffsetNow}}}
	resp, err := s.do(r)
	if err != nil {
		return err
	}
	if resp.status != http.StatusOK {
		return refusal(r, resp)
	}
	return nil
}

// CloseStream implements streams.Store.
func (s *Store) CloseStream(name string) error {
	if err := check(name); err != nil {
		return err
	}
	h := http.Header{}
	h.Set(hp.HeaderClosed, hp.ClosedTrue)
	r := request{op: "close", method: http.MethodPost, name: name, header: h, body: []byte{}}
	resp, err := s.do(r)
	if err != nil {
		return err
	}
	if resp.status != http.StatusNoContent && resp.status != http.StatusOK {
		return refusal(r, resp)
	}
	return nil
}

// Delete implements streams.Store.
func (s *Store) Delete(name string) error {
	if err := check(name); err != nil {
		return err
	}
	r := request{op: "delete", method: http.MethodDelete, name: name}
	resp, err := s.do(r)
	if err != nil {
		return err
	}
	if resp.status != http.StatusNoContent && resp.status != http.StatusOK {
		return refusal(r, resp)
	}
	s.forget(name)
	return nil
}

// Fork implements streams.Store.
func (s *Store) Fork(name, source string, at streams.Offset, cfg streams.Config) (bool, error) {
	if err := check(name); err != nil {
		return false, err
	}
	if err := check(source); err != nil {
		return false, err
	}
	h := http.Header{}
	if err := configHeaders(h, cfg); err != nil {
		return false, err
	}
	if cfg.ContentType != "" {
		h.Set(hp.HeaderContentType, cfg.ContentType)
	}
	h.Set(hp.HeaderForkedFrom, s.path(source))
	if at != streams.Now {
		off, ok := s.serverOffset(source, at)
		if !ok {
			snap, err := s.readAll(source)
			if err != nil {
				return false, err
			}
			if at.Compare(snap.tail) > 0 {
				return false, streams.Errorf(streams.ClassBadRequest, streams.ErrBadOffset, source, "fork offset %v past the tail %v", at, snap.tail)
			}
			off, ok = s.serverOffset(source, at)
		}
		if !ok && at == streams.Start {
			off, ok = ZeroOffset, true
		}
		if !ok {
			return false, &streams.Error{Class: streams.ClassUnavailable, Stream: source, Msg: fmt.Sprintf("fork at %v", at), Err: ErrNoServerOffset}
		}
		h.Set(hp.HeaderForkOffset, off)
	}
	r := request{op: "fork", method: http.MethodPut, name: name, header: h}
	resp, err := s.do(r)
	if err != nil {
		return false, err
	}
	switch resp.status {
	case http.StatusCreated:
		s.forget(name)
		if at != streams.Now {
			s.forked(name, source, at)
		}
		return true, nil
	case http.StatusOK:
		// The fork exists with this request's source and offset (the
		// protocol's idempotent create).
		if at != streams.Now {
			s.forked(name, source, at)
		}
		return false, nil
	}
	return false, refusal(r, resp)
}

// Capabilities implements streams.Store: the protocol promises that an
// acknowledged write persists, which is what the harnesses check.
func (s *Store) Capabilities() streams.Capabilities {
	return streams.Capabilities{Persistent: true, SyncOnWrite: true}
}

// Close implements streams.Store: it ends the calls in progress (a Wait
// returns an error) and closes idle connections.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return &streams.Error{Class: streams.ClassUnavailable, Kind: streams.ErrClosed}
	}
	s.cancel()
	s.client.CloseIdleConnections()
	return nil
}
