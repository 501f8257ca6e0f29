package jepsenlite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/streamsmodel"
)

// StreamsNemeses are the nemeses a streams run can inject, both on the
// node process serving the store: kill SIGKILLs it and starts it again;
// crash kills it, drops what the lazyfs mount under it did not sync
// (keeping a seeded share of it, torn) and starts it again.
var StreamsNemeses = []string{"kill", "crash"}

// StreamsResult is the outcome of a streams run.
type StreamsResult struct {
	Verdict linearizability.Verdict
	History *streamsmodel.History
	Check   *streamsmodel.Result
	// Faults counts the faults injected.
	Faults int
	Wall   time.Duration
	// Command replays the run.
	Command string
}

// streamsTrees are the trees of streams a run writes: a root each, and
// forks named root/fN.
var streamsTrees = []string{"a", "b"}

// maxForks bounds the forks of one tree.
const maxForks = 4

// streamsNode is one node process and its outstanding requests.
type streamsNode struct {
	p       *faults.Process
	caps    streams.Capabilities
	mu      sync.Mutex
	nextID  int
	pending map[int]chan streamsResponse
	gone    chan struct{} // closed when its standard output ends
}

func spawnStreamsNode(argv []string, timeout time.Duration) (*streamsNode, error) {
	p, err := faults.StartProcess(argv)
	if err != nil {
		return nil, err
	}
	n := &streamsNode{p: p, pending: map[int]chan streamsResponse{}, gone: make(chan struct{})}
	hello := make(chan streamsResponse, 1)
	go func() {
		defer func() {
			n.mu.Lock()
			close(n.gone)
			for id, ch := range n.pending {
				close(ch)
				delete(n.pending, id)
			}
			n.mu.Unlock()
		}()
		first := true
		for {
			line, err := p.Stdout().ReadBytes('\n')
			if err != nil {
				return
			}
			var r streamsResponse
			if json.Unmarshal(line, &r) != nil {
				r = streamsResponse{ID: -1, Error: fmt.Sprintf("%v: %q", ErrProtocol, line)}
			}
			if first {
				first = false
				hello <- r
				continue
			}
			n.mu.Lock()
			ch, ok := n.pending[r.ID]
			delete(n.pending, r.ID)
			n.mu.Unlock()
			if ok {
				ch <- r
			}
		}
	}()
	select {
	case h := <-hello:
		if h.Error != "" || h.Caps == nil {
			_ = p.Kill(5 * time.Second)
			return nil, fmt.Errorf("node: %s", h.Error)
		}
		n.caps = *h.Caps
		return n, nil
	case <-n.gone:
		_ = p.Wait(time.Second)
		return nil, fmt.Errorf("node exited before its hello: %s", p.Stderr())
	case <-time.After(timeout):
		_ = p.Kill(5 * time.Second)
		return nil, fmt.Errorf("node did not say hello within %v", timeout)
	}
}

// do sends in and waits for the answer; ok is false when the node died
// or did not answer within timeout (hang).
func (n *streamsNode) do(in streamsmodel.Input, timeout time.Duration) (resp streamsResponse, ok, hang bool) {
	ch := make(chan streamsResponse, 1)
	n.mu.Lock()
	select {
	case <-n.gone:
		n.mu.Unlock()
		return resp, false, false
	default:
	}
	n.nextID++
	id := n.nextID
	n.pending[id] = ch
	b, err := json.Marshal(streamsRequest{ID: id, In: in})
	if err == nil {
		_, err = n.p.Stdin().Write(append(b, '\n'))
	}
	n.mu.Unlock()
	if err != nil {
		return resp, false, false
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r, alive := <-ch:
		return r, alive, false
	case <-timer.C:
		return resp, false, true
	}
}

// streamsRunner drives one streams run.
type streamsRunner struct {
	cfg  Config
	argv []string
	fs   *lazyfs.FS // the mount under the node, for crash
	rec  *streamsmodel.Recorder

	mu       sync.Mutex
	cond     *sync.Cond
	node     *streamsNode // nil while the node is down
	stopped  bool
	failures []string
	trees    map[string][]string // the streams of each tree
	forks    map[string]int

	issued atomic.Int64
	faults int
}

