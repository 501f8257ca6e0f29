package httpserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/httpserver"
	"github.com/ordeal-dev/ordeal/engines/streams/memory"
)

// fakeClock is the engine's clock, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newServer(t testing.TB) (*httptest.Server, *fakeClock) {
	return newServerWith(t, httpserver.New)
}

func newServerWith(t testing.TB, mk func(streams.Store, httpserver.Options) *httpserver.Handler) (*httptest.Server, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := memory.Open(streams.Options{Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	h := mk(s, httpserver.Options{LongPollTimeout: 200 * time.Millisecond, SSEDuration: 2 * time.Second})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
		_ = s.Close()
	})
	return srv, clk
}

// step is one request and what its answer must hold.
type step struct {
	method, path string
	header       map[string]string
	body         string
	status       int
	want         map[string]string // headers; "" means absent
	wantBody     *string
}

func str(s string) *string { return &s }

func run(t *testing.T, srv *httptest.Server, steps []step) {
	t.Helper()
	for _, p := range check(srv, steps) {
		t.Error(p)
	}
}

// check runs steps and returns what their answers got wrong; it stops at
// the first wrong status.
func check(srv *httptest.Server, steps []step) []string {
	var out []string
	for i, s := range steps {
		req, err := http.NewRequest(s.method, srv.URL+s.path, strings.NewReader(s.body))
		if err != nil {
			return append(out, err.Error())
		}
		for k, v := range s.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return append(out, fmt.Sprintf("step %d %s %s: %v", i, s.method, s.path, err))
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.status {
			return append(out, fmt.Sprintf("step %d %s %s: status %d, want %d (%s)", i, s.method, s.path, resp.StatusCode, s.status, b))
		}
		for k, v := range s.want {
			if got := resp.Header.Get(k); got != v {
				out = append(out, fmt.Sprintf("step %d %s %s: header %s = %q, want %q", i, s.method, s.path, k, got, v))
			}
		}
		if s.wantBody != nil && string(b) != *s.wantBody {
			out = append(out, fmt.Sprintf("step %d %s %s: body %q, want %q", i, s.method, s.path, b, *s.wantBody))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			out = append(out, fmt.Sprintf("step %d: no nosniff header", i))
		}
	}
	return out
}

const (
	o0 = "0000000000000000_0000000000000000"
	o1 = "0000000000000001_0000000000000005"
	o2 = "0000000000000002_0000000000000008"
)

