package jepsenlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Config describes one run.
type Config struct {
	// Engine names the engine to test as FAMILY/ENGINE ("raftlog/file",
	// "adapter/mutant/ack-before-sync"); a bare name is a raftlog engine.
	Engine string
	// Params are the engine's parameters.
	Params map[string]string
	// Nemeses name the faults to inject, mixed; none means a fault-free run.
	Nemeses []string
	// Target is "auto" (the default), "inproc", "process" or "lazyfs":
	// where the engine runs. Auto runs it in process when a disk nemesis
	// (crash, fsync) can reach its files through the FS it is opened
	// with; an engine that writes around it runs for those in a child
	// process on a lazyfs mount, which needs root and /dev/fuse; kill and
	// pause run it in a child process.
	Target string
	// Profile is the file-system semantics of a lazyfs target: "strict"
	// (the default: only a directory fsync makes an entry durable) or
	// "ext4" (a file's fsync also makes its entry and its new parent
	// directories durable, as ext4 and xfs do).
	Profile string
	// Clients is the number of logical clients (default 3).
	Clients int
	// Ops is the number of client operations to issue (default 1000).
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
	// ServerCmd, for a family of servers, is the command template that
	// starts one ({port} and {dir} substituted); it overrides the engine's.
	ServerCmd string
	// Program names the command in the replay line (default "jepsen-lite").
	Program string
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// Progress, if set, receives a line every ProgressEvery (default 10s)
	// of a long run: the operations issued and an estimate of the time
	// left.
	Progress      io.Writer
	ProgressEvery time.Duration
}

func (c Config) withDefaults() Config {
	if c.Target == "" {
		c.Target = "auto"
	}
	if c.Profile == "" {
		c.Profile = "strict"
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
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 10 * time.Second
	}
	return c
}

// validate names the first bad setting.
func (c Config) validate() error {
	switch {
	case c.Clients < 1:
		return fmt.Errorf("%w: --clients %d: need at least one client", ErrUsage, c.Clients)
	case c.Ops < 1:
		return fmt.Errorf("%w: --ops %d: need at least one operation", ErrUsage, c.Ops)
	case c.Duration < 0:
		return fmt.Errorf("%w: --duration %v is negative", ErrUsage, c.Duration)
	case c.OpTimeout < 0 || c.PauseTimeout < 0 || c.CheckTimeout < 0:
		return fmt.Errorf("%w: negative timeout", ErrUsage)
	}
	switch c.Target {
	case "auto", "inproc", "process", "lazyfs":
	default:
		return fmt.Errorf("%w: --target %q (want auto, inproc, process or lazyfs)", ErrUsage, c.Target)
	}
	switch c.Profile {
	case "strict", "ext4":
	default:
		return fmt.Errorf("%w: --profile %q (want strict or ext4)", ErrUsage, c.Profile)
	}
	return nil
}

// Command returns the command line that replays the run.
func (c Config) Command() string {
	c = c.withDefaults()
	args := []string{c.Program, "run", "--engine", c.Engine}
	if len(c.Nemeses) > 0 {
		args = append(args, "--nemesis", strings.Join(c.Nemeses, ","))
	}
	args = append(args, "--target", c.Target)
	if c.Profile != "strict" {
		args = append(args, "--profile", c.Profile)
	}
	args = append(args, "--clients", fmt.Sprint(c.Clients), "--ops", fmt.Sprint(c.Ops), "--seed", fmt.Sprint(c.Seed))
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--param", k+"="+c.Params[k])
	}
	if c.ServerCmd != "" {
		args = append(args, "--server-cmd", "'"+strings.ReplaceAll(c.ServerCmd, "'", `'\''`)+"'")
	}
	if c.Out != "" {
		args = append(args, "--out", c.Out+"-replay")
	}
	return strings.Join(args, " ")
}

// Result is the outcome of a run.
type Result struct {
	// Family is the engine's family.
	Family string
	// Verdict is the run's verdict, and Reason says why in a line.
	Verdict linearizability.Verdict
	Reason  string
	// History is what was recorded.
	History *History
	// Check is the linearizability check.
	Check *linearizability.Result
	// Used and Skipped name the nemeses injected and those that could not
	// act on this engine.
	Used, Skipped []string
	// Faults counts the faults injected, Struck those that took effect
	// (a restart, a failed sync, a pause), Crashes the restarts.
	Faults, Struck, Crashes int
	// Wall is the run's wall time, check included.
	Wall time.Duration
	// Command replays the run.
	Command string
}

