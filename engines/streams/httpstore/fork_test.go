package httpstore_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/engines/streams/httpserver"
	"github.com/ordeal-dev/ordeal/engines/streams/httpstore"
)

// forkOfFork forks a fork at positions it inherited from its source (and
// from its source's source): the client saw those positions only in the
// source, where it appended them, and a fork reads them at the source's
// offsets. A position it never saw anywhere still fails with
// ErrNoServerOffset. retryErr is the answer the server gives to the
// same fork request again: none for a server that answers it as the
// existing fork (the protocol's idempotent create), ErrExists for the
// Node reference server, which compares the request's absent
// Content-Type with the type the fork inherited and answers 409.
func forkOfFork(t *testing.T, c streams.Store, retryErr error) {
	t.Helper()
	if _, err := c.Create("s", streams.Config{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	var at []streams.Offset // at[i]: the position after message i
	for _, d := range []string{"a", "b", "c", "d"} {
		r, err := c.Append("s", []byte(d), streams.AppendOptions{})
		if err != nil {
			t.Fatalf("append %s: %v", d, err)
		}
		at = append(at, r.Next)
	}
	cases := []struct {
		name, fork, source string
		at                 streams.Offset
		want               []string
	}{
		{"fork of the root", "s/f1", "s", at[2], []string{"a", "b", "c"}},
		{"fork of a fork at an inherited position", "s/f2", "s/f1", at[1], []string{"a", "b"}},
		{"fork of a fork of a fork, two levels up", "s/f3", "s/f2", at[0], []string{"a"}},
		{"fork of a fork at its fork position", "s/f4", "s/f1", at[2], []string{"a", "b", "c"}},
		{"fork of a fork at the start", "s/f5", "s/f2", streams.Start, nil},
	}
	for _, tc := range cases {
		created, err := c.Fork(tc.fork, tc.source, tc.at, streams.Config{})
		if err != nil || !created {
			t.Fatalf("%s: fork %s of %s at %v = %v, %v", tc.name, tc.fork, tc.source, tc.at, created, err)
		}
		wantRead(t, c, tc.fork, tc.want...)
	}
	// Again, as a retry after an unknown outcome: the fork exists.
	created, err := c.Fork("s/f2", "s/f1", at[1], streams.Config{})
	switch {
	case retryErr == nil && (err != nil || created):
		t.Fatalf("fork s/f2 again = %v, %v, want the existing fork", created, err)
	case retryErr != nil && !errors.Is(err, retryErr):
		t.Fatalf("fork s/f2 again = %v, %v, want %v", created, err, retryErr)
	}
	// A position of s/f1 past its fork position is s/f1's own: after 4
	// messages, s holds "d" there and s/f1 "x".
	if _, err := c.Append("s/f1", []byte("x"), streams.AppendOptions{}); err != nil {
		t.Fatalf("append s/f1: %v", err)
	}
	if _, err := c.Fork("s/f6", "s/f1", at[3], streams.Config{}); err != nil {
		t.Fatalf("fork s/f6 at s/f1's tail: %v", err)
	}
	wantRead(t, c, "s/f6", "a", "b", "c", "x")
}

// TestForkOfForkOverOrdealServer runs forkOfFork against ordeal's server
// in process.
func TestForkOfForkOverOrdealServer(t *testing.T) {
	eng, err := acid.Open(streams.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h := httpserver.New(eng, httpserver.Options{})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
		_ = eng.Close()
	})
	forkOfFork(t, mustOpen(t, srv.URL, "5s"), nil)
}

// TestForkOfForkOverNodeReference runs forkOfFork against the Node
// reference server, whose offsets are not the client's. Its answer to a
// repeated fork is a finding (engines/streams/httpserver/findings): if it
// changes, this test says so.
func TestForkOfForkOverNodeReference(t *testing.T) {
	dir := referenceDir(t)
	p, err := httpstore.StartProcess(context.Background(), httpstore.ProcessOptions{
		Command: "node ref-server.mjs --port {port} --dir {dir}",
		Dir:     filepath.Join(t.TempDir(), "data"),
		WorkDir: dir,
		Stderr:  os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	forkOfFork(t, mustOpen(t, p.URL(), "5s"), streams.ErrExists)
}

// TestForkAtUnseenPosition: a position the client never saw a server
// offset for, in the stream or (up to the fork position) in its source,
// is refused with ErrNoServerOffset rather than guessed; in particular a
// fork's own position is never taken from its source, where the same
// position holds another message.
func TestForkAtUnseenPosition(t *testing.T) {
	eng, err := acid.Open(streams.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h := httpserver.New(eng, httpserver.Options{})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
		_ = eng.Close()
	})
	writer, c := mustOpen(t, srv.URL, "5s"), mustOpen(t, srv.URL, "5s")
	if _, err := writer.Create("w", streams.Config{}); err != nil {
		t.Fatal(err)
	}
	var mid streams.Offset
	for i, d := range []string{"a", "b", "c"} {
		r, err := writer.Append("w", []byte(d), streams.AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			mid = r.Next
		}
	}
	// c never saw w's offsets but its tail (read by Fork itself).
	if _, err := c.Fork("w/f", "w", mid, streams.Config{}); !errors.Is(err, httpstore.ErrNoServerOffset) {
		t.Fatalf("fork at a position c never saw: %v, want ErrNoServerOffset", err)
	}

	// c appends all of s and forks s/f at 3 messages; the writer appends
	// two messages to s/f. Position 4 of s/f is "y", c saw position 4
	// of s only ("d").
	if _, err := c.Create("s", streams.Config{}); err != nil {
		t.Fatal(err)
	}
	var at []streams.Offset
	for _, d := range []string{"a", "b", "c", "d"} {
		r, err := c.Append("s", []byte(d), streams.AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		at = append(at, r.Next)
	}
	if _, err := c.Fork("s/f", "s", at[2], streams.Config{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"y", "z"} {
		if _, err := writer.Append("s/f", []byte(d), streams.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Fork("s/g", "s/f", at[3], streams.Config{}); !errors.Is(err, httpstore.ErrNoServerOffset) {
		t.Fatalf("fork of s/f at its own position c saw only in s: %v, want ErrNoServerOffset", err)
	}
}