func TestProtocol(t *testing.T) {
	text := map[string]string{"Content-Type": "text/plain"}
	prod := func(epoch, seq string) map[string]string {
		return map[string]string{"Content-Type": "text/plain", "Producer-Id": "p", "Producer-Epoch": epoch, "Producer-Seq": seq}
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"create, append, read", []step{
			{method: "PUT", path: "/s", header: text, body: "hello", status: 201, want: map[string]string{"Stream-Next-Offset": o1, "Content-Type": "text/plain"}},
			{method: "PUT", path: "/s", header: text, status: 200},
			{method: "PUT", path: "/s", header: map[string]string{"Content-Type": "application/json"}, status: 409},
			{method: "POST", path: "/s", header: text, body: "abc", status: 204, want: map[string]string{"Stream-Next-Offset": o2}},
			{method: "POST", path: "/s", header: map[string]string{"Content-Type": "application/json"}, body: "{}", status: 409},
			{method: "POST", path: "/s", header: text, status: 400},
			{method: "GET", path: "/s", status: 200, want: map[string]string{"Stream-Next-Offset": o2, "Stream-Up-To-Date": "true"}, wantBody: str("helloabc")},
			{method: "GET", path: "/s?offset=" + o1, status: 200, wantBody: str("abc")},
			{method: "GET", path: "/s?offset=now", status: 200, want: map[string]string{"Cache-Control": "no-store", "Stream-Next-Offset": o2}, wantBody: str("")},
			{method: "GET", path: "/s?offset=0,1", status: 400},
			{method: "GET", path: "/s?offset=a&offset=b", status: 400},
			{method: "GET", path: "/s?offset=0000000000000009_0000000000000009", status: 400},
			{method: "GET", path: "/s?live=long-poll", status: 400},
			{method: "HEAD", path: "/s", status: 200, want: map[string]string{"Stream-Next-Offset": o2, "Cache-Control": "no-store", "Stream-Closed": ""}},
			{method: "DELETE", path: "/s", status: 204},
			{method: "GET", path: "/s", status: 404},
			{method: "DELETE", path: "/s", status: 404},
		}},
		{"producers", []step{
			{method: "PUT", path: "/p", header: text, status: 201},
			{method: "POST", path: "/p", header: prod("0", "1"), body: "x", status: 409, want: map[string]string{"Producer-Expected-Seq": "0", "Producer-Received-Seq": "1"}},
			{method: "POST", path: "/p", header: prod("0", "0"), body: "a", status: 200, want: map[string]string{"Producer-Epoch": "0", "Producer-Seq": "0"}},
			{method: "POST", path: "/p", header: prod("0", "0"), body: "a", status: 204, want: map[string]string{"Producer-Seq": "0"}},
			{method: "POST", path: "/p", header: prod("1", "2"), body: "a", status: 400},
			{method: "POST", path: "/p", header: prod("1", "0"), body: "b", status: 200},
			{method: "POST", path: "/p", header: prod("0", "1"), body: "z", status: 403, want: map[string]string{"Producer-Epoch": "1"}},
			{method: "POST", path: "/p", header: prod("01", "1"), body: "z", status: 400},
			{method: "POST", path: "/p", header: map[string]string{"Content-Type": "text/plain", "Producer-Id": "p"}, body: "z", status: 400},
			{method: "POST", path: "/p", header: map[string]string{"Stream-Closed": "true", "Producer-Id": "p", "Producer-Epoch": "1", "Producer-Seq": "1"}, status: 204, want: map[string]string{"Stream-Closed": "true", "Producer-Seq": "1"}},
			{method: "POST", path: "/p", header: map[string]string{"Stream-Closed": "true", "Producer-Id": "p", "Producer-Epoch": "1", "Producer-Seq": "1"}, status: 204},
			{method: "POST", path: "/p", header: text, body: "late", status: 409, want: map[string]string{"Stream-Closed": "true", "Stream-Next-Offset": "0000000000000002_0000000000000002"}},
			{method: "GET", path: "/p", status: 200, want: map[string]string{"Stream-Closed": "true"}, wantBody: str("ab")},
			{method: "GET", path: "/p?offset=now&live=long-poll", status: 204, want: map[string]string{"Stream-Closed": "true", "Stream-Cursor": ""}},
			{method: "PUT", path: "/p", header: text, status: 409},
			{method: "PUT", path: "/p", header: map[string]string{"Content-Type": "text/plain", "Stream-Closed": "true"}, status: 200},
		}},
		{"json", []step{
			{method: "PUT", path: "/j", header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: `[{"a":1},{"b":2}]`, status: 201},
			{method: "POST", path: "/j", header: map[string]string{"Content-Type": "application/json"}, body: `[[1,2]]`, status: 204},
			{method: "POST", path: "/j", header: map[string]string{"Content-Type": "application/json"}, body: `[]`, status: 400},
			{method: "POST", path: "/j", header: map[string]string{"Content-Type": "application/json"}, body: `{bad`, status: 400},
			{method: "GET", path: "/j", status: 200, want: map[string]string{"Content-Type": "application/json"}, wantBody: str(`[{"a":1},{"b":2},[1,2]]`)},
			{method: "PUT", path: "/jf", header: map[string]string{"Stream-Forked-From": "/j", "Stream-Fork-Offset": o0, "Stream-Fork-Sub-Offset": "1"}, status: 201},
			{method: "GET", path: "/jf", status: 200, wantBody: str(`[{"a":1}]`)},
			{method: "PUT", path: "/jf", header: map[string]string{"Stream-Forked-From": "/j", "Stream-Fork-Offset": o0, "Stream-Fork-Sub-Offset": "1"}, status: 200},
			{method: "PUT", path: "/jf", header: map[string]string{"Stream-Forked-From": "/j", "Stream-Fork-Offset": o0, "Stream-Fork-Sub-Offset": "2"}, status: 409},
			{method: "PUT", path: "/jx", header: map[string]string{"Stream-Forked-From": "/j", "Stream-Fork-Offset": o0, "Stream-Fork-Sub-Offset": "3"}, status: 400},
			{method: "PUT", path: "/jy", header: map[string]string{"Stream-Forked-From": "/j", "Content-Type": "text/plain"}, status: 409},
			{method: "DELETE", path: "/j", status: 204},
			{method: "HEAD", path: "/j", status: 410},
			{method: "PUT", path: "/jz", header: map[string]string{"Stream-Forked-From": "/j"}, status: 409},
			{method: "GET", path: "/jf", status: 200, wantBody: str(`[{"a":1}]`)},
		}},
		{"cache and cors", []step{
			{method: "PUT", path: "/c", header: text, body: "x", status: 201},
			{method: "GET", path: "/c", header: map[string]string{"If-None-Match": `"` + "nope" + `"`}, status: 200},
			{method: "OPTIONS", path: "/c", status: 204},
			{method: "GET", path: "/__ds/subscriptions/x", status: 404},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := newServer(t)
			run(t, srv, c.steps)
		})
	}
}

