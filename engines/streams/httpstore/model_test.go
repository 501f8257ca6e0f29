package httpstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/httpstore"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/streamsmodel"
)

// modelRun records a history through httpstore against ordeal's server as
// a child process (with a planted engine bug, if bug is not empty):
// concurrent producers on two streams with reads, a fork at a message,
// SIGKILL and a restart, retries of the last acknowledged appends (which
// must be duplicates), more appends and reads; and checks it with the
// streams model.
func modelRun(t *testing.T, bug string) *streamsmodel.Result {
	t.Helper()
	o := selfTemplate(t)
	if bug != "" {
		o.Command += " --bug " + bug
	}
	return modelRunOn(t, o)
}

// modelRunOn is modelRun against the server o starts.
func modelRunOn(t *testing.T, o httpstore.ProcessOptions) *streamsmodel.Result {
	t.Helper()
	p, err := httpstore.StartProcess(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	c := mustOpen(t, p.URL(), "5s")
	r := streamsmodel.NewRecorder(&linearizability.Logical{})
	names := []string{"a", "b"}
	app := func(n string, seq uint64) streamsmodel.Input {
		return streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: n, Data: fmt.Sprint(n, seq), Producer: "p" + n, Seq: seq}
	}
	read := func(n string) streamsmodel.Input { return streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: n} }
	for cl, n := range names {
		r.Do(cl, c, streamsmodel.Input{Kind: streamsmodel.KindCreate, Stream: n})
	}
	var wg sync.WaitGroup
	for cl, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range uint64(6) {
				r.Do(cl, c, app(n, seq))
				r.Do(cl+2, c, read(names[1-cl]))
			}
		}()
	}
	wg.Wait()
	src, err := c.Read("a", streams.Start)
	if err != nil {
		t.Fatal(err)
	}
	r.Do(0, c, streamsmodel.Input{Kind: streamsmodel.KindFork, Stream: "a/f", Source: "a", At: 3, Offset: streamsmodel.ForkOffset(src, 3)})
	r.Do(0, c, streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: "a/f", Data: "f0"})
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	r.CutOff("killed")
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	for cl, n := range names {
		r.Do(cl, c, app(n, 5))
		r.Do(cl, c, app(n, 6))
	}
	for cl, n := range []string{"a", "b", "a/f"} {
		r.Do(cl, c, read(n))
	}
	return streamsmodel.Check(r.History(), 30*time.Second, false)
}

// TestModelOverHTTP checks that the streams model, the one jepsen-lite's
// streams family uses, drives a server over HTTP through httpstore, and
// that it catches an engine that loses producer state at a crash.
func TestModelOverHTTP(t *testing.T) {
	res := modelRun(t, "")
	t.Logf("ordeal's server over acid: %v, %d ops: %s", res.Verdict, res.Ops, res.Reason)
	if res.Verdict != linearizability.Ok {
		t.Errorf("ordeal's server over acid: %v, want Ok", res.Verdict)
	}
	res = modelRun(t, "producer-outside-txn")
	t.Logf("with producer state outside the transaction: %v: %s", res.Verdict, res.Reason)
	if res.Verdict != linearizability.Illegal {
		t.Errorf("a server that loses producer state at a crash: %v, want Illegal", res.Verdict)
	}
}

// TestModelOverHTTPNodeReference runs the same history against the Node
// reference server, file-backed, killed with SIGKILL in the middle.
func TestModelOverHTTPNodeReference(t *testing.T) {
	dir := referenceDir(t)
	res := modelRunOn(t, httpstore.ProcessOptions{
		Command: "node ref-server.mjs --port {port} --dir {dir}",
		Dir:     filepath.Join(t.TempDir(), "data"),
		WorkDir: dir,
	})
	t.Logf("node reference server: %v, %d ops: %s", res.Verdict, res.Ops, res.Reason)
	if res.Verdict != linearizability.Ok {
		t.Errorf("node reference server: %v, want Ok", res.Verdict)
	}
}
