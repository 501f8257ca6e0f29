package httpserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	hp "github.com/ordeal-dev/ordeal/engines/streams/httpproto"
)

// body reads a request body up to MaxBody; ok is false when it answered.
func (h *Handler) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, h.o.MaxBody+1))
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "read body: %v", err)
		return nil, false
	}
	if int64(len(b)) > h.o.MaxBody {
		h.fail(w, r, http.StatusRequestEntityTooLarge, "body over %d bytes", h.o.MaxBody)
		return nil, false
	}
	return b, true
}

// payload turns a body into the message a stream of media type mt stores:
// for JSON, the values it holds joined; emptyOK allows an empty JSON array.
func payload(mt string, body []byte, emptyOK bool) ([]byte, error) {
	if !hp.IsJSON(mt) || len(body) == 0 {
		return body, nil
	}
	vals, err := jsonValues(body)
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 && !emptyOK {
		return nil, errors.New("empty json array")
	}
	return joinJSON(vals), nil
}

// createReq is a parsed PUT.
type createReq struct {
	mt       string
	mtSet    bool
	ttl      time.Duration
	expires  time.Time
	closed   bool
	source   string
	at       streams.Offset
	atSet    bool
	sub      uint64
	subSet   bool
	body     []byte
	location string
}

func parseCreate(r *http.Request) (createReq, error) {
	var c createReq
	hd := r.Header
	c.mt = hp.DefaultContentType
	if v := hd.Get(hp.HeaderContentType); v != "" {
		mt, err := hp.MediaType(v)
		if err != nil {
			return c, err
		}
		c.mt, c.mtSet = mt, true
	}
	if v, ok := hd[http.CanonicalHeaderKey(hp.HeaderTTL)]; ok {
		n, err := hp.ParseUint(hp.HeaderTTL, v[0], 1<<31)
		if err != nil {
			return c, err
		}
		if n == 0 {
			return c, errors.New("stream-ttl must be positive")
		}
		c.ttl = time.Duration(n) * time.Second
	}
	if v := hd.Get(hp.HeaderExpiresAt); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return c, errors.New("stream-expires-at is not an rfc 3339 timestamp")
		}
		c.expires = t
	}
	if c.ttl > 0 && !c.expires.IsZero() {
		return c, errors.New("both stream-ttl and stream-expires-at")
	}
	c.closed = hp.IsClosed(hd.Get(hp.HeaderClosed))
	if v := hd.Get(hp.HeaderForkedFrom); v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Path == "" {
			return c, errors.New("stream-forked-from is not a path")
		}
		c.source = u.Path
	}
	if v, ok := hd[http.CanonicalHeaderKey(hp.HeaderForkOffset)]; ok {
		if c.source == "" {
			return c, errors.New("stream-fork-offset without stream-forked-from")
		}
		o, err := streams.ParseOffset(v[0])
		if err != nil {
			return c, err
		}
		c.at, c.atSet = o, true
	}
	if v, ok := hd[http.CanonicalHeaderKey(hp.HeaderForkSubOffset)]; ok {
		if c.source == "" {
			return c, errors.New("stream-fork-sub-offset without stream-forked-from")
		}
		n, err := hp.ParseUint(hp.HeaderForkSubOffset, v[0], 1<<53-1)
		if err != nil {
			return c, err
		}
		if n > 0 && !c.atSet {
			return c, errors.New("stream-fork-sub-offset without stream-fork-offset")
		}
		c.sub, c.subSet = n, true
	}
	if !c.atSet {
		c.at = streams.Now
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c.location = (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}).String()
	return c, nil
}

func (c createReq) config() streams.Config {
	return streams.Config{ContentType: c.mt, TTL: c.ttl, ExpiresAt: c.expires}
}