func TestETagAndTTL(t *testing.T) {
	srv, clk := newServer(t)
	run(t, srv, []step{{method: "PUT", path: "/t", header: map[string]string{"Content-Type": "text/plain", "Stream-TTL": "60"}, body: "x", status: 201}})
	resp, err := http.Get(srv.URL + "/t")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tag := resp.Header.Get("ETag")
	run(t, srv, []step{
		{method: "GET", path: "/t", header: map[string]string{"If-None-Match": tag}, status: 304},
		{method: "HEAD", path: "/t", status: 200, want: map[string]string{"Stream-TTL": "60"}},
	})
	for _, p := range slidingReads(srv, clk) {
		t.Error(p)
	}
	run(t, srv, []step{
		{method: "PUT", path: "/t", header: map[string]string{"Stream-TTL": "060"}, status: 400},
		{method: "PUT", path: "/t", header: map[string]string{"Stream-TTL": "1", "Stream-Expires-At": "2030-01-01T00:00:00Z"}, status: 400},
	})
}

// slidingReads reads a stream with a 60 s TTL every 50 s and checks that
// it lives on, then that HEAD does not slide it.
func slidingReads(srv *httptest.Server, clk *fakeClock) []string {
	for i := 0; i < 3; i++ {
		clk.advance(50 * time.Second)
		if p := check(srv, []step{{method: "GET", path: "/t?offset=now", status: 200}}); p != nil {
			return p
		}
	}
	clk.advance(50 * time.Second)
	if p := check(srv, []step{{method: "HEAD", path: "/t", status: 200}}); p != nil {
		return p
	}
	clk.advance(20 * time.Second)
	return check(srv, []step{{method: "HEAD", path: "/t", status: 404}})
}

// closedConflict is an append to a closed stream, which must say so.
var closedConflict = []step{
	{method: "PUT", path: "/c", header: map[string]string{"Content-Type": "text/plain", "Stream-Closed": "true"}, body: "x", status: 201},
	{method: "POST", path: "/c", header: map[string]string{"Content-Type": "text/plain"}, body: "y", status: 409, want: map[string]string{"Stream-Closed": "true", "Stream-Next-Offset": "0000000000000001_0000000000000001"}},
}

// TestPlantedBugsAreCaught proves that the protocol checks fail a server
// with each planted defect.
func TestPlantedBugsAreCaught(t *testing.T) {
	noTouch := func(s streams.Store, o httpserver.Options) *httpserver.Handler {
		return httpserver.NewWithBugs(s, o, true, false)
	}
	srv, clk := newServerWith(t, noTouch)
	check(srv, []step{{method: "PUT", path: "/t", header: map[string]string{"Stream-TTL": "60"}, status: 201}})
	if p := slidingReads(srv, clk); p == nil {
		t.Error("reads that do not slide the ttl pass the sliding check")
	}
	noHeader := func(s streams.Store, o httpserver.Options) *httpserver.Handler {
		return httpserver.NewWithBugs(s, o, false, true)
	}
	srv, _ = newServerWith(t, noHeader)
	if p := check(srv, closedConflict); p == nil {
		t.Error("a 409 without Stream-Closed passes the closed-stream check")
	}
	srv, _ = newServer(t)
	run(t, srv, closedConflict)
}

func TestLiveModes(t *testing.T) {
	srv, _ := newServer(t)
	run(t, srv, []step{
		{method: "PUT", path: "/l", header: map[string]string{"Content-Type": "text/plain"}, body: "a", status: 201},
		{method: "GET", path: "/l?offset=" + "0000000000000001_0000000000000001" + "&live=long-poll", status: 204, want: map[string]string{"Stream-Up-To-Date": "true"}},
	})
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/l?offset=now&live=long-poll")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	time.Sleep(50 * time.Millisecond)
	run(t, srv, []step{{method: "POST", path: "/l", header: map[string]string{"Content-Type": "text/plain"}, body: "b", status: 204}})
	if b := <-got; b != "b" && b != "" {
		t.Errorf("long-poll woken by an append returned %q", b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/l?offset=-1&live=sse", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("sse content type %q", ct)
	}
	run(t, srv, []step{{method: "POST", path: "/l", header: map[string]string{"Content-Type": "text/plain", "Stream-Closed": "true"}, body: "c\r\nevent: control", status: 204}})
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{"event: data\ndata:ab\n", "event: data\ndata:c\ndata:event: control\n", `"streamClosed":true`} {
		if !strings.Contains(text, want) {
			t.Errorf("sse stream lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "event: control") != 3 {
		t.Errorf("want one control event after each data event and the injected line as data:\n%s", text)
	}
}
