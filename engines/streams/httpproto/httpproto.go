// Package httpproto holds what a Durable Streams server and client over
// HTTP share: the protocol's header names, the parsing rules of its header
// values, the media types that change how a stream is framed, and the
// mapping between the streams package's error classes and HTTP statuses.
// The server is engines/streams/httpserver, the client
// engines/streams/httpstore.
package httpproto

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

// Header names of the protocol, and the standard ones it gives a meaning.
const (
	HeaderNextOffset     = "Stream-Next-Offset"
	HeaderUpToDate       = "Stream-Up-To-Date"
	HeaderClosed         = "Stream-Closed"
	HeaderCursor         = "Stream-Cursor"
	HeaderSeq            = "Stream-Seq"
	HeaderTTL            = "Stream-TTL"
	HeaderExpiresAt      = "Stream-Expires-At"
	HeaderForkedFrom     = "Stream-Forked-From"
	HeaderForkOffset     = "Stream-Fork-Offset"
	HeaderForkSubOffset  = "Stream-Fork-Sub-Offset"
	HeaderSSEEncoding    = "Stream-SSE-Data-Encoding"
	HeaderProducerID     = "Producer-Id"
	HeaderProducerEpoch  = "Producer-Epoch"
	HeaderProducerSeq    = "Producer-Seq"
	HeaderExpectedSeq    = "Producer-Expected-Seq"
	HeaderReceivedSeq    = "Producer-Received-Seq"
	HeaderRetryAfter     = "Retry-After"
	HeaderContentType    = "Content-Type"
	HeaderLocation       = "Location"
	HeaderCacheControl   = "Cache-Control"
	HeaderETag           = "ETag"
	HeaderIfNoneMatch    = "If-None-Match"
	HeaderNoSniff        = "X-Content-Type-Options"
	HeaderResourcePolicy = "Cross-Origin-Resource-Policy"
)

// Query parameters of a read and their values.
const (
	QueryOffset  = "offset"
	QueryLive    = "live"
	QueryCursor  = "cursor"
	LiveLongPoll = "long-poll"
	LiveSSE      = "sse"
	// OffsetStart and OffsetNow are the sentinel offsets.
	OffsetStart = "-1"
	OffsetNow   = "now"
)

// Header values and media types.
const (
	ClosedTrue         = "true"
	DefaultContentType = "application/octet-stream"
	JSONContentType    = "application/json"
	EventStreamType    = "text/event-stream"
	SSEEncodingBase64  = "base64"
	// MaxProducerInt bounds a producer's epoch and sequence (2^53-1, for
	// JavaScript clients).
	MaxProducerInt = 1<<53 - 1
	// ReservedPathSegment starts the paths of the protocol's control APIs.
	ReservedPathSegment = "__ds"
)

// SSE event types and control event fields.
const (
	SSEEventData        = "data"
	SSEEventControl     = "control"
	ControlNextOffset   = "streamNextOffset"
	ControlCursor       = "streamCursor"
	ControlUpToDate     = "upToDate"
	ControlStreamClosed = "streamClosed"
)

// ErrBadHeader reports a header value the protocol does not allow.
var ErrBadHeader = errors.New("httpproto: bad header value")

// IsClosed reports whether a Stream-Closed value means closed: "true" in
// any case; every other value is as if the header were absent.
func IsClosed(v string) bool { return strings.EqualFold(strings.TrimSpace(v), ClosedTrue) }

// ParseUint parses a non-negative decimal integer without sign, leading
// zeros, fraction or exponent, at most max.
func ParseUint(name, v string, max uint64) (uint64, error) {
	if v == "" || len(v) > 20 || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("%w: %s %q is not a non-negative integer without leading zeros", ErrBadHeader, name, v)
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %s %q is not a non-negative integer", ErrBadHeader, name, v)
		}
		d := uint64(c - '0')
		if n > (max-d)/10 {
			return 0, fmt.Errorf("%w: %s %q is above %d", ErrBadHeader, name, v, max)
		}
		n = n*10 + d
	}
	return n, nil
}

// MediaType returns the media type of a Content-Type value, lower-case and
// without parameters.
func MediaType(v string) (string, error) {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return "", fmt.Errorf("%w: content type %q: %v", ErrBadHeader, v, err)
	}
	return strings.ToLower(mt), nil
}

// IsJSON reports whether a stream of media type mt is in JSON mode: each
// append is one or more JSON values, reads return a JSON array.
func IsJSON(mt string) bool { return mt == JSONContentType }

// IsText reports whether SSE carries a stream of media type mt as text;
// every other stream is base64-encoded in SSE data events.
func IsText(mt string) bool { return strings.HasPrefix(mt, "text/") || IsJSON(mt) }

// Status returns the HTTP status of a refusal by a streams.Store.
func Status(err error) int {
	switch {
	case errors.Is(err, streams.ErrStaleEpoch):
		return http.StatusForbidden
	case errors.Is(err, streams.ErrClosed):
		return http.StatusServiceUnavailable
	}
	switch streams.ClassOf(err) {
	case streams.ClassNotFound:
		return http.StatusNotFound
	case streams.ClassGone:
		return http.StatusGone
	case streams.ClassConflict:
		return http.StatusConflict
	case streams.ClassBadRequest:
		return http.StatusBadRequest
	case streams.ClassCapacity:
		return http.StatusRequestEntityTooLarge
	case streams.ClassInsufficientStorage:
		return http.StatusInsufficientStorage
	case streams.ClassStorage:
		return http.StatusInternalServerError
	}
	return http.StatusServiceUnavailable
}

// Class returns the streams error class of an HTTP error status: the
// inverse of Status, with every other 5xx and unknown status unavailable.
func Class(status int) streams.Class {
	switch status {
	case http.StatusNotFound:
		return streams.ClassNotFound
	case http.StatusGone:
		return streams.ClassGone
	case http.StatusConflict, http.StatusForbidden:
		return streams.ClassConflict
	case http.StatusBadRequest:
		return streams.ClassBadRequest
	case http.StatusRequestEntityTooLarge:
		return streams.ClassCapacity
	case http.StatusInsufficientStorage:
		return streams.ClassInsufficientStorage
	case http.StatusInternalServerError:
		return streams.ClassStorage
	}
	return streams.ClassUnavailable
}
