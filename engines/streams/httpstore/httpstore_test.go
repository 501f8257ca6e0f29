package httpstore_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/engines/streams/httpserver"
	"github.com/ordeal-dev/ordeal/engines/streams/httpstore"
	"github.com/ordeal-dev/ordeal/engines/streams/streamstest"
)

// served is an httpstore client of ordeal's server over an acid store, all
// in process; closing it closes all three.
type served struct {
	*httpstore.Store
	h   *httpserver.Handler
	srv *httptest.Server
	eng streams.Store
}

func (s *served) Close() error {
	err := s.Store.Close()
	s.h.Close()
	s.srv.Close()
	return errors.Join(err, s.eng.Close())
}

// openServed opens the engine with o (the suite's directory, clock and
// limits), serves it, and opens a client of it.
func openServed(o streams.Options) (streams.Store, error) {
	eng, err := acid.Open(streams.Options{Dir: o.Dir, Clock: o.Clock, MaxTotalBytes: o.MaxTotalBytes, MaxStreamBytes: o.MaxStreamBytes})
	if err != nil {
		return nil, err
	}
	h := httpserver.New(eng, httpserver.Options{})
	srv := httptest.NewServer(h)
	c, err := httpstore.Open(streams.Options{Params: map[string]string{"url": srv.URL}})
	if err != nil {
		h.Close()
		srv.Close()
		return nil, errors.Join(err, eng.Close())
	}
	return &served{Store: c, h: h, srv: srv, eng: eng}, nil
}

// knownDifferences are the cases the protocol cannot carry (see the
// package documentation).
var knownDifferences = map[string]string{
	"create/idempotent":  "every stream is application/json on the server (the client's framing), so a create with another content type matches; the protocol reports no creation time",
	"append/writer-seq":  "the protocol does not report the last Stream-Seq",
	"expiry":             "the server counts the framed bytes against the byte limit the case sets",
	"expiry/sliding":     "the protocol reports no expiry instant for a TTL stream, and a read slides the TTL",
	"fork/read":          "forks are transparent in the protocol (no source, fork offset or fork count), and a content type other than the source's is a conflict (409)",
	"expiry/frees-bytes": "the server counts the framed bytes against the byte limit the case sets",
	"limits/total":       "the server counts the framed bytes against the byte limit",
	"limits/stream":      "the server counts the framed bytes against the byte limit",
	"durability/reopen":  "the server counts the framed bytes against the byte limit the case sets; durability across a killed server is TestProcessKillRestart's",
	"durability/corruption": "the protocol has no status for damaged storage: the server's streams.ErrCorrupt reaches the client as a 503, a transient error; " +
		"the store behind the server (acid) is held to the case by its own conformance test",
}

func TestConformanceOverOrdealServer(t *testing.T) {
	streamstest.Run(t, streamstest.Harness{Name: "http over acid", Open: openServed, KnownDifferences: knownDifferences})
}
