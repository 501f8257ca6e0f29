package streamstest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

// clock is the time the suite gives the store; only the suite moves it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one store under test in its own directory.
type env struct {
	t     testing.TB
	h     Harness
	clock *clock
	opts  streams.Options
	s     streams.Store
}

func newEnv(t testing.TB, h Harness, set ...func(*streams.Options)) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e := &env{t: t, h: h, clock: c, opts: streams.Options{Dir: t.TempDir(), Params: h.Params, Clock: c.now}}
	for _, f := range set {
		f(&e.opts)
	}
	e.open()
	t.Cleanup(func() {
		if e.s != nil {
			_ = e.s.Close()
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	s, err := e.h.Open(e.opts)
	if err != nil {
		e.t.Fatalf("%s: open: %v", e.h.Name, err)
	}
	e.s = s
}

func (e *env) reopen() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.s = nil
	e.open()
}

func (e *env) persistent() bool { return e.s.Capabilities().Persistent }

func (e *env) create(name string, cfg streams.Config) {
	e.t.Helper()
	created, err := e.s.Create(name, cfg)
	if err != nil || !created {
		e.t.Fatalf("create %s: created=%v, %v", name, created, err)
	}
}

func (e *env) append(name, data string, o streams.AppendOptions) streams.AppendResult {
	e.t.Helper()
	r, err := e.s.Append(name, []byte(data), o)
	if err != nil {
		e.t.Fatalf("append %q to %s: %v", data, name, err)
	}
	return r
}

func (e *env) fork(name, source string, at streams.Offset) {
	e.t.Helper()
	created, err := e.s.Fork(name, source, at, streams.Config{})
	if err != nil || !created {
		e.t.Fatalf("fork %s of %s at %v: created=%v, %v", name, source, at, created, err)
	}
}

// read returns the data of the messages of name from an offset.
func (e *env) read(name string, from streams.Offset) []string {
	e.t.Helper()
	r, err := e.s.Read(name, from)
	if err != nil {
		e.t.Fatalf("read %s from %v: %v", name, from, err)
	}
	out := []string{}
	for _, m := range r.Messages {
		out = append(out, string(m.Data))
	}
	return out
}

func (e *env) wantRead(name string, from streams.Offset, want ...string) {
	e.t.Helper()
	got := e.read(name, from)
	if len(got) != len(want) {
		e.t.Errorf("read %s from %v = %q, want %q", name, from, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			e.t.Errorf("read %s from %v = %q, want %q", name, from, got, want)
			return
		}
	}
}

func (e *env) meta(name string) streams.Metadata {
	e.t.Helper()
	md, err := e.s.Metadata(name)
	if err != nil {
		e.t.Fatalf("metadata %s: %v", name, err)
	}
	return md
}

func producer(id string, epoch, seq uint64) streams.AppendOptions {
	return streams.AppendOptions{Producer: &streams.Producer{ID: id, Epoch: epoch, Seq: seq}}
}

// wantErr checks that err is an error of class c matching every sentinel
// in kinds, and returns it as an *Error.
func wantErr(t testing.TB, what string, err error, c streams.Class, kinds ...error) *streams.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v %v", what, c, kinds)
	}
	if got := streams.ClassOf(err); got != c {
		t.Errorf("%s: class %v, want %v (%v)", what, got, c, err)
	}
	if !errors.Is(err, c.Sentinel()) {
		t.Errorf("%s: %v does not match %v", what, err, c.Sentinel())
	}
	for _, k := range kinds {
		if !errors.Is(err, k) {
			t.Errorf("%s: %v does not match %v", what, err, k)
		}
	}
	var se *streams.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: %T is not a *streams.Error: %v", what, err, err)
	}
	return se
}

func off(seq, b uint64) streams.Offset { return streams.Offset{ReadSeq: seq, ByteOffset: b} }
