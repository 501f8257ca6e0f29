package streamstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
)

var cases = []Case{
	{"offsets/parse", offsetsParse},
	{"create/idempotent", createIdempotent},
	{"append/read", appendRead},
	{"producer/checks", producerChecks},
	{"producer/check-order", producerCheckOrder},
	{"append/writer-seq", writerSeq},
	{"close", closeStream},
	{"wait", wait},
	{"expiry", expiry},
	{"expiry/sliding", expirySliding},
	{"expiry/frees-bytes", expiryFreesBytes},
	{"fork/read", forkRead},
	{"fork/chain", forkChain},
	{"limits/total", limitsTotal},
	{"limits/stream", limitsStream},
	{"append/concurrent", appendConcurrent},
	{"durability/reopen", durabilityReopen},
	{"layout/mismatch", layoutMismatch},
	{"durability/corruption", corruption},
}

func offsetsParse(t testing.TB, h Harness) {
	for _, c := range []struct {
		in   string
		want streams.Offset
	}{
		{"-1", streams.Start},
		{"now", streams.Now},
		{"0000000000000000_0000000000000000", off(0, 0)},
		{"0000000000000001_00000000000000ff", off(1, 255)},
		{"fffffffffffffffe_ffffffffffffffff", off(1<<64-2, 1<<64-1)},
	} {
		got, err := streams.ParseOffset(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseOffset(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if c.in != "-1" && got.String() != c.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), c.in)
		}
	}
	for _, bad := range []string{
		"", "0", "-2", "NOW", "0000000000000000_000000000000000", "0000000000000000-0000000000000000",
		"000000000000000A_0000000000000000", "000000000000000g_0000000000000000",
		"0000000000000000_0000000000000000_", " 000000000000000_0000000000000000",
		"ffffffffffffffff_ffffffffffffffff",
	} {
		_, err := streams.ParseOffset(bad)
		wantErr(t, fmt.Sprintf("ParseOffset(%q)", bad), err, streams.ClassBadRequest, streams.ErrBadOffset)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		a := off(r.Uint64N(4)<<uint(r.IntN(60)), r.Uint64N(4)<<uint(r.IntN(60)))
		b := off(r.Uint64N(4)<<uint(r.IntN(60)), r.Uint64N(4)<<uint(r.IntN(60)))
		if got, want := strings.Compare(a.String(), b.String()), a.Compare(b); got != want {
			t.Fatalf("text order of %v and %v is %d, numeric order %d", a, b, got, want)
		}
	}
	e := newEnv(t, h)
	e.create("s", streams.Config{})
	e.append("s", "abc", streams.AppendOptions{})
	_, err := e.s.Read("s", off(1, 4))
	wantErr(t, "read past the tail", err, streams.ClassBadRequest, streams.ErrBadOffset)
	_, err = e.s.Read("s", off(2, 0))
	wantErr(t, "read past the tail", err, streams.ClassBadRequest, streams.ErrBadOffset)
}

func createIdempotent(t testing.TB, h Harness) {
	e := newEnv(t, h)
	cfg := streams.Config{ContentType: "text/plain", TTL: time.Hour}
	e.create("s", cfg)
	created, err := e.s.Create("s", cfg)
	if err != nil || created {
		t.Errorf("create again with the same config: created=%v, %v; want false, nil", created, err)
	}
	for _, other := range []streams.Config{
		{ContentType: "application/json", TTL: time.Hour},
		{ContentType: "text/plain"},
		{ContentType: "text/plain", TTL: time.Hour, Closed: true},
	} {
		_, err := e.s.Create("s", other)
		wantErr(t, fmt.Sprintf("create with %+v", other), err, streams.ClassConflict, streams.ErrExists)
	}
	md := e.meta("s")
	if !md.Config.Equal(cfg) || !md.CreatedAt.Equal(e.clock.now()) || !md.ExpiresAt.Equal(e.clock.now().Add(time.Hour)) {
		t.Errorf("metadata %+v does not match the creation", md)
	}
	_, err = e.s.Create("x", streams.Config{TTL: time.Hour, ExpiresAt: e.clock.now()})
	wantErr(t, "create with ttl and expires-at", err, streams.ClassBadRequest, streams.ErrBadConfig)
	_, err = e.s.Create("", streams.Config{})
	wantErr(t, "create with no name", err, streams.ClassBadRequest)
	_, err = e.s.Metadata("x")
	wantErr(t, "metadata of a missing stream", err, streams.ClassNotFound)
}