func (r *streamsRunner) fail(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, what)
	r.stopped = true
	r.cond.Broadcast()
}

// current waits for the node to be up; nil means the run is over.
func (r *streamsRunner) current() *streamsNode {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.node == nil && !r.stopped {
		r.cond.Wait()
	}
	if r.stopped {
		return nil
	}
	return r.node
}

// call runs in for client and records it. known is false for an unknown
// outcome (the node died); done is true when the run is over.
func (r *streamsRunner) call(client int, in streamsmodel.Input) (out streamsmodel.Output, known, done bool) {
	n := r.current()
	if n == nil {
		return out, false, true
	}
	id := r.rec.Call(client, in)
	resp, ok, hang := n.do(in, r.cfg.OpTimeout)
	switch {
	case hang:
		r.rec.Return(id, streamsmodel.Unknown("hang"))
		r.fail(fmt.Sprintf("engine hung for %v during %s", r.cfg.OpTimeout, in))
		return out, false, true
	case !ok:
		r.rec.Return(id, streamsmodel.Unknown("node died"))
		r.mu.Lock()
		// The nemesis takes the node down before it kills it: a node
		// still current died on its own.
		own := r.node == n
		r.mu.Unlock()
		if own {
			_ = n.p.Wait(time.Second)
			r.fail(fmt.Sprintf("node exited unexpectedly during %s: %s", in, n.p.Stderr()))
			return out, false, true
		}
		return out, false, false
	case resp.Panic != "":
		r.rec.Return(id, streamsmodel.Unknown("panic"))
		r.fail(fmt.Sprintf("engine panicked during %s: %s", in, resp.Panic))
		return out, false, true
	}
	r.rec.Return(id, resp.Out)
	return resp.Out, resp.Out.Err != streamsmodel.ErrUnknown, false
}

func (r *streamsRunner) streamsOf(tree string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.trees[tree])
}

// client issues operations until the budget is spent, retrying an
// operation of unknown outcome as it was (same producer sequence) until
// its outcome is known.
func (r *streamsRunner) client(c int) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(c)+1))
	seqs := map[string]uint64{}
	producer := fmt.Sprint("p", c)
	var retry *streamsmodel.Input
	for {
		var in streamsmodel.Input
		if retry != nil {
			in = *retry
		} else {
			if r.issued.Add(1) > int64(r.cfg.Ops) {
				return
			}
			tree := streamsTrees[rng.IntN(len(streamsTrees))]
			names := r.streamsOf(tree)
			name := names[rng.IntN(len(names))]
			switch x := rng.IntN(100); {
			case x < 65:
				in = streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: name, Producer: producer, Seq: seqs[name],
					Data: fmt.Sprintf("%s.%s.%d", producer, name, seqs[name])}
			default:
				fork, ok := "", x >= 92
				if ok {
					fork, ok = r.takeFork(tree)
				}
				if !ok {
					in = streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: name}
					break
				}
				var done bool
				in, ok, done = r.forkInput(c, fork, name, rng)
				if done {
					return
				}
				if !ok {
					continue
				}
			}
		}
		out, known, done := r.call(c, in)
		if done {
			return
		}
		if !known {
			if in.Kind != streamsmodel.KindRead {
				retry = &in
			}
			continue
		}
		retry = nil
		switch in.Kind {
		case streamsmodel.KindAppend:
			if out.Err == streamsmodel.ErrNone {
				seqs[in.Stream] = in.Seq + 1
			}
		case streamsmodel.KindFork:
			if out.Err == streamsmodel.ErrNone {
				r.mu.Lock()
				if !slices.Contains(r.trees[streamsmodel.Tree(in.Stream)], in.Stream) {
					r.trees[streamsmodel.Tree(in.Stream)] = append(r.trees[streamsmodel.Tree(in.Stream)], in.Stream)
				}
				r.mu.Unlock()
			}
		}
	}
}

// takeFork reserves the name of a new fork of tree, if it has fewer than
// maxForks.
func (r *streamsRunner) takeFork(tree string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.forks[tree] >= maxForks {
		return "", false
	}
	r.forks[tree]++
	return fmt.Sprintf("%s/f%d", tree, r.forks[tree]), true
}