// sameConfig reports whether an existing stream answers an idempotent
// create: its configuration and its closure as the request has them.
func (c createReq) sameConfig(md streams.Metadata) bool {
	cfg := md.Config
	return cfg.ContentType == c.mt && cfg.TTL == c.ttl && cfg.ExpiresAt.Equal(c.expires) && md.Closed == c.closed
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request, name string) {
	c, err := parseCreate(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	body, ok := h.body(w, r)
	if !ok {
		return
	}
	c.body = body
	if c.source != "" {
		h.fork(w, r, name, c)
		return
	}
	data, err := payload(c.mt, c.body, true)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	cfg := c.config()
	cfg.Closed = c.closed && len(data) == 0
	created, err := h.s.Create(name, cfg)
	switch {
	case errors.Is(err, streams.ErrExists):
		h.existing(w, r, name, c, nil)
		return
	case err != nil:
		h.failErr(w, r, name, err)
		return
	case !created:
		h.existing(w, r, name, c, nil)
		return
	}
	h.created(w, r, name, c, nil, data)
}

// created finishes a create: the materialized prefix of a fork, then the
// initial body, then the answer.
func (h *Handler) created(w http.ResponseWriter, r *http.Request, name string, c createReq, prefix, data []byte) {
	if len(prefix) > 0 {
		if _, err := h.s.Append(name, prefix, streams.AppendOptions{Close: c.closed && len(data) == 0}); err != nil {
			h.failErr(w, r, name, err)
			return
		}
	}
	if len(data) > 0 {
		if _, err := h.s.Append(name, data, streams.AppendOptions{Close: c.closed}); err != nil {
			h.failErr(w, r, name, err)
			return
		}
	}
	md, err := h.s.Metadata(name)
	if err != nil {
		h.failErr(w, r, name, err)
		return
	}
	w.Header().Set(hp.HeaderLocation, c.location)
	h.metaHeaders(w, md, false)
	w.WriteHeader(http.StatusCreated)
}

// existing answers a create of a stream that exists: 200 if it matches the
// request (and, for a fork, starts with the same materialized prefix), 409
// otherwise.
func (h *Handler) existing(w http.ResponseWriter, r *http.Request, name string, c createReq, prefix []byte) {
	md, err := h.s.Metadata(name)
	if err != nil {
		if streams.ClassOf(err) == streams.ClassGone {
			h.fail(w, r, http.StatusConflict, "stream %q was deleted and still serves its forks", name)
			return
		}
		h.failErr(w, r, name, err)
		return
	}
	same := c.sameConfig(md)
	if c.source == "" {
		same = same && md.ForkOf == ""
	} else {
		same = same && md.ForkOf == c.source && (!c.atSet || md.ForkOffset == c.at)
		if same {
			same = h.startsWith(name, md.ForkOffset, prefix)
		}
	}
	if !same {
		h.fail(w, r, http.StatusConflict, "stream %q exists with another configuration", name)
		return
	}
	h.metaHeaders(w, md, false)
	w.WriteHeader(http.StatusOK)
}

// startsWith reports whether the first message of name at offset at is
// prefix; an empty prefix always matches.
func (h *Handler) startsWith(name string, at streams.Offset, prefix []byte) bool {
	res, err := h.s.Read(name, at)
	if err != nil {
		return false
	}
	if len(prefix) == 0 {
		return true
	}
	return len(res.Messages) > 0 && res.Messages[0].Offset == at && bytes.Equal(res.Messages[0].Data, prefix)
}

func (h *Handler) fork(w http.ResponseWriter, r *http.Request, name string, c createReq) {
	src, err := h.s.Metadata(c.source)
	switch {
	case err != nil && streams.ClassOf(err) == streams.ClassGone:
		h.fail(w, r, http.StatusConflict, "source %q was deleted", c.source)
		return
	case err != nil:
		h.failErr(w, r, c.source, err)
		return
	}
	if c.mtSet && c.mt != src.Config.ContentType {
		h.fail(w, r, http.StatusConflict, "content type %q differs from the source's %q", c.mt, src.Config.ContentType)
		return
	}
	c.mt = src.Config.ContentType
	if c.ttl == 0 && c.expires.IsZero() {
		c.ttl, c.expires = src.Config.TTL, src.Config.ExpiresAt
	}
	data, err := payload(c.mt, c.body, true)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	var prefix []byte
	if c.sub > 0 {
		if prefix, err = h.subPrefix(c.source, c.at, c.sub, hp.IsJSON(c.mt)); err != nil {
			h.fail(w, r, http.StatusBadRequest, "%v", err)
			return
		}
	}
	cfg := c.config()
	cfg.Closed = c.closed && len(data) == 0 && len(prefix) == 0
	created, err := h.s.Fork(name, c.source, c.at, cfg)
	switch {
	case errors.Is(err, streams.ErrExists):
		h.existing(w, r, name, c, prefix)
		return
	case err != nil && streams.ClassOf(err) == streams.ClassGone:
		h.fail(w, r, http.StatusConflict, "source %q was deleted", c.source)
		return
	case err != nil:
		h.failErr(w, r, name, err)
		return
	case !created:
		h.existing(w, r, name, c, prefix)
		return
	}
	h.created(w, r, name, c, prefix, data)
}

// subPrefix returns the part of the message of source at offset at that a
// fork at sub-offset sub inherits: its first sub bytes, or for JSON its
// first sub values.
func (h *Handler) subPrefix(source string, at streams.Offset, sub uint64, isJSON bool) ([]byte, error) {
	res, err := h.s.Read(source, at)
	if err != nil {
		return nil, err
	}
	if len(res.Messages) == 0 || res.Messages[0].Offset != at {
		return nil, errors.New("stream-fork-sub-offset past the source's tail")
	}
	msg := res.Messages[0].Data
	if !isJSON {
		if sub > uint64(len(msg)) {
			return nil, errors.New("stream-fork-sub-offset past the next message")
		}
		return msg[:sub], nil
	}
	vals, err := splitJSON(msg)
	if err != nil {
		return nil, err
	}
	if sub > uint64(len(vals)) {
		return nil, errors.New("stream-fork-sub-offset past the values of the next message")
	}
	return joinJSON(vals[:sub]), nil
}

// appendReq is a parsed POST.
type appendReq struct {
	mt     string
	mtSet  bool
	closed bool
	o      streams.AppendOptions
}

func parseAppend(r *http.Request) (appendReq, error) {
	var a appendReq
	hd := r.Header
	if v := hd.Get(hp.HeaderContentType); v != "" {
		mt, err := hp.MediaType(v)
		if err != nil {
			return a, err
		}
		a.mt, a.mtSet = mt, true
	}
	a.closed = hp.IsClosed(hd.Get(hp.HeaderClosed))
	a.o.Close = a.closed
	a.o.WriterSeq = hd.Get(hp.HeaderSeq)
	id, hasID := hd[http.CanonicalHeaderKey(hp.HeaderProducerID)]
	ep, hasEp := hd[http.CanonicalHeaderKey(hp.HeaderProducerEpoch)]
	sq, hasSq := hd[http.CanonicalHeaderKey(hp.HeaderProducerSeq)]
	switch {
	case !hasID && !hasEp && !hasSq:
	case !hasID || !hasEp || !hasSq:
		return a, errors.New("producer-id, producer-epoch and producer-seq go together")
	default:
		if id[0] == "" {
			return a, errors.New("empty producer-id")
		}
		epoch, err := hp.ParseUint(hp.HeaderProducerEpoch, ep[0], hp.MaxProducerInt)
		if err != nil {
			return a, err
		}
		seq, err := hp.ParseUint(hp.HeaderProducerSeq, sq[0], hp.MaxProducerInt)
		if err != nil {
			return a, err
		}
		a.o.Producer = &streams.Producer{ID: id[0], Epoch: epoch, Seq: seq}
	}
	return a, nil
}

func (h *Handler) append(w http.ResponseWriter, r *http.Request, name string) {
	a, err := parseAppend(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	body, ok := h.body(w, r)
	if !ok {
		return
	}
	if len(body) == 0 && !a.closed {
		h.fail(w, r, http.StatusBadRequest, "empty body without stream-closed")
		return
	}
	md, err := h.s.Metadata(name)
	if err != nil {
		h.failErr(w, r, name, err)
		return
	}
	data := body
	if len(body) > 0 && !md.Closed {
		if !a.mtSet {
			h.fail(w, r, http.StatusBadRequest, "content-type missing")
			return
		}
		if a.mt != md.Config.ContentType {
			h.fail(w, r, http.StatusConflict, "content type %q differs from the stream's %q", a.mt, md.Config.ContentType)
			return
		}
		if data, err = payload(md.Config.ContentType, body, false); err != nil {
			h.fail(w, r, http.StatusBadRequest, "%v", err)
			return
		}
	}
	res, err := h.s.Append(name, data, a.o)
	if err != nil {
		h.failErr(w, r, name, err)
		return
	}
	hd := w.Header()
	hd.Set(hp.HeaderNextOffset, res.Next.String())
	if a.closed || md.Closed {
		hd.Set(hp.HeaderClosed, hp.ClosedTrue)
	}
	status := http.StatusNoContent
	if p := a.o.Producer; p != nil {
		hd.Set(hp.HeaderProducerEpoch, strconv.FormatUint(p.Epoch, 10))
		hd.Set(hp.HeaderProducerSeq, strconv.FormatUint(res.LastSeq, 10))
		if !res.Duplicate && len(data) > 0 {
			status = http.StatusOK
		}
	}
	w.WriteHeader(status)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, name string) {
	if err := h.s.Delete(name); err != nil {
		h.failErr(w, r, name, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// metaHeaders sets the headers that describe a stream.
func (h *Handler) metaHeaders(w http.ResponseWriter, md streams.Metadata, head bool) {
	hd := w.Header()
	hd.Set(hp.HeaderContentType, md.Config.ContentType)
	hd.Set(hp.HeaderNextOffset, md.Tail.String())
	if md.Closed {
		hd.Set(hp.HeaderClosed, hp.ClosedTrue)
	}
	if !head {
		return
	}
	if md.Config.TTL > 0 {
		hd.Set(hp.HeaderTTL, strconv.FormatInt(int64(md.Config.TTL/time.Second), 10))
	}
	if !md.Config.ExpiresAt.IsZero() {
		hd.Set(hp.HeaderExpiresAt, md.Config.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	hd.Set(hp.HeaderCacheControl, "no-store")
}
