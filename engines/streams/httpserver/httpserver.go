package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	hp "github.com/ordeal-dev/ordeal/engines/streams/httpproto"
)

// Defaults of Options.
const (
	DefaultLongPollTimeout = 30 * time.Second
	DefaultSSEDuration     = 60 * time.Second
	DefaultMaxChunk        = 1 << 20
	DefaultMaxBody         = 64 << 20
	CursorInterval         = 20 * time.Second
)

// CursorEpoch is the instant cursor intervals are counted from.
var CursorEpoch = time.Date(2024, 10, 9, 0, 0, 0, 0, time.UTC)

// Options configure a Handler. The zero value takes every default.
type Options struct {
	// LongPollTimeout is how long a long-poll read waits for data before
	// answering 204.
	LongPollTimeout time.Duration
	// SSEDuration is how long an SSE response stays open before the server
	// ends it, so that clients reconnect.
	SSEDuration time.Duration
	// MaxChunk bounds the bytes of one read response (at least one message
	// is always sent).
	MaxChunk int
	// MaxBody bounds the body of one request; a larger one is refused with
	// 413.
	MaxBody int64
	// Logger receives one record per request; nil discards them.
	Logger *slog.Logger
	// Clock tells the time of cursors; nil means time.Now.
	Clock func() time.Time
}

func (o Options) withDefaults() Options {
	if o.LongPollTimeout <= 0 {
		o.LongPollTimeout = DefaultLongPollTimeout
	}
	if o.SSEDuration <= 0 {
		o.SSEDuration = DefaultSSEDuration
	}
	if o.MaxChunk <= 0 {
		o.MaxChunk = DefaultMaxChunk
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

// Handler serves the Durable Streams protocol over a streams.Store. Every
// URL path names a stream (the path is the stream's name in the store),
// except those whose first segment is the reserved "__ds", which it does
// not serve. It is safe for concurrent use.
type Handler struct {
	s streams.Store
	o Options

	ctx    context.Context
	cancel context.CancelFunc

	mu  sync.Mutex
	rnd *rand.Rand

	bugs bugs
}

// bugs plants known defects, to prove that the checks catch them; tests
// set them through export_test.go.
type bugs struct {
	// noTouch does not slide a stream's TTL on reads.
	noTouch bool
	// noClosedHeader leaves Stream-Closed and Stream-Next-Offset out of
	// the 409 for an append to a closed stream.
	noClosedHeader bool
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler serving s. The caller keeps ownership of s.
func New(s streams.Store, o Options) *Handler {
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Now().UnixNano()
	return &Handler{s: s, o: o.withDefaults(), ctx: ctx, cancel: cancel, rnd: rand.New(rand.NewPCG(uint64(now), uint64(now>>17)))}
}

// Close ends the live reads (long-poll and SSE) in progress and those that
// start later, so that an http.Server can shut down without waiting for
// them.
func (h *Handler) Close() { h.cancel() }

var corsHeaders = strings.Join([]string{
	"Content-Type", "Authorization", hp.HeaderSeq, hp.HeaderTTL, hp.HeaderExpiresAt, hp.HeaderClosed,
	hp.HeaderProducerID, hp.HeaderProducerEpoch, hp.HeaderProducerSeq, hp.HeaderForkedFrom,
	hp.HeaderForkOffset, hp.HeaderForkSubOffset, hp.HeaderIfNoneMatch, "Cache-Control", "Last-Event-ID",
}, ", ")

var exposedHeaders = strings.Join([]string{
	hp.HeaderNextOffset, hp.HeaderCursor, hp.HeaderUpToDate, hp.HeaderClosed, hp.HeaderProducerEpoch,
	hp.HeaderProducerSeq, hp.HeaderExpectedSeq, hp.HeaderReceivedSeq, hp.HeaderSSEEncoding, hp.HeaderTTL,
	hp.HeaderExpiresAt, "ETag", "Content-Type", "Location",
}, ", ")

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	hd := rw.Header()
	hd.Set(hp.HeaderNoSniff, "nosniff")
	hd.Set(hp.HeaderResourcePolicy, "cross-origin")
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", exposedHeaders)
	name := r.URL.Path
	switch {
	case name == "" || name == "/":
		h.fail(rw, r, http.StatusNotFound, "no stream at the root")
	case reserved(name):
		h.fail(rw, r, http.StatusNotFound, "reserved path")
	default:
		switch r.Method {
		case http.MethodOptions:
			hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, HEAD, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", corsHeaders)
			hd.Set("Access-Control-Max-Age", "86400")
			rw.WriteHeader(http.StatusNoContent)
		case http.MethodPut:
			h.create(rw, r, name)
		case http.MethodPost:
			h.append(rw, r, name)
		case http.MethodGet:
			h.read(rw, r, name)
		case http.MethodHead:
			h.head(rw, r, name)
		case http.MethodDelete:
			h.delete(rw, r, name)
		default:
			hd.Set("Allow", "GET, POST, PUT, DELETE, HEAD, OPTIONS")
			h.fail(rw, r, http.StatusMethodNotAllowed, "method not allowed")
		}
	}
	lvl := slog.LevelDebug
	if rw.status >= 500 {
		lvl = slog.LevelWarn
	}
	h.o.Logger.Log(r.Context(), lvl, "request", "method", r.Method, "path", name, "status", rw.status, "bytes", rw.bytes, "dur", time.Since(start))
}

func reserved(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return first == hp.ReservedPathSegment
}

// recorder keeps the status and size of a response for the log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) Flush() {
	r.wrote = true
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// fail answers with status and a plain-text message.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set(hp.HeaderCacheControl, "no-store")
	if status == http.StatusServiceUnavailable {
		w.Header().Set(hp.HeaderRetryAfter, "1")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(msg + "\n"))
	}
}

