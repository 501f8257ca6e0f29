package httpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	hp "github.com/ordeal-dev/ordeal/engines/streams/httpproto"
)

func (h *Handler) head(w http.ResponseWriter, r *http.Request, name string) {
	md, err := h.s.Metadata(name)
	if err != nil {
		h.failErr(w, r, name, err)
		return
	}
	h.metaHeaders(w, md, true)
	w.WriteHeader(http.StatusOK)
}

// readReq is a parsed GET.
type readReq struct {
	from      streams.Offset
	fromSet   bool
	live      string
	cursor    string
	offsetRaw string
}

func parseRead(r *http.Request) (readReq, error) {
	var q readReq
	vals := r.URL.Query()
	offs, ok := vals[hp.QueryOffset]
	switch {
	case !ok:
		q.from = streams.Start
	case len(offs) != 1:
		return q, errors.New("more than one offset parameter")
	default:
		o, err := streams.ParseOffset(offs[0])
		if err != nil {
			return q, err
		}
		q.from, q.fromSet, q.offsetRaw = o, true, offs[0]
	}
	q.live = vals.Get(hp.QueryLive)
	switch q.live {
	case "":
	case hp.LiveLongPoll, hp.LiveSSE:
		if !q.fromSet {
			return q, fmt.Errorf("live=%s needs an offset", q.live)
		}
	default:
		return q, fmt.Errorf("unknown live mode %q", q.live)
	}
	q.cursor = vals.Get(hp.QueryCursor)
	return q, nil
}

// chunk is what one read returns.
type chunk struct {
	msgs     [][]byte
	next     streams.Offset
	upToDate bool
	closed   bool // closed and at the tail
}

// readChunk reads name from an offset, at most MaxChunk bytes (and at
// least one message).
func (h *Handler) readChunk(name string, from streams.Offset) (chunk, error) {
	res, err := h.s.Read(name, from)
	if err != nil {
		return chunk{}, err
	}
	c := chunk{next: res.Next, upToDate: true}
	size := 0
	for i, m := range res.Messages {
		if i > 0 && size+len(m.Data) > h.o.MaxChunk {
			c.next, c.upToDate = m.Offset, false
			break
		}
		size += len(m.Data)
		c.msgs = append(c.msgs, m.Data)
	}
	c.closed = c.upToDate && res.Closed
	return c, nil
}

// encode returns the body of a chunk for a stream of media type mt.
func encode(mt string, msgs [][]byte) []byte {
	if !hp.IsJSON(mt) {
		return bytes.Join(msgs, nil)
	}
	var b []byte
	b = append(b, '[')
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return append(b, ']')
}

func etag(md streams.Metadata, from streams.Offset, c chunk) string {
	t := fmt.Sprintf("\"%x:%s:%s", md.CreatedAt.UnixNano(), from, c.next)
	if c.closed {
		t += ":c"
	}
	return t + "\""
}

func matchesETag(header, tag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "W/"))
		if v == tag || v == "*" {
			return true
		}
	}
	return false
}