// Run runs one seeded campaign against an engine and checks it. It
// returns an error (wrapping ErrUsage or ErrSetup) only when the run
// could not be made; engine failures are part of the result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	start := time.Now()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	fam, engine, err := ResolveEngine(cfg.Engine)
	if err != nil {
		return nil, err
	}
	if err := checkEngine(fam, engine); err != nil {
		return nil, err
	}
	cfg.Engine = fam.Name() + "/" + engine
	var nems []faults.Nemesis
	for _, name := range cfg.Nemeses {
		n, err := faults.LookupNemesis(name)
		if err != nil {
			return nil, fmt.Errorf("%w: --nemesis: %w", ErrUsage, err)
		}
		nems = append(nems, n)
	}
	sys, err := openSystem(fam, engine, cfg, nems)
	if err != nil {
		return nil, err
	}
	res := &Result{Family: fam.Name()}
	r := &runner{cfg: cfg, fam: fam, sys: sys, log: cfg.Log,
		rec:    linearizability.NewRecorder[any, any](&linearizability.Logical{}),
		sched:  rand.New(rand.NewPCG(cfg.Seed, 1)),
		nemRng: rand.New(rand.NewPCG(cfg.Seed, 2)),
	}
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
		why := ""
		if err := nems[0].Available(sys); err != nil {
			why = ": " + err.Error()
		}
		return nil, fmt.Errorf("%w: engine %s: %w: %v%s", ErrSetup, cfg.Engine, faults.ErrUnavailable, cfg.Nemeses, why)
	}
	if c, ok := sys.(*cluster); ok {
		c.setFaultLog(r.rec.Faults())
	}
	r.wl = fam.newWorkload(cfg.Seed, cfg.Clients, sys.info())
	for i := range cfg.Clients {
		r.clients = append(r.clients, &client{id: i})
	}
	r.nextFault = 30 + r.nemRng.IntN(120)
	r.loop(ctx, start)
	if err := sys.close(); err != nil && len(r.failures) == 0 {
		cfg.Log.Warn("close", "err", err)
	}
	cfg.Ops = r.limit
	res.Command = cfg.Command()
	info := sys.info()
	h := &History{
		Model: fam.Name(), Engine: cfg.Engine, Traits: info.Traits, Seed: cfg.Seed, Nemeses: res.Used,
		Clock: "logical", Ops: r.rec.Ops(fam.unknown("no response")), Faults: r.rec.Faults().Windows(),
		Failures: r.failures, Command: res.Command, Target: sys.where(), Interrupted: r.interrupted,
	}
	if sys.where() == "lazyfs" {
		h.Profile = cfg.Profile
	}
	h.Coverage = coverage(fam, h)
	res.History, res.Faults, res.Struck, res.Crashes = h, len(h.Faults), r.struck, r.crashes
	keep := cfg.Out != "" && !cfg.OnlyFailures
	res.Check, err = fam.check(h, cfg.CheckTimeout, keep)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	res.Verdict, res.Reason = judge(fam, h, res.Check, len(res.Used) > 0, r.struck)
	if cfg.Out != "" && cfg.OnlyFailures && res.Verdict != linearizability.Ok {
		keep = true
		res.Check, _ = fam.check(h, cfg.CheckTimeout, true)
	}
	res.Wall = time.Since(start)
	if keep {
		if err := writeRun(cfg.Out, fam, res, r.evidence); err != nil {
			return res, fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	return res, nil
}

// coverage counts a history's client operations by method and outcome.
func coverage(fam Family, h *History) *linearizability.Coverage {
	c := &linearizability.Coverage{Methods: map[string]int{}, Outcomes: map[string]int{}}
	for _, op := range h.Ops {
		if fam.isCrash(op.Input) {
			continue
		}
		c.Add(fam.method(op.Input), fam.outcome(op.Output))
	}
	return c
}

// judge turns a check into the run's verdict: a history with no client
// operation, a run whose nemeses never struck and an interrupted run are
// never a pass.
func judge(fam Family, h *History, chk *linearizability.Result, nemeses bool, struck int) (linearizability.Verdict, string) {
	clientOps := 0
	for _, op := range h.Ops {
		if !fam.isCrash(op.Input) {
			clientOps++
		}
	}
	v, why := chk.Verdict, chk.Reason
	if v == linearizability.Illegal {
		return v, why
	}
	switch {
	case clientOps == 0:
		return linearizability.Unknown, "the history has no client operation: nothing was checked"
	case h.Interrupted:
		return linearizability.Unknown, "interrupted: the " + fmt.Sprint(clientOps) + " operations recorded are consistent, but the run was cut short"
	case nemeses && struck == 0:
		return linearizability.Unknown, "no fault took effect (the nemesis never struck): inconclusive"
	case v == linearizability.Ok && !nemeses:
		return v, why + " (a fault-free run: no nemesis)"
	}
	return v, why
}

// openSystem starts the engine where the nemeses can reach it.
func openSystem(fam Family, engine string, cfg Config, nems []faults.Nemesis) (system, error) {
	wantDisk, wantProc := false, false
	for _, n := range nems {
		switch n.Name() {
		case "kill", "pause", "partition":
			wantProc = true
		default:
			wantDisk = true
		}
	}
	if cs, err := fam.cluster(engine, cfg.Params); cs != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return startCluster(fam, engine, *cs, cfg, wantDisk)
	}
	srv, err := fam.server(engine, cfg.ServerCmd)
	if err != nil {
		return nil, err
	}
	if srv != nil {
		if cfg.Target != "auto" && cfg.Target != "lazyfs" {
			return nil, fmt.Errorf("%w: --target %s: a %s engine is a server process (auto or lazyfs)", ErrUsage, cfg.Target, fam.Name())
		}
		return startServer(fam, engine, *srv, cfg, wantDisk || cfg.Target == "lazyfs")
	}
	switch cfg.Target {
	case "inproc":
		return openInproc(fam, engine, cfg.Params, cfg.OpTimeout)
	case "process":
		return startProc(fam, engine, cfg)
	case "lazyfs":
		return startLazy(fam, engine, cfg)
	}
	if wantProc && !wantDisk {
		return startProc(fam, engine, cfg)
	}
	t, err := openInproc(fam, engine, cfg.Params, cfg.OpTimeout)
	if err != nil {
		return nil, err
	}
	if wantDisk && !t.inf.UsesFS && t.inf.Persistent {
		_ = t.close()
		return startLazy(fam, engine, cfg)
	}
	if wantProc {
		_ = t.close()
		return startProc(fam, engine, cfg)
	}
	return t, nil
}

