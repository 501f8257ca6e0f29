// Package httpserver serves the Durable Streams HTTP protocol over any
// streams.Store: a Handler that cmd/streams-server runs and that tests run
// in process with net/http/httptest.
//
// # Mapping
//
// The URL path is the stream's name in the store. PUT creates (Create, and
// an Append for an initial body), or forks with Stream-Forked-From (Fork);
// POST appends (Append, with the producer, Stream-Seq and Stream-Closed
// headers as AppendOptions); GET reads (catch-up, live=long-poll, live=sse,
// Wait between reads); HEAD is Metadata; DELETE is Delete. The store's
// offsets are the protocol's offsets, "-1" and "now" included. Refusals
// map to statuses by their class (httpproto.Status): not found 404, gone
// 410, conflict 409 (a stale producer epoch 403), bad request 400,
// capacity 413, and the storage failures: unavailable 503 (with
// Retry-After), insufficient storage 507, any other 500.
//
// A stream of type application/json stores one message per append: the
// values of the body (the elements of an array, one level, or the value
// itself) joined by commas; a read wraps the messages it returns in one
// array. A TTL slides: appends and closes slide it in the store, reads
// call Touch; HEAD does not.
//
// # Where the protocol and the store differ
//
// A create with an initial body, and a fork at a sub-offset, are more than
// one store call: a crash between them leaves the stream created without
// its body, or the fork without its materialized prefix, and a retried PUT
// then answers 200. An idempotent create compares the closure status the
// stream has now (the protocol's rule), not the one it was created with.
// A fork at a sub-offset materializes the inherited part of the next
// message as the fork's first own message; a repeated PUT matches the fork
// by that message, and the store does not record the sub-offset itself.
// A Stream-TTL of 0 is refused (the store has no zero window).
package httpserver