func (h *Handler) read(w http.ResponseWriter, r *http.Request, name string) {
	q, err := parseRead(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "%v", err)
		return
	}
	md, err := h.s.Metadata(name)
	if err != nil {
		h.failErr(w, r, name, err)
		return
	}
	if md.Config.TTL > 0 && !h.bugs.noTouch {
		if err := h.s.Touch(name); err != nil {
			h.failErr(w, r, name, err)
			return
		}
	}
	now := q.from == streams.Now
	if now {
		q.from = md.Tail
	}
	switch q.live {
	case hp.LiveSSE:
		h.sse(w, r, name, md, q)
		return
	case hp.LiveLongPoll:
		h.longPoll(w, r, name, md, q, now)
		return
	}
	c, err := h.readChunk(name, q.from)
	if err != nil {
		h.failErr(w, r, name, err)
		return
	}
	hd := w.Header()
	if now {
		hd.Set(hp.HeaderCacheControl, "no-store")
	} else {
		tag := etag(md, q.from, c)
		hd.Set(hp.HeaderETag, tag)
		hd.Set(hp.HeaderCacheControl, "public, max-age=60, stale-while-revalidate=300")
		if inm := r.Header.Get(hp.HeaderIfNoneMatch); inm != "" && matchesETag(inm, tag) {
			h.chunkHeaders(w, c)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.writeChunk(w, md, c, http.StatusOK)
}

func (h *Handler) chunkHeaders(w http.ResponseWriter, c chunk) {
	hd := w.Header()
	hd.Set(hp.HeaderNextOffset, c.next.String())
	if c.upToDate {
		hd.Set(hp.HeaderUpToDate, "true")
	}
	if c.closed {
		hd.Set(hp.HeaderClosed, hp.ClosedTrue)
	}
}

func (h *Handler) writeChunk(w http.ResponseWriter, md streams.Metadata, c chunk, status int) {
	h.chunkHeaders(w, c)
	w.Header().Set(hp.HeaderContentType, md.Config.ContentType)
	body := encode(md.Config.ContentType, c.msgs)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// live returns the context of a live read: the request's, ended at
// timeout or when the handler closes.
func (h *Handler) live(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), d)
	stop := context.AfterFunc(h.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (h *Handler) longPoll(w http.ResponseWriter, r *http.Request, name string, md streams.Metadata, q readReq, now bool) {
	w.Header().Set(hp.HeaderCacheControl, "no-store")
	c := chunk{next: q.from}
	var err error
	if !now {
		if c, err = h.readChunk(name, q.from); err != nil {
			h.failErr(w, r, name, err)
			return
		}
	}
	if len(c.msgs) == 0 && !c.closed && !md.Closed {
		ctx, cancel := h.live(r, h.o.LongPollTimeout)
		err = h.s.Wait(ctx, name, q.from)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			c = chunk{next: q.from, upToDate: true}
		case err != nil:
			h.failErr(w, r, name, err)
			return
		default:
			if c, err = h.readChunk(name, q.from); err != nil {
				h.failErr(w, r, name, err)
				return
			}
		}
	} else if len(c.msgs) == 0 {
		c.upToDate, c.closed = true, true
	}
	if len(c.msgs) == 0 {
		if !c.closed {
			w.Header().Set(hp.HeaderCursor, h.cursor(q.cursor))
		}
		h.chunkHeaders(w, c)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !c.closed {
		w.Header().Set(hp.HeaderCursor, h.cursor(q.cursor))
	}
	h.writeChunk(w, md, c, http.StatusOK)
}

// sseWriter writes server-sent events. Events are buffered until flush,
// so that a data event and the control event after it reach the client in
// one write: a client that stops reading at the end of an event must not
// see the data without its control.
type sseWriter struct {
	w   http.ResponseWriter
	f   http.Flusher
	b64 bool
	buf bytes.Buffer
	err error
}

// flush sends the buffered events.
func (s *sseWriter) flush() {
	if s.err != nil || s.buf.Len() == 0 {
		return
	}
	if _, s.err = s.w.Write(s.buf.Bytes()); s.err == nil && s.f != nil {
		s.f.Flush()
	}
	s.buf.Reset()
}

func (s *sseWriter) event(kind string, payload []byte, base64Lines bool) {
	if s.err != nil {
		return
	}
	b := &s.buf
	b.WriteString("event: " + kind + "\n")
	if base64Lines {
		enc := base64.StdEncoding.EncodeToString(payload)
		for len(enc) > 0 {
			n := min(len(enc), 76)
			b.WriteString("data:" + enc[:n] + "\n")
			enc = enc[n:]
		}
		if len(payload) == 0 {
			b.WriteString("data:\n")
		}
	} else {
		for _, line := range splitLines(payload) {
			b.WriteString("data:")
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
}

// splitLines splits at every CR LF, LF or CR, as the SSE format ends
// lines, so that no payload line can end an event or start another.
func splitLines(p []byte) [][]byte {
	var out [][]byte
	for {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			return append(out, p)
		}
		out = append(out, p[:i])
		if p[i] == '\r' && i+1 < len(p) && p[i+1] == '\n' {
			i++
		}
		p = p[i+1:]
	}
}

func (h *Handler) control(s *sseWriter, next streams.Offset, upToDate, closed bool, client string) {
	m := map[string]any{hp.ControlNextOffset: next.String()}
	if closed {
		m[hp.ControlStreamClosed] = true
		m[hp.ControlUpToDate] = true
	} else {
		m[hp.ControlCursor] = h.cursor(client)
		if upToDate {
			m[hp.ControlUpToDate] = true
		}
	}
	b, _ := json.Marshal(m)
	s.event(hp.SSEEventControl, b, false)
	s.flush()
}

func (h *Handler) sse(w http.ResponseWriter, r *http.Request, name string, md streams.Metadata, q readReq) {
	if _, err := h.s.Read(name, q.from); err != nil {
		h.failErr(w, r, name, err)
		return
	}
	hd := w.Header()
	hd.Set(hp.HeaderContentType, hp.EventStreamType)
	hd.Set(hp.HeaderCacheControl, "no-cache")
	hd.Set("Connection", "keep-alive")
	hd.Set("X-Accel-Buffering", "no")
	mt := md.Config.ContentType
	b64 := !hp.IsText(mt)
	if b64 {
		hd.Set(hp.HeaderSSEEncoding, hp.SSEEncodingBase64)
	}
	f, _ := w.(http.Flusher)
	w.WriteHeader(http.StatusOK)
	if f != nil {
		f.Flush()
	}
	s := &sseWriter{w: w, f: f, b64: b64}
	ctx, cancel := h.live(r, h.o.SSEDuration)
	defer cancel()
	from := q.from
	client := q.cursor
	first := true
	for s.err == nil {
		c, err := h.readChunk(name, from)
		if err != nil {
			return
		}
		if len(c.msgs) > 0 {
			s.event(hp.SSEEventData, encode(mt, c.msgs), b64)
			from = c.next
			h.control(s, c.next, c.upToDate, c.closed, client)
			if c.closed {
				return
			}
			if !c.upToDate {
				continue
			}
		} else if c.closed || first {
			h.control(s, c.next, true, c.closed, client)
			if c.closed {
				return
			}
		}
		first = false
		if err := h.s.Wait(ctx, name, from); err != nil {
			return
		}
	}
}