// pending is a client's operation in flight.
type pending struct {
	id        int
	w         any
	executed  bool
	out       any
	unbounded bool
}

type client struct {
	id int
	p  *pending
}

// runner is the scheduler of one run: a seeded source decides, step by
// step, which client calls its next operation, which executes the one it
// has in flight and which receives its answer, and when each fault
// lands; operations are therefore in flight together, yet a run replays
// exactly on a logical clock.
type runner struct {
	cfg Config
	fam Family
	sys system
	wl  workload
	rec *linearizability.Recorder[any, any]
	log *slog.Logger

	clients []*client
	sched   *rand.Rand
	nemRng  *rand.Rand
	nems    []faults.Nemesis

	fault     *faults.Fault
	window    int
	nextFault int
	step      int
	issued    int
	limit     int
	struck    int
	crashes   int

	failures    []string
	evidence    []string
	stopped     bool
	interrupted bool
	ctx         context.Context // the run's: once cancelled, the run is interrupted
}

func (r *runner) loop(ctx context.Context, start time.Time) {
	r.ctx = ctx
	r.limit = r.cfg.Ops
	lastReport := start
	for ; !r.stopped; r.step++ {
		if r.cfg.Progress != nil && r.step%256 == 0 && time.Since(lastReport) >= r.cfg.ProgressEvery {
			lastReport = time.Now()
			done := time.Since(start)
			left := time.Duration(float64(done) * float64(r.limit-r.issued) / float64(max(r.issued, 1)))
			fmt.Fprintf(r.cfg.Progress, "%s: %d of %d operations, %d faults, about %v left\n", r.cfg.Engine, r.issued, r.limit, r.rec.Faults().Len(), left.Round(time.Second))
		}
		if r.issued >= r.limit && r.allIdle() {
			break
		}
		if r.issued < r.limit && (ctx.Err() != nil || (r.cfg.Duration > 0 && time.Since(start) > r.cfg.Duration)) {
			r.interrupted = ctx.Err() != nil
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
			w := r.wl.next(c.id)
			c.p = &pending{id: r.rec.Call(c.id, r.fam.input(w)), w: w}
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
	if r.fault != nil && !r.stopped {
		r.rec.Faults().Close(r.window, "still armed at the end of the run")
		r.fault = nil
	}
	if !r.stopped && ctx.Err() == nil {
		r.finalReads()
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

func (r *runner) execute(ctx context.Context, c *client) {
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

func (r *runner) complete(c *client) {
	if c.p.unbounded {
		r.rec.ReturnAt(c.p.id, c.p.out, linearizability.Infinity)
	} else {
		r.rec.Return(c.p.id, c.p.out)
	}
	r.wl.observe(c.id, c.p.w, c.p.out)
	c.p = nil
}

func (r *runner) inject(ctx context.Context) {
	n := r.nems[r.nemRng.IntN(len(r.nems))]
	r.window = r.rec.Faults().Open(n.Name(), "")
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
func (r *runner) await(ctx context.Context, c *client) {
	done, err := r.fault.Await(ctx)
	if done && r.fault.CutLast && c != nil {
		c.p.out, c.p.unbounded = r.fam.unknown("the engine went down during the operation"), false
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
	if errors.Is(err, context.Canceled) || (r.ctx != nil && r.ctx.Err() != nil) {
		// Interrupted while the engine was coming back: not the engine's
		// failure, and the run stops here, marked interrupted.
		r.interrupted, r.stopped = true, true
		r.rec.Faults().Close(r.window, r.fault.Detail+"; interrupted")
		r.fault = nil
		return
	}
	if errors.As(err, &re) {
		r.fail(re.f)
	} else {
		r.fail(&failure{what: fmt.Sprintf("nemesis %s: %v", r.fault.Nemesis, err)})
	}
	r.rec.Faults().Close(r.window, r.fault.Detail)
	r.fault = nil
}

func (r *runner) finishFault() {
	f := r.fault
	if f.Restarted || f.Nemesis == "pause" || f.Nemesis == "partition" {
		r.struck++
	}
	if f.Restarted {
		r.crashed(f.Nemesis + ": " + f.Detail)
	}
	r.rec.Faults().Close(r.window, f.Detail)
	r.fault = nil
	r.nextFault = r.step + 40 + r.nemRng.IntN(160)
}

// crashed records a restart of the engine: operations that ran return
// their responses, the others (and earlier unknown ones) are cut off,
// and the restart itself is an operation.
func (r *runner) crashed(detail string) {
	for _, c := range r.clients {
		if c.p != nil && c.p.executed && !c.p.unbounded {
			r.complete(c)
		}
	}
	r.rec.CutOff(r.fam.unknown("engine restarted"))
	for _, c := range r.clients {
		if c.p != nil {
			r.wl.observe(c.id, c.p.w, r.fam.unknown("engine restarted"))
			c.p = nil
		}
	}
	id := r.rec.Call(len(r.clients), r.fam.crashInput(detail))
	r.rec.Return(id, r.fam.zeroOutput())
	r.crashes++
	r.wl.crashed()
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

// finalReads reads the whole state back once the run is over, in the
// batches the workload asks for.
func (r *runner) finalReads() {
	for batch := r.wl.final(); len(batch) > 0 && !r.stopped; batch = r.wl.final() {
		for _, w := range batch {
			id := r.rec.Call(0, r.fam.input(w))
			out, unbounded, f := r.sys.exec(w, false)
			if f != nil || unbounded {
				r.rec.ReturnAt(id, out, linearizability.Infinity)
			} else {
				r.rec.Return(id, out)
			}
			if f != nil {
				r.fail(f)
				return
			}
			r.wl.observe(0, w, out)
		}
	}
}