func appendRead(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", streams.Config{})
	buf := []byte("a")
	r, err := e.s.Append("s", buf, streams.AppendOptions{})
	if err != nil || r.Offset != off(0, 0) || r.Next != off(1, 1) {
		t.Fatalf("first append = %+v, %v", r, err)
	}
	buf[0] = 'z'
	if r := e.append("s", "bb", streams.AppendOptions{}); r.Offset != off(1, 1) || r.Next != off(2, 3) {
		t.Errorf("second append = %+v", r)
	}
	if r := e.append("s", "ccc", streams.AppendOptions{}); r.Offset != off(2, 3) || r.Next != off(3, 6) {
		t.Errorf("third append = %+v", r)
	}
	res, err := e.s.Read("s", streams.Start)
	if err != nil || len(res.Messages) != 3 || res.Next != off(3, 6) || res.Closed {
		t.Fatalf("read = %+v, %v", res, err)
	}
	for i, want := range []streams.Offset{off(0, 0), off(1, 1), off(2, 3)} {
		if res.Messages[i].Offset != want {
			t.Errorf("message %d at %v, want %v", i, res.Messages[i].Offset, want)
		}
	}
	e.wantRead("s", streams.Start, "a", "bb", "ccc")
	e.wantRead("s", off(1, 1), "bb", "ccc")
	e.wantRead("s", off(3, 6))
	res, err = e.s.Read("s", streams.Now)
	if err != nil || len(res.Messages) != 0 || res.Next != off(3, 6) {
		t.Errorf("read now = %+v, %v", res, err)
	}
	if md := e.meta("s"); md.Tail != off(3, 6) || md.Bytes != 6 {
		t.Errorf("metadata %+v", md)
	}
	_, err = e.s.Append("missing", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append to a missing stream", err, streams.ClassNotFound)
	_, err = e.s.Read("missing", streams.Start)
	wantErr(t, "read a missing stream", err, streams.ClassNotFound)
	_, err = e.s.Append("s", nil, streams.AppendOptions{})
	wantErr(t, "empty append", err, streams.ClassBadRequest)
}

func producerChecks(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", streams.Config{})
	_, err := e.s.Append("s", []byte("x"), producer("p", 0, 1))
	if se := wantErr(t, "unknown producer at seq 1", err, streams.ClassConflict, streams.ErrSeqGap); se.ExpectedSeq != 0 || se.ReceivedSeq != 1 {
		t.Errorf("gap reports expected %d received %d, want 0 and 1", se.ExpectedSeq, se.ReceivedSeq)
	}
	if r := e.append("s", "a", producer("p", 0, 0)); r.Duplicate || r.LastSeq != 0 {
		t.Errorf("seq 0 = %+v", r)
	}
	if r := e.append("s", "b", producer("p", 0, 1)); r.Duplicate || r.LastSeq != 1 {
		t.Errorf("seq 1 = %+v", r)
	}
	_, err = e.s.Append("s", []byte("x"), producer("p", 0, 3))
	if se := wantErr(t, "seq 3 after 1", err, streams.ClassConflict, streams.ErrSeqGap); se.ExpectedSeq != 2 || se.ReceivedSeq != 3 {
		t.Errorf("gap reports expected %d received %d, want 2 and 3", se.ExpectedSeq, se.ReceivedSeq)
	}
	for _, seq := range []uint64{1, 0} {
		r, err := e.s.Append("s", []byte("dup"), producer("p", 0, seq))
		if err != nil || !r.Duplicate || r.LastSeq != 1 {
			t.Errorf("duplicate seq %d = %+v, %v; want a duplicate reporting 1", seq, r, err)
		}
	}
	e.wantRead("s", streams.Start, "a", "b")
	_, err = e.s.Append("s", []byte("x"), producer("p", 1, 5))
	wantErr(t, "new epoch at seq 5", err, streams.ClassBadRequest, streams.ErrEpochSeq)
	if r := e.append("s", "c", producer("p", 1, 0)); r.Duplicate || r.LastSeq != 0 {
		t.Errorf("new epoch at 0 = %+v", r)
	}
	_, err = e.s.Append("s", []byte("x"), producer("p", 0, 2))
	if se := wantErr(t, "stale epoch", err, streams.ClassConflict, streams.ErrStaleEpoch); se.CurrentEpoch != 1 {
		t.Errorf("stale epoch reports current %d, want 1", se.CurrentEpoch)
	}
	if r := e.append("s", "d", producer("q", 7, 0)); r.LastSeq != 0 {
		t.Errorf("unknown producer at epoch 7 seq 0 = %+v", r)
	}
	e.wantRead("s", streams.Start, "a", "b", "c", "d")
}

// producerCheckOrder puts a closed stream against every other check.
func producerCheckOrder(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", streams.Config{})
	e.append("s", "a", producer("p", 1, 0))
	e.append("s", "b", producer("p", 1, 1))
	if err := e.s.CloseStream("s"); err != nil {
		t.Fatalf("close: %v", err)
	}
	_, err := e.s.Append("s", []byte("x"), producer("p", 0, 9))
	wantErr(t, "stale epoch on a closed stream", err, streams.ClassConflict, streams.ErrStaleEpoch)
	r, err := e.s.Append("s", []byte("x"), producer("p", 1, 1))
	if err != nil || !r.Duplicate || r.LastSeq != 1 {
		t.Errorf("duplicate on a closed stream = %+v, %v; want a duplicate reporting 1", r, err)
	}
	_, err = e.s.Append("s", []byte("x"), producer("p", 2, 3))
	wantErr(t, "epoch bump at seq 3 on a closed stream", err, streams.ClassConflict, streams.ErrStreamClosed)
	_, err = e.s.Append("s", []byte("x"), producer("p", 1, 5))
	wantErr(t, "gap on a closed stream", err, streams.ClassConflict, streams.ErrStreamClosed)
	_, err = e.s.Append("s", []byte("x"), producer("q", 0, 4))
	wantErr(t, "unknown producer on a closed stream", err, streams.ClassConflict, streams.ErrStreamClosed)
	e.create("t", streams.Config{})
	e.append("t", "a", producer("p", 1, 0))
	_, err = e.s.Append("t", []byte("x"), producer("p", 2, 3))
	wantErr(t, "epoch bump with a gap", err, streams.ClassBadRequest, streams.ErrEpochSeq)
	_, err = e.s.Append("t", []byte("x"), producer("p", 0, 3))
	wantErr(t, "stale epoch with a gap", err, streams.ClassConflict, streams.ErrStaleEpoch)
	e.wantRead("s", streams.Start, "a", "b")
	e.wantRead("t", streams.Start, "a")
}

func writerSeq(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", streams.Config{})
	e.append("s", "1", streams.AppendOptions{WriterSeq: "a"})
	e.append("s", "2", streams.AppendOptions{WriterSeq: "b"})
	e.append("s", "3", streams.AppendOptions{})
	for _, seq := range []string{"b", "a", "0"} {
		_, err := e.s.Append("s", []byte("x"), streams.AppendOptions{WriterSeq: seq})
		wantErr(t, "writer seq "+seq+" after b", err, streams.ClassConflict, streams.ErrSeqRegression)
	}
	e.append("s", "4", streams.AppendOptions{WriterSeq: "ba"})
	if md := e.meta("s"); md.LastWriterSeq != "ba" {
		t.Errorf("last writer seq %q, want ba", md.LastWriterSeq)
	}
	e.wantRead("s", streams.Start, "1", "2", "3", "4")
}

func closeStream(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("born-closed", streams.Config{Closed: true})
	_, err := e.s.Append("born-closed", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append to a stream created closed", err, streams.ClassConflict, streams.ErrStreamClosed)
	e.create("s", streams.Config{})
	e.append("s", "a", streams.AppendOptions{})
	for i := 0; i < 2; i++ {
		if err := e.s.CloseStream("s"); err != nil {
			t.Fatalf("close #%d: %v", i, err)
		}
	}
	_, err = e.s.Append("s", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append to a closed stream", err, streams.ClassConflict, streams.ErrStreamClosed)
	res, err := e.s.Read("s", streams.Start)
	if err != nil || len(res.Messages) != 1 || !res.Closed {
		t.Errorf("read of a closed stream = %+v, %v", res, err)
	}
	if !e.meta("s").Closed {
		t.Errorf("metadata does not say closed")
	}
	e.create("c", streams.Config{})
	if r := e.append("c", "last", streams.AppendOptions{Close: true}); r.Next != off(1, 4) {
		t.Errorf("append and close = %+v", r)
	}
	if _, err := e.s.Append("c", nil, streams.AppendOptions{Close: true}); err != nil {
		t.Errorf("close-only append to a closed stream: %v", err)
	}
	_, err = e.s.Append("c", []byte("x"), streams.AppendOptions{Close: true})
	wantErr(t, "append and close a closed stream", err, streams.ClassConflict, streams.ErrStreamClosed)
	e.wantRead("c", streams.Start, "last")
	wantErr(t, "close a missing stream", e.s.CloseStream("missing"), streams.ClassNotFound)
}

func wait(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", streams.Config{})
	tail := e.append("s", "a", streams.AppendOptions{}).Next
	if err := e.s.Wait(context.Background(), "s", streams.Start); err != nil {
		t.Errorf("wait below the tail: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.s.Wait(ctx, "s", tail); !errors.Is(err, context.Canceled) {
		t.Errorf("wait at the tail with a cancelled context = %v, want context.Canceled", err)
	}
	waitFor := func(name string, after streams.Offset, act func()) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.s.Wait(ctx, name, after) }()
		act()
		return <-done
	}
	if err := waitFor("s", tail, func() { e.append("s", "b", streams.AppendOptions{}) }); err != nil {
		t.Errorf("wait woken by an append: %v", err)
	}
	tail = e.meta("s").Tail
	if err := waitFor("s", tail, func() {
		if err := e.s.CloseStream("s"); err != nil {
			t.Errorf("close: %v", err)
		}
	}); err != nil {
		t.Errorf("wait woken by a close: %v", err)
	}
	if err := e.s.Wait(context.Background(), "s", streams.Now); err != nil {
		t.Errorf("wait at the tail of a closed stream: %v", err)
	}
	e.create("d", streams.Config{})
	err := waitFor("d", streams.Start, func() {
		if err := e.s.Delete("d"); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	wantErr(t, "wait woken by a delete", err, streams.ClassNotFound)
}

func expiry(t testing.TB, h Harness) {
	e := newEnv(t, h, func(o *streams.Options) { o.MaxTotalBytes = 11 })
	t0 := e.clock.now()
	e.create("ttl", streams.Config{TTL: time.Minute})
	e.create("at", streams.Config{ExpiresAt: t0.Add(2 * time.Minute)})
	e.append("ttl", "12345", streams.AppendOptions{})
	e.append("at", "12345", streams.AppendOptions{})
	if md := e.meta("ttl"); !md.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("ttl stream expires at %v, want %v", md.ExpiresAt, t0.Add(time.Minute))
	}
	e.clock.advance(time.Minute)
	_, err := e.s.Metadata("ttl")
	wantErr(t, "metadata of an expired stream", err, streams.ClassNotFound)
	_, err = e.s.Read("ttl", streams.Start)
	wantErr(t, "read of an expired stream", err, streams.ClassNotFound)
	_, err = e.s.Append("ttl", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append to an expired stream", err, streams.ClassNotFound)
	e.wantRead("at", streams.Start, "12345")
	e.create("ttl", streams.Config{ContentType: "text/plain"})
	e.wantRead("ttl", streams.Start)
	e.append("ttl", "12345", streams.AppendOptions{}) // the expired bytes were released
	e.clock.advance(time.Minute)
	_, err = e.s.Read("at", streams.Start)
	wantErr(t, "read after expires-at", err, streams.ClassNotFound)
}

// expirySliding checks that appends, closes and Touch restart a TTL
// window, that duplicates, reads and metadata do not, and that ExpiresAt
// never moves.
func expirySliding(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", streams.Config{TTL: time.Minute})
	e.create("at", streams.Config{ExpiresAt: e.clock.now().Add(2 * time.Minute)})
	e.create("plain", streams.Config{})
	steps := []struct {
		what string
		act  func() error
	}{
		{"append", func() error { _, err := e.s.Append("s", []byte("a"), producer("p", 0, 0)); return err }},
		{"touch", func() error { return e.s.Touch("s") }},
		{"close", func() error { return e.s.CloseStream("s") }},
	}
	for _, st := range steps {
		e.clock.advance(50 * time.Second)
		if err := st.act(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if md := e.meta("s"); !md.ExpiresAt.Equal(e.clock.now().Add(time.Minute)) {
			t.Errorf("after %s the stream expires at %v, want %v", st.what, md.ExpiresAt, e.clock.now().Add(time.Minute))
		}
		if e.meta("s").Closed {
			continue
		}
		if err := e.s.Touch("at"); err != nil {
			t.Errorf("touch of an expires-at stream: %v", err)
		}
	}
	if err := e.s.Touch("plain"); err != nil {
		t.Errorf("touch of a stream without expiry: %v", err)
	}
	if md := e.meta("plain"); !md.ExpiresAt.IsZero() {
		t.Errorf("touch gave a stream without expiry the expiry %v", md.ExpiresAt)
	}
	_, err := e.s.Metadata("at")
	wantErr(t, "expires-at after 150s of touches", err, streams.ClassNotFound)
	e.clock.advance(50 * time.Second)
	if r, err := e.s.Append("s", []byte("a"), producer("p", 0, 0)); err != nil || !r.Duplicate {
		t.Fatalf("duplicate append = %+v, %v", r, err)
	}
	e.wantRead("s", streams.Start, "a")
	e.clock.advance(10 * time.Second)
	_, err = e.s.Metadata("s")
	wantErr(t, "a minute after the close, past a duplicate and a read", err, streams.ClassNotFound)
	wantErr(t, "touch of an expired stream", e.s.Touch("s"), streams.ClassNotFound)
	wantErr(t, "touch of a missing stream", e.s.Touch("missing"), streams.ClassNotFound)
}

// expiryFreesBytes checks that a stream's expiry releases its bytes from
// the total while the store runs, on the suite's clock: other streams take
// them at once. An expired stream that serves a fork keeps its bytes until
// its last fork is deleted.
func expiryFreesBytes(t testing.TB, h Harness) {
	e := newEnv(t, h, func(o *streams.Options) { o.MaxTotalBytes = 10 })
	e.create("a", streams.Config{TTL: time.Minute})
	e.create("b", streams.Config{})
	e.create("c", streams.Config{TTL: 2 * time.Minute})
	e.append("a", "12345", streams.AppendOptions{})
	e.append("c", "123", streams.AppendOptions{})
	e.fork("f", "c", streams.Now)
	e.append("b", "12", streams.AppendOptions{})
	_, err := e.s.Append("b", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append over the total", err, streams.ClassCapacity, streams.ErrLimit)

	e.clock.advance(time.Minute)
	if _, err := e.s.Append("b", []byte("12345"), streams.AppendOptions{}); err != nil {
		t.Fatalf("append of the 5 bytes of the expired stream a: %v; expiry must release them while the store runs", err)
	}
	_, err = e.s.Append("b", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append over the total after a expired", err, streams.ClassCapacity, streams.ErrLimit)

	e.clock.advance(time.Minute)
	_, err = e.s.Append("b", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append while the expired c still serves its fork", err, streams.ClassCapacity, streams.ErrLimit)
	e.wantRead("f", streams.Start, "123")
	if err := e.s.Delete("f"); err != nil {
		t.Fatalf("delete the fork: %v", err)
	}
	if _, err := e.s.Append("b", []byte("123"), streams.AppendOptions{}); err != nil {
		t.Fatalf("append of the 3 bytes of the expired c after its last fork went: %v", err)
	}
	e.wantRead("b", streams.Start, "12", "12345", "123")

	// A TTL window that slid releases the bytes at its new end, not before.
	e = newEnv(t, h, func(o *streams.Options) { o.MaxTotalBytes = 10 })
	e.create("s", streams.Config{TTL: time.Minute})
	e.create("t", streams.Config{})
	e.append("s", "12345", streams.AppendOptions{})
	e.clock.advance(50 * time.Second)
	if err := e.s.Touch("s"); err != nil {
		t.Fatalf("touch: %v", err)
	}
	e.append("t", "12345", streams.AppendOptions{})
	e.clock.advance(20 * time.Second)
	_, err = e.s.Append("t", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append past the first end of a window that slid", err, streams.ClassCapacity, streams.ErrLimit)
	e.wantRead("s", streams.Start, "12345")
	e.clock.advance(40 * time.Second)
	if _, err := e.s.Append("t", []byte("12345"), streams.AppendOptions{}); err != nil {
		t.Fatalf("append of the bytes of a stream whose slid window ended: %v", err)
	}
}

func forkRead(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("src", streams.Config{ContentType: "text/plain"})
	e.append("src", "a", streams.AppendOptions{})
	at := e.append("src", "b", streams.AppendOptions{}).Next
	e.append("src", "c", streams.AppendOptions{})
	e.fork("f", "src", at)
	e.append("src", "d", streams.AppendOptions{})
	e.wantRead("f", streams.Start, "a", "b")
	md := e.meta("f")
	if md.Tail != at || md.ForkOf != "src" || md.ForkOffset != at || md.Config.ContentType != "text/plain" {
		t.Errorf("fork metadata %+v", md)
	}
	if r := e.append("f", "e", streams.AppendOptions{}); r.Offset != at {
		t.Errorf("first fork append at %v, want %v", r.Offset, at)
	}
	e.wantRead("f", streams.Start, "a", "b", "e")
	e.wantRead("f", off(1, 1), "b", "e")
	e.wantRead("f", at, "e")
	e.wantRead("src", streams.Start, "a", "b", "c", "d")
	e.fork("g", "src", streams.Now)
	e.wantRead("g", streams.Start, "a", "b", "c", "d")
	e.fork("h", "src", streams.Start)
	e.wantRead("h", streams.Start)
	if n := e.meta("src").Forks; n != 3 {
		t.Errorf("source counts %d forks, want 3", n)
	}
	created, err := e.s.Fork("f", "src", at, streams.Config{})
	if err != nil || created {
		t.Errorf("same fork again: created=%v, %v", created, err)
	}
	_, err = e.s.Fork("f", "src", streams.Start, streams.Config{})
	wantErr(t, "fork over another fork", err, streams.ClassConflict, streams.ErrExists)
	_, err = e.s.Fork("x", "src", off(9, 9), streams.Config{})
	wantErr(t, "fork past the tail", err, streams.ClassBadRequest, streams.ErrBadOffset)
	_, err = e.s.Fork("x", "missing", streams.Start, streams.Config{})
	wantErr(t, "fork of a missing stream", err, streams.ClassNotFound)
	_, err = e.s.Fork("x", "src", streams.Start, streams.Config{ContentType: "image/png"})
	wantErr(t, "fork with another content type", err, streams.ClassBadRequest)
	if n := e.meta("src").Forks; n != 3 {
		t.Errorf("after refused forks the source counts %d forks, want 3", n)
	}
}

func forkChain(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("a", streams.Config{})
	e.append("a", "a1", streams.AppendOptions{})
	e.fork("b", "a", e.append("a", "a2", streams.AppendOptions{}).Next)
	e.append("a", "a3", streams.AppendOptions{})
	e.append("b", "b1", streams.AppendOptions{})
	e.fork("c", "b", streams.Now)
	e.append("b", "b2", streams.AppendOptions{})
	e.append("c", "c1", streams.AppendOptions{})
	e.fork("d", "c", streams.Now)
	e.append("c", "c2", streams.AppendOptions{})
	e.append("d", "d1", streams.AppendOptions{})
	want := []string{"a1", "a2", "b1", "c1", "d1"}
	e.wantRead("d", streams.Start, want...)
	e.wantRead("c", streams.Start, "a1", "a2", "b1", "c1", "c2")
	e.wantRead("b", streams.Start, "a1", "a2", "b1", "b2")

	for _, name := range []string{"a", "b", "c"} {
		if err := e.s.Delete(name); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
		_, err := e.s.Metadata(name)
		wantErr(t, "metadata of tombstone "+name, err, streams.ClassGone)
		_, err = e.s.Read(name, streams.Start)
		wantErr(t, "read of tombstone "+name, err, streams.ClassGone)
		_, err = e.s.Append(name, []byte("x"), streams.AppendOptions{})
		wantErr(t, "append to tombstone "+name, err, streams.ClassGone)
		_, err = e.s.Create(name, streams.Config{})
		wantErr(t, "create over tombstone "+name, err, streams.ClassConflict, streams.ErrExists)
		_, err = e.s.Fork("x", name, streams.Start, streams.Config{})
		wantErr(t, "fork of tombstone "+name, err, streams.ClassGone)
		wantErr(t, "delete of tombstone "+name, e.s.Delete(name), streams.ClassGone)
		e.wantRead("d", streams.Start, want...)
	}
	if err := e.s.Delete("d"); err != nil {
		t.Fatalf("delete d: %v", err)
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		_, err := e.s.Metadata(name)
		wantErr(t, "metadata after the cascade of "+name, err, streams.ClassNotFound)
	}
	e.create("a", streams.Config{})
	e.wantRead("a", streams.Start)
	if md := e.meta("a"); md.Tail != streams.Start || md.Forks != 0 {
		t.Errorf("re-created stream %+v", md)
	}
	e.fork("b", "a", streams.Start)
	if err := e.s.Delete("b"); err != nil {
		t.Fatalf("delete b: %v", err)
	}
	if md := e.meta("a"); md.Forks != 0 {
		t.Errorf("live source still counts %d forks after its fork was deleted", md.Forks)
	}
}

func limitsTotal(t testing.TB, h Harness) {
	e := newEnv(t, h, func(o *streams.Options) { o.MaxTotalBytes = 100 })
	e.create("s1", streams.Config{})
	e.create("s2", streams.Config{})
	e.create("closed", streams.Config{Closed: true})
	e.append("s1", strings.Repeat("x", 60), streams.AppendOptions{})
	e.append("s2", "p", producer("p", 0, 0))
	e.append("s2", "w", streams.AppendOptions{WriterSeq: "m"})
	_, err := e.s.Append("s2", make([]byte, 39), streams.AppendOptions{})
	wantErr(t, "append over the total", err, streams.ClassCapacity, streams.ErrLimit)
	big := make([]byte, 20)
	for i := 0; i < 3; i++ {
		_, err = e.s.Append("missing", big, streams.AppendOptions{})
		wantErr(t, "append to a missing stream", err, streams.ClassNotFound)
		_, err = e.s.Append("closed", big, streams.AppendOptions{})
		wantErr(t, "append to a closed stream", err, streams.ClassConflict)
		_, err = e.s.Append("s2", big, producer("p", 0, 5))
		wantErr(t, "append with a gap", err, streams.ClassConflict)
		_, err = e.s.Append("s2", big, streams.AppendOptions{WriterSeq: "a"})
		wantErr(t, "append with a writer seq regression", err, streams.ClassConflict)
		if r, err := e.s.Append("s2", big, producer("p", 0, 0)); err != nil || !r.Duplicate {
			t.Fatalf("duplicate append = %+v, %v", r, err)
		}
	}
	e.append("s2", strings.Repeat("y", 38), streams.AppendOptions{})
	_, err = e.s.Append("s1", []byte("z"), streams.AppendOptions{})
	wantErr(t, "append at the total", err, streams.ClassCapacity, streams.ErrLimit)
	if err := e.s.Delete("s1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	e.append("s2", strings.Repeat("z", 60), streams.AppendOptions{})
	_, err = e.s.Append("s2", []byte("z"), streams.AppendOptions{})
	wantErr(t, "append at the total after a delete", err, streams.ClassCapacity, streams.ErrLimit)
}

func limitsStream(t testing.TB, h Harness) {
	e := newEnv(t, h, func(o *streams.Options) { o.MaxStreamBytes, o.MaxTotalBytes = 10, 25 })
	for _, n := range []string{"a", "b", "c"} {
		e.create(n, streams.Config{})
	}
	e.append("a", "123456", streams.AppendOptions{})
	for i := 0; i < 5; i++ {
		_, err := e.s.Append("a", []byte("12345"), streams.AppendOptions{})
		wantErr(t, "append over the stream limit", err, streams.ClassCapacity, streams.ErrLimit)
	}
	e.append("a", "1234", streams.AppendOptions{})
	e.append("b", "1234567890", streams.AppendOptions{})
	_, err := e.s.Append("b", []byte("1"), streams.AppendOptions{})
	wantErr(t, "append at the stream limit", err, streams.ClassCapacity, streams.ErrLimit)
	e.append("c", "12345", streams.AppendOptions{})
	_, err = e.s.Append("c", []byte("1"), streams.AppendOptions{})
	wantErr(t, "append at the total", err, streams.ClassCapacity, streams.ErrLimit)
	e.fork("f", "a", streams.Now)
	if err := e.s.Delete("c"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	e.append("f", "12345", streams.AppendOptions{}) // the inherited prefix does not count
}

func appendConcurrent(t testing.TB, h Harness) {
	const writers, each = 8, 20
	e := newEnv(t, h)
	e.create("shared", streams.Config{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("own-%d", w)
			if _, err := e.s.Create(own, streams.Config{}); err != nil {
				t.Errorf("create %s: %v", own, err)
				return
			}
			for i := 0; i < each; i++ {
				data := []byte(fmt.Sprintf("w%d-%02d", w, i))
				if _, err := e.s.Append("shared", data, producer(fmt.Sprint(w), 0, uint64(i))); err != nil {
					t.Errorf("append to shared: %v", err)
					return
				}
				if _, err := e.s.Append(own, data, streams.AppendOptions{}); err != nil {
					t.Errorf("append to %s: %v", own, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	res, err := e.s.Read("shared", streams.Start)
	if err != nil || len(res.Messages) != writers*each {
		t.Fatalf("read shared: %d messages, %v; want %d", len(res.Messages), err, writers*each)
	}
	next := map[string]int{}
	pos := streams.Start
	for _, m := range res.Messages {
		if m.Offset != pos {
			t.Fatalf("message at %v, want %v", m.Offset, pos)
		}
		pos = off(pos.ReadSeq+1, pos.ByteOffset+uint64(len(m.Data)))
		var w, i int
		if _, err := fmt.Sscanf(string(m.Data), "w%d-%d", &w, &i); err != nil {
			t.Fatalf("message %q: %v", m.Data, err)
		}
		if i != next[fmt.Sprint(w)] {
			t.Fatalf("writer %d: message %d after %d", w, i, next[fmt.Sprint(w)]-1)
		}
		next[fmt.Sprint(w)]++
	}
	if res.Next != pos {
		t.Errorf("next %v, want %v", res.Next, pos)
	}
	for w := 0; w < writers; w++ {
		if got := len(e.read(fmt.Sprintf("own-%d", w), streams.Start)); got != each {
			t.Errorf("own-%d holds %d messages, want %d", w, got, each)
		}
	}
}

func durabilityReopen(t testing.TB, h Harness) {
	const limit = 40
	e := newEnv(t, h, func(o *streams.Options) { o.MaxTotalBytes = limit })
	if !e.persistent() {
		t.Skip("not persistent")
	}
	e.create("s", streams.Config{ContentType: "text/plain"})
	e.append("s", "a", producer("p", 2, 0))
	e.append("s", "b", producer("p", 2, 1))
	e.append("s", "c", streams.AppendOptions{WriterSeq: "w1"})
	e.create("closed", streams.Config{})
	e.append("closed", "z", streams.AppendOptions{Close: true})
	e.create("root", streams.Config{})
	e.fork("f", "root", e.append("root", "r1", streams.AppendOptions{}).Next)
	e.append("root", "r2", streams.AppendOptions{})
	e.append("f", "f1", streams.AppendOptions{})
	if err := e.s.Delete("root"); err != nil {
		t.Fatalf("delete root: %v", err)
	}
	e.create("ttl", streams.Config{TTL: time.Minute})
	e.append("ttl", "0123456789", streams.AppendOptions{})
	// used: s 3, closed 1, root 4, f 2, ttl 10 = 20
	e.clock.advance(2 * time.Minute)
	e.reopen()

	e.wantRead("s", streams.Start, "a", "b", "c")
	md := e.meta("s")
	if md.Config.ContentType != "text/plain" || md.LastWriterSeq != "w1" || md.Tail != off(3, 3) {
		t.Errorf("s after reopen: %+v", md)
	}
	if r, err := e.s.Append("s", []byte("b"), producer("p", 2, 1)); err != nil || !r.Duplicate || r.LastSeq != 1 {
		t.Errorf("producer retry after reopen = %+v, %v; want a duplicate reporting 1", r, err)
	}
	_, err := e.s.Append("s", []byte("x"), producer("p", 1, 0))
	wantErr(t, "stale epoch after reopen", err, streams.ClassConflict, streams.ErrStaleEpoch)
	_, err = e.s.Append("s", []byte("x"), streams.AppendOptions{WriterSeq: "w0"})
	wantErr(t, "writer seq after reopen", err, streams.ClassConflict, streams.ErrSeqRegression)
	_, err = e.s.Append("closed", []byte("x"), streams.AppendOptions{})
	wantErr(t, "closed after reopen", err, streams.ClassConflict, streams.ErrStreamClosed)
	_, err = e.s.Metadata("root")
	wantErr(t, "tombstone after reopen", err, streams.ClassGone)
	e.wantRead("f", streams.Start, "r1", "f1")
	_, err = e.s.Metadata("ttl")
	wantErr(t, "expired while closed", err, streams.ClassNotFound)
	// 10 bytes left the total with the expired stream: 30 remain free.
	e.append("s", strings.Repeat("d", 30), producer("p", 2, 2))
	e.create("more", streams.Config{})
	_, err = e.s.Append("more", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append over the total rebuilt at open", err, streams.ClassCapacity, streams.ErrLimit)
	if err := e.s.Delete("f"); err != nil {
		t.Fatalf("delete f: %v", err)
	}
	e.reopen()
	for _, name := range []string{"root", "f"} {
		_, err = e.s.Metadata(name)
		wantErr(t, "cascade deleted "+name+" after reopen", err, streams.ClassNotFound)
	}
	e.append("more", "123456", streams.AppendOptions{})
	_, err = e.s.Append("more", []byte("x"), streams.AppendOptions{})
	wantErr(t, "append over the total after the cascade", err, streams.ClassCapacity, streams.ErrLimit)
}

func layoutMismatch(t testing.TB, h Harness) {
	if h.MismatchParams == nil {
		t.Skip("no other layout to try")
	}
	e := newEnv(t, h)
	e.create("s", streams.Config{})
	e.append("s", "a", streams.AppendOptions{})
	if err := e.s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	e.s = nil
	o := e.opts
	o.Params = h.MismatchParams
	s, err := h.Open(o)
	if err == nil {
		_ = s.Close()
		t.Fatalf("open with params %v over a directory made with %v succeeded", h.MismatchParams, h.Params)
	}
	if !errors.Is(err, streams.ErrLayout) {
		t.Errorf("open with another layout: %v, want streams.ErrLayout", err)
	}
	e.open()
	e.wantRead("s", streams.Start, "a")
}
