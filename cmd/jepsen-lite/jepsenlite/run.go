package jepsenlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/raftlogmodel"
)

// Config describes one run.
type Config struct {
	// Engine is the registered raftlog engine to test.
	Engine string
	// Params are the engine's parameters.
	Params map[string]string
	// Nemeses name the faults to inject, mixed; none means a fault-free run.
	Nemeses []string
	// Target is "auto" (the default), "inproc", "process" or "lazyfs":
	// where the engine runs. Auto runs it in process when a disk nemesis
	// (crash, fsync) can reach its files through Options.FS; an engine
	// that writes around Options.FS (UsesFS false) runs for those in a
	// child process on a lazyfs mount, which needs root and /dev/fuse;
	// for kill and pause alone it runs in a child process.
	Target string
	// Clients is the number of logical clients (at least 1): client 0
	// writes the log, client 1 the hard state, the others read.
	Clients int
	// Ops is the number of client operations to issue.
	Ops int
	// Duration, if positive, stops issuing operations after this much
	// wall time; the replay command then names the ops issued.
	Duration time.Duration
	// Seed drives everything: the workload, the schedule, the faults.
	Seed uint64
	// Out is the directory for the evidence; empty keeps none.
	Out string
	// OpTimeout is how long an operation may take before it counts as a
	// hang (default 10s).
	OpTimeout time.Duration
	// PauseTimeout is how long an operation waits on a paused node before
	// its outcome is unknown (default 50ms).
	PauseTimeout time.Duration
	// CheckTimeout bounds the linearizability check (default 60s); past
	// it the verdict is Unknown.
	CheckTimeout time.Duration
	// NodeCommand starts a node for process targets (default: this
	// executable with the argument "node").
	NodeCommand []string
	// OnlyFailures writes the evidence to Out only for a run that did
	// not pass.
	OnlyFailures bool
	// Program names the command in the replay line (default "jepsen-lite").
	Program string
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	// Raftlog engines answer to their family name too, as in bench.
	c.Engine = strings.TrimPrefix(c.Engine, "raftlog/")
	if c.Target == "" {
		c.Target = "auto"
	}
	if c.Clients == 0 {
		c.Clients = 3
	}
	if c.Ops == 0 {
		c.Ops = 1000
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 10 * time.Second
	}
	if c.PauseTimeout == 0 {
		c.PauseTimeout = 50 * time.Millisecond
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = 60 * time.Second
	}
	if c.Program == "" {
		c.Program = "jepsen-lite"
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Command returns the command line that replays the run.
func (c Config) Command() string {
	c = c.withDefaults()
	args := []string{c.Program, "run", "--engine", c.Engine}
	if len(c.Nemeses) > 0 {
		args = append(args, "--nemesis", strings.Join(c.Nemeses, ","))
	}
	args = append(args, "--target", c.Target, "--clients", fmt.Sprint(c.Clients), "--ops", fmt.Sprint(c.Ops), "--seed", fmt.Sprint(c.Seed))
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--param", k+"="+c.Params[k])
	}
	if c.Out != "" {
		args = append(args, "--out", c.Out+"-replay")
	}
	return strings.Join(args, " ")
}

// Result is the outcome of a run.
type Result struct {
	// Verdict is the check's verdict.
	Verdict linearizability.Verdict
	// History is what was recorded.
	History *raftlogmodel.History
	// Check is the linearizability check.
	Check *raftlogmodel.Result
	// Used and Skipped name the nemeses injected and those that could not
	// act on this engine.
	Used, Skipped []string
	// Faults counts the faults injected.
	Faults int
	// Wall is the run's wall time, check included.
	Wall time.Duration
	// Command replays the run.
	Command string
}

// Run runs one campaign against an engine and checks it. It returns an
// error (wrapping ErrUsage or ErrSetup) only when the run could not be
// made; engine failures are part of the result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	start := time.Now()
	if cfg.Engine == "" || cfg.Clients < 1 || cfg.Ops < 1 {
		return nil, fmt.Errorf("%w: need an engine, at least one client and one operation", ErrUsage)
	}
	var nems []faults.Nemesis
	for _, name := range cfg.Nemeses {
		n, err := faults.LookupNemesis(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		nems = append(nems, n)
	}
	sys, err := openSystem(cfg, nems)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, sys: sys, rec: raftlogmodel.NewRecorder(&linearizability.Logical{}), log: cfg.Log,
		view:   &view{syncOnWrite: sys.capabilities().SyncOnWrite},
		sched:  rand.New(rand.NewPCG(cfg.Seed, 1)),
		nemRng: rand.New(rand.NewPCG(cfg.Seed, 2)),
	}
	res := &Result{}
	for _, n := range nems {
		if err := n.Available(sys); err != nil {
			res.Skipped = append(res.Skipped, n.Name())
			cfg.Log.Warn("nemesis unavailable", "nemesis", n.Name(), "why", err)
			continue
		}
		r.nems = append(r.nems, n)
		res.Used = append(res.Used, n.Name())
	}
	if len(nems) > 0 && len(r.nems) == 0 {
		_ = sys.close()
		return nil, fmt.Errorf("%w: engine %s: %w: %v", ErrSetup, cfg.Engine, faults.ErrUnavailable, cfg.Nemeses)
	}
	for i := range cfg.Clients {
		ro := reader
		switch {
		case i == 0:
			ro = writer
		case i == 1:
			ro = metaClient
		}
		r.clients = append(r.clients, &clientState{id: i, gen: newGenerator(cfg.Seed, i, ro, r.view, cfg.Clients == 1)})
	}
	r.nextFault = 30 + r.nemRng.IntN(120)
	r.loop(ctx, start)
	if err := sys.close(); err != nil && len(r.failures) == 0 {
		cfg.Log.Warn("close", "err", err)
	}
	cfg.Ops = r.limit
	res.Command = cfg.Command()
	h := &raftlogmodel.History{
		Engine: cfg.Engine, Traits: raftlogmodel.TraitsOf(sys.capabilities()), Seed: cfg.Seed,
		Nemeses: res.Used, Clock: "logical", Ops: r.rec.Ops(), Faults: r.rec.Windows(),
		Failures: r.failures, Command: res.Command,
	}
	res.History, res.Faults = h, len(h.Faults)
	keep := cfg.Out != "" && !cfg.OnlyFailures
	res.Check = raftlogmodel.Check(h, cfg.CheckTimeout, keep)
	if cfg.Out != "" && cfg.OnlyFailures && res.Check.Verdict != linearizability.Ok {
		keep = true
		res.Check = raftlogmodel.Check(h, cfg.CheckTimeout, true)
	}
	res.Verdict = res.Check.Verdict
	res.Wall = time.Since(start)
	if keep {
		if err := writeRun(cfg.Out, res, r.evidence); err != nil {
			return res, fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	return res, nil
}

// openSystem starts the engine where the nemeses can reach it.
func openSystem(cfg Config, nems []faults.Nemesis) (system, error) {
	wantDisk, wantProc := false, false
	for _, n := range nems {
		switch n.Name() {
		case "kill", "pause":
			wantProc = true
		default:
			wantDisk = true
		}
	}
	switch cfg.Target {
	case "inproc":
		return openInproc(cfg.Engine, cfg.Params, cfg.OpTimeout)
	case "process":
		return startProc(cfg)
	case "lazyfs":
		return startLazy(cfg)
	case "auto":
	default:
		return nil, fmt.Errorf("%w: target %q (want auto, inproc, process or lazyfs)", ErrUsage, cfg.Target)
	}
	if wantProc && !wantDisk {
		return startProc(cfg)
	}
	t, err := openInproc(cfg.Engine, cfg.Params, cfg.OpTimeout)
	if err != nil {
		return nil, err
	}
	if wantDisk && !t.caps.UsesFS && t.caps.Persistent {
		_ = t.close()
		return startLazy(cfg)
	}
	if wantProc && !t.Traits().UsesFS {
		_ = t.close()
		return startProc(cfg)
	}
	return t, nil
}

type pending struct {
	id        int
	w         work
	executed  bool
	out       raftlogmodel.Output
	unbounded bool
}

type clientState struct {
	id  int
	gen *generator
	p   *pending
}

type runner struct {
	cfg Config
	sys system
	rec *raftlogmodel.Recorder
	log *slog.Logger

	clients []*clientState
	view    *view
	sched   *rand.Rand
	nemRng  *rand.Rand
	nems    []faults.Nemesis

	fault     *faults.Fault
	window    int
	nextFault int
	step      int
	issued    int
	limit     int

	failures []string
	evidence []string
	stopped  bool
}

func (r *runner) loop(ctx context.Context, start time.Time) {
	r.limit = r.cfg.Ops
	for ; !r.stopped; r.step++ {
		if r.issued >= r.limit && r.allIdle() {
			break
		}
		if r.issued < r.limit && (ctx.Err() != nil || (r.cfg.Duration > 0 && time.Since(start) > r.cfg.Duration)) {
			r.limit = r.issued
			continue
		}
		if r.fault == nil && len(r.nems) > 0 && r.step >= r.nextFault {
			r.inject(ctx)
			continue
		}
		c := r.clients[r.sched.IntN(len(r.clients))]
		switch {
		case c.p == nil:
			if r.issued >= r.limit {
				continue
			}
			w := c.gen.next()
			c.p = &pending{id: r.rec.Call(c.id, w.in), w: w}
			r.issued++
		case !c.p.executed:
			r.execute(ctx, c)
		default:
			r.complete(c)
		}
	}
	// Let an armed fault play out, then read everything back.
	for i := 0; r.fault != nil && !r.stopped && i < 200; i++ {
		r.await(ctx, nil)
	}
	if !r.stopped {
		r.finalReads(ctx)
	}
}

func (r *runner) allIdle() bool {
	for _, c := range r.clients {
		if c.p != nil {
			return false
		}
	}
	return true
}

func (r *runner) paused() bool { return r.fault != nil && r.fault.Nemesis == "pause" }

func (r *runner) execute(ctx context.Context, c *clientState) {
	out, unbounded, f := r.sys.exec(c.p.w, r.paused())
	c.p.executed, c.p.out, c.p.unbounded = true, out, unbounded
	if f != nil {
		r.fail(f)
		return
	}
	if r.fault != nil {
		r.await(ctx, c)
	}
}

func (r *runner) complete(c *clientState) {
	if c.p.unbounded {
		r.rec.ReturnAt(c.p.id, c.p.out, linearizability.Infinity)
	} else {
		r.rec.Return(c.p.id, c.p.out)
	}
	r.view.observe(c.p.w.in, c.p.out)
	c.p = nil
}

func (r *runner) inject(ctx context.Context) {
	n := r.nems[r.nemRng.IntN(len(r.nems))]
	r.window = r.rec.OpenWindow(n.Name(), "")
	f, err := n.Inject(ctx, r.log, r.sys, r.nemRng)
	if f == nil {
		f = &faults.Fault{Nemesis: n.Name(), Detail: "not started"}
	}
	r.fault = f
	if err != nil {
		r.faultError(err)
		return
	}
	if f.Done() {
		r.finishFault()
	}
}

// await lets the active fault progress after an operation of c (nil: no
// operation).
func (r *runner) await(ctx context.Context, c *clientState) {
	done, err := r.fault.Await(ctx)
	if done && r.fault.CutLast && c != nil {
		c.p.out, c.p.unbounded = raftlogmodel.Unknown("power lost during the operation"), false
	}
	if err != nil {
		r.faultError(err)
		return
	}
	if done {
		r.finishFault()
	}
}

func (r *runner) faultError(err error) {
	var re *recoveryError
	if errors.As(err, &re) {
		r.fail(re.f)
	} else {
		r.fail(&failure{what: fmt.Sprintf("nemesis %s: %v", r.fault.Nemesis, err)})
	}
	r.rec.CloseWindow(r.window, r.fault.Detail)
	r.fault = nil
}

func (r *runner) finishFault() {
	f := r.fault
	if f.Restarted {
		r.crashed(f.Nemesis + ": " + f.Detail)
	}
	r.rec.CloseWindow(r.window, f.Detail)
	r.fault = nil
	r.nextFault = r.step + 40 + r.nemRng.IntN(160)
}

// crashed records a crash: operations that ran return their responses,
// the others (and earlier unknown ones) are cut off, and the crash itself
// is an operation.
func (r *runner) crashed(detail string) {
	for _, c := range r.clients {
		if c.p != nil && c.p.executed && !c.p.unbounded {
			r.complete(c)
		}
	}
	r.rec.CutOff("engine crashed")
	for _, c := range r.clients {
		c.p = nil
	}
	id := r.rec.Call(len(r.clients), raftlogmodel.Input{Kind: raftlogmodel.KindCrash, Detail: detail})
	r.rec.Return(id, raftlogmodel.Output{})
	r.view.crashed()
}

func (r *runner) fail(f *failure) {
	r.log.Error("engine failure", "what", f.what)
	r.failures = append(r.failures, f.what)
	if f.evidence != "" {
		r.evidence = append(r.evidence, "== "+f.what+" ==\n"+f.evidence)
	}
	r.stopped = true
	for _, c := range r.clients {
		if c.p != nil && c.p.executed {
			r.complete(c)
		}
	}
}

// finalReads reads the whole state back once the run is over.
func (r *runner) finalReads(ctx context.Context) {
	do := func(in raftlogmodel.Input) raftlogmodel.Output {
		id := r.rec.Call(0, in)
		out, unbounded, f := r.sys.exec(work{in: in}, false)
		if f != nil {
			r.rec.ReturnAt(id, out, linearizability.Infinity)
			r.fail(f)
			return out
		}
		if unbounded {
			r.rec.ReturnAt(id, out, linearizability.Infinity)
		} else {
			r.rec.Return(id, out)
		}
		return out
	}
	last := do(raftlogmodel.Input{Kind: raftlogmodel.KindLast})
	first := do(raftlogmodel.Input{Kind: raftlogmodel.KindFirst})
	do(raftlogmodel.Input{Kind: raftlogmodel.KindPurgedID})
	do(raftlogmodel.Input{Kind: raftlogmodel.KindLoadHS})
	if r.stopped || last.Err != raftlogmodel.ErrNone || first.Err != raftlogmodel.ErrNone {
		return
	}
	for lo := max(first.Value, 1); lo <= last.Value && !r.stopped && ctx.Err() == nil; lo += 64 {
		do(raftlogmodel.Input{Kind: raftlogmodel.KindEntries, Index: lo, Hi: lo + 63})
	}
}

// writeRun writes the evidence of a run into dir.
func writeRun(dir string, res *Result, evidence []string) error {
	var extra map[string]string
	if len(evidence) > 0 {
		extra = map[string]string{"evidence.txt": strings.Join(evidence, "\n\n")}
	}
	return writeLinearizabilityRun(dir, res.Check, res.History, len(res.History.Faults), extra, summary(res))
}

func summary(res *Result) string {
	h := res.History
	var b strings.Builder
	fmt.Fprintf(&b, "engine     %s (persistent=%v sync_on_write=%v)\n", h.Engine, h.Traits.Persistent, h.Traits.SyncOnWrite)
	fmt.Fprintf(&b, "seed       %d\n", h.Seed)
	fmt.Fprintf(&b, "nemeses    %s", strings.Join(res.Used, ","))
	if len(res.Skipped) > 0 {
		fmt.Fprintf(&b, " (unavailable: %s)", strings.Join(res.Skipped, ","))
	}
	fmt.Fprintf(&b, "\nops        %d, faults %d, crashes %d\n", len(h.Ops), len(h.Faults), countCrashes(h))
	writeSummaryTail(&b, res.Check, res.Verdict, h.Failures, res.Wall, res.Command)
	return b.String()
}

func countCrashes(h *raftlogmodel.History) int {
	return len(slices.DeleteFunc(slices.Clone(h.Ops), func(op raftlogmodel.Op) bool { return op.Input.Kind != raftlogmodel.KindCrash }))
}