// failErr answers with the status of a store error and the headers the
// protocol attaches to it.
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, name string, err error) {
	var se *streams.Error
	if errors.As(err, &se) {
		switch {
		case errors.Is(err, streams.ErrStaleEpoch):
			w.Header().Set(hp.HeaderProducerEpoch, strconv.FormatUint(se.CurrentEpoch, 10))
		case errors.Is(err, streams.ErrSeqGap):
			w.Header().Set(hp.HeaderExpectedSeq, strconv.FormatUint(se.ExpectedSeq, 10))
			w.Header().Set(hp.HeaderReceivedSeq, strconv.FormatUint(se.ReceivedSeq, 10))
		case errors.Is(err, streams.ErrStreamClosed) && !h.bugs.noClosedHeader:
			w.Header().Set(hp.HeaderClosed, hp.ClosedTrue)
			if md, merr := h.s.Metadata(name); merr == nil {
				w.Header().Set(hp.HeaderNextOffset, md.Tail.String())
			}
		}
	}
	h.fail(w, r, hp.Status(err), "%v", err)
}

// cursor returns the cursor of a live response given the client's.
func (h *Handler) cursor(client string) string {
	cur := int64(h.o.Clock().Sub(CursorEpoch) / CursorInterval)
	if c, err := strconv.ParseInt(client, 10, 64); err == nil && c >= cur {
		h.mu.Lock()
		jitter := 1 + h.rnd.Int64N(int64(time.Hour/CursorInterval))
		h.mu.Unlock()
		cur = c + jitter
	}
	return strconv.FormatInt(cur, 10)
}

// jsonValues splits a JSON append body into the values it stores: the
// elements of an array (one level), or the value itself.
func jsonValues(body []byte) ([]json.RawMessage, error) {
	if !json.Valid(body) {
		return nil, errors.New("body is not valid json")
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "[") {
		var vals []json.RawMessage
		if err := json.Unmarshal(body, &vals); err != nil {
			return nil, err
		}
		return vals, nil
	}
	return []json.RawMessage{json.RawMessage(trimmed)}, nil
}

// joinJSON is the stored form of JSON values: their texts joined by commas,
// so that a read wraps the messages it returns in one array.
func joinJSON(vals []json.RawMessage) []byte {
	var b []byte
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return b
}

// splitJSON returns the values of a stored JSON message.
func splitJSON(msg []byte) ([]json.RawMessage, error) {
	var vals []json.RawMessage
	buf := make([]byte, 0, len(msg)+2)
	buf = append(append(append(buf, '['), msg...), ']')
	if err := json.Unmarshal(buf, &vals); err != nil {
		return nil, fmt.Errorf("stored json message: %w", err)
	}
	return vals, nil
}