// forkInput reads source (a recorded read) and returns the fork name of
// it at a random message. The offset of message k of any stream, a fork
// included, has read sequence k and byte part the size of the messages
// before it.
func (r *streamsRunner) forkInput(c int, name, source string, rng *rand.Rand) (streamsmodel.Input, bool, bool) {
	out, known, done := r.call(c, streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: source})
	if done || !known || out.Err != streamsmodel.ErrNone {
		return streamsmodel.Input{}, false, done
	}
	at := uint64(rng.IntN(len(out.Data) + 1))
	var bytes uint64
	for _, d := range out.Data[:at] {
		bytes += uint64(len(d))
	}
	return streamsmodel.Input{Kind: streamsmodel.KindFork, Stream: name, Source: source, At: at,
		Offset: streams.Offset{ReadSeq: at, ByteOffset: bytes}}, true, false
}

// nemesis injects a fault each time another share of the budget is
// issued.
func (r *streamsRunner) nemesis(ctx context.Context, kinds []string, rng *rand.Rand) {
	if len(kinds) == 0 {
		return
	}
	n := max(1, r.cfg.Ops/150)
	for i := 1; i <= n; i++ {
		mark := int64(i * r.cfg.Ops / (n + 1))
		for r.issued.Load() < mark {
			if ctx.Err() != nil || r.isStopped() {
				return
			}
			time.Sleep(time.Millisecond)
		}
		kind := kinds[rng.IntN(len(kinds))]
		keep := []int{0, 25, 50, 90, 100}[rng.IntN(5)]
		detail := ""
		if kind == "crash" {
			detail = fmt.Sprintf("keep %d%%", keep)
		}
		w := r.rec.OpenWindow(kind, detail)
		err := r.fault(kind, keep, rng.Uint64())
		r.rec.CloseWindow(w)
		r.faults++
		if err != nil {
			r.fail(err.Error())
			return
		}
	}
}

func (r *streamsRunner) isStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

// fault kills the node (and crashes the mount) and starts it again.
func (r *streamsRunner) fault(kind string, keep int, seed uint64) error {
	r.mu.Lock()
	n := r.node
	r.node = nil
	r.mu.Unlock()
	if err := n.p.Kill(5 * time.Second); err != nil {
		return fmt.Errorf("kill node: %w", err)
	}
	<-n.gone
	r.rec.CutOff(kind)
	if kind == "crash" {
		if err := r.fs.Crash(keep, seed); err != nil {
			return fmt.Errorf("lazyfs crash: %w", err)
		}
	}
	nn, err := spawnStreamsNode(r.argv, r.cfg.OpTimeout)
	if err != nil {
		return fmt.Errorf("recovery failed: %w (%s)", err, n.p.Stderr())
	}
	r.mu.Lock()
	r.node = nn
	r.cond.Broadcast()
	r.mu.Unlock()
	return nil
}

// RunStreams runs one seeded campaign against a streams engine in a node
// process and checks its history.
func RunStreams(ctx context.Context, cfg Config) (*StreamsResult, error) {
	cfg = cfg.withDefaults()
	if cfg.Ops <= 0 || cfg.Clients <= 0 {
		return nil, fmt.Errorf("%w: need positive --ops and --clients", ErrUsage)
	}
	crash := false
	for _, n := range cfg.Nemeses {
		if !slices.Contains(StreamsNemeses, n) {
			return nil, fmt.Errorf("%w: nemesis %q cannot act on a streams engine (known: %v)", ErrUsage, n, StreamsNemeses)
		}
		crash = crash || n == "crash"
	}
	start := time.Now()
	root, err := os.MkdirTemp("", "jepsen-lite-streams-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	defer os.RemoveAll(root)
	r := &streamsRunner{cfg: cfg, rec: streamsmodel.NewRecorder(linearizability.NewMonotonic()),
		trees: map[string][]string{}, forks: map[string]int{}}
	r.cond = sync.NewCond(&r.mu)
	dir := filepath.Join(root, "data")
	if crash {
		if err := lazyAvailable(); err != nil {
			return nil, fmt.Errorf("%w: %w: crash needs lazyfs under the node: %w", ErrSetup, faults.ErrUnavailable, err)
		}
		backing, mnt := filepath.Join(root, "backing"), filepath.Join(root, "mnt")
		for _, d := range []string{backing, mnt} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrSetup, err)
			}
		}
		if r.fs, err = lazyfs.Mount(backing, mnt, lazyfs.Options{}); err != nil {
			return nil, fmt.Errorf("%w: mount lazyfs: %w", ErrSetup, err)
		}
		defer func() {
			if err := r.fs.Unmount(); err != nil {
				_ = r.fs.ForceUnmount()
			}
		}()
		dir = filepath.Join(mnt, "data")
	}
	base := cfg.NodeCommand
	if len(base) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
		base = []string{exe, "node"}
	}
	r.argv = append(slices.Clone(base), "--engine", cfg.Engine, "--dir", dir)
	for k, v := range cfg.Params {
		r.argv = append(r.argv, "--param", k+"="+v)
	}
	if r.node, err = spawnStreamsNode(r.argv, cfg.OpTimeout); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	if len(cfg.Nemeses) > 0 && !r.node.caps.Persistent {
		_ = r.node.p.Kill(5 * time.Second)
		return nil, fmt.Errorf("%w: %s keeps nothing across a restart: run it without a nemesis", ErrSetup, cfg.Engine)
	}
	for _, t := range streamsTrees {
		if _, known, _ := r.call(0, streamsmodel.Input{Kind: streamsmodel.KindCreate, Stream: t}); !known {
			_ = r.node.p.Kill(5 * time.Second)
			return nil, fmt.Errorf("%w: create %s failed", ErrSetup, t)
		}
		r.trees[t] = []string{t}
	}
	nctx, cancel := context.WithCancel(ctx)
	var nem sync.WaitGroup
	nem.Add(1)
	go func() {
		defer nem.Done()
		r.nemesis(nctx, cfg.Nemeses, rand.New(rand.NewPCG(cfg.Seed, 0x6e656d)))
	}()
	var wg sync.WaitGroup
	for c := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.client(c)
		}()
	}
	wg.Wait()
	cancel()
	nem.Wait()
	r.mu.Lock()
	n := r.node
	r.stopped = true
	r.cond.Broadcast()
	r.mu.Unlock()
	if n != nil {
		_ = n.p.Kill(5 * time.Second)
	}
	h := r.rec.History()
	h.Engine, h.Seed, h.Nemeses, h.Failures, h.Command = cfg.Engine, cfg.Seed, cfg.Nemeses, r.failures, cfg.Command()
	chk := streamsmodel.Check(h, cfg.CheckTimeout, cfg.Out != "")
	res := &StreamsResult{Verdict: chk.Verdict, History: h, Check: chk, Faults: r.faults, Wall: time.Since(start), Command: h.Command}
	if cfg.Out != "" && (!cfg.OnlyFailures || res.Verdict != linearizability.Ok) {
		if err := writeStreamsEvidence(cfg.Out, res); err != nil {
			return res, fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	return res, nil
}

func streamsSummary(res *StreamsResult) string {
	h := res.History
	var b strings.Builder
	fmt.Fprintf(&b, "engine     %s\n", h.Engine)
	fmt.Fprintf(&b, "seed       %d\n", h.Seed)
	fmt.Fprintf(&b, "nemeses    %s\n", strings.Join(h.Nemeses, ","))
	fmt.Fprintf(&b, "ops        %d, faults %d\n", len(h.Ops), res.Faults)
	writeSummaryTail(&b, res.Check, res.Verdict, h.Failures, res.Wall, res.Command)
	return b.String()
}

func writeStreamsEvidence(dir string, res *StreamsResult) error {
	return writeLinearizabilityRun(dir, res.Check, res.History, res.Faults, nil, streamsSummary(res))
}

// streamsRunMain is `run` for a streams engine.
func streamsRunMain(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	res, err := RunStreams(ctx, cfg)
	return reportRun(stdout, stderr, err, res != nil, func() (string, int) { return streamsSummary(res), res.Verdict.ExitCode() })
}

// streamsCheckMain is `check` of a stored streams history.
func streamsCheckMain(path string, timeout time.Duration, timeline bool, stdout, stderr io.Writer) int {
	res, h, err := recheck(path, timeout, timeline, streamsmodel.ReadFile, streamsmodel.Check)
	return reportCheck(stdout, stderr, res, h, err)
}
