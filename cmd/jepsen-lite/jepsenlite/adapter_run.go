package jepsenlite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/mutants"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/adaptermodel"
)

// AdapterPrefix starts the name of every message-queue adapter engine
// jepsen-lite runs ("adapter/segment"); the rest is its storage type in the
// adapter registry.
const AdapterPrefix = "adapter/"

// IsAdapterEngine reports whether name names an adapter engine.
func IsAdapterEngine(name string) bool { return strings.HasPrefix(name, AdapterPrefix) }

// AdapterNemeses are the nemeses an adapter run can inject. Both act in
// process on a crashable in-memory disk (faults.NewDisk): crash cuts the
// power while operations are in flight and reopens the engine on what the
// disk kept; fsync fails one sync with EIO, Linux style (the unsynced
// writes are dropped), and reopens the failed engine after a power loss.
var AdapterNemeses = []string{"crash", "fsync"}

// AdapterResult is the outcome of an adapter run.
type AdapterResult struct {
	Verdict linearizability.Verdict
	History *adaptermodel.History
	Check   *adaptermodel.Result
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

// adapterShards are the shards every adapter run uses.
var adapterShards = []string{"s0", "s1"}

// adapterDir is the engine's directory on the in-memory disk.
const adapterDir = "/data"

// adapterRunner drives one adapter run: steps of concurrent client
// operations, with faults between and during steps.
type adapterRunner struct {
	cfg      Config
	typ      string
	params   map[string]string
	rng      *rand.Rand
	rec      *adaptermodel.Recorder
	disk     *faults.Disk
	trig     *faults.Trigger
	a        adapter.StorageAdapter
	caps     adapter.Capabilities
	next     map[string]uint64 // offsets handed out per shard, as seen
	seq      uint64            // records generated
	failures []string
	crashes  int
}

// RunAdapter runs one seeded campaign against an adapter engine in
// process and checks it with package adaptermodel. It returns an error
// (wrapping ErrUsage or ErrSetup) only when the run could not be made.
func RunAdapter(ctx context.Context, cfg Config) (*AdapterResult, error) {
	cfg = cfg.withDefaults()
	start := time.Now()
	if !IsAdapterEngine(cfg.Engine) || cfg.Clients < 1 || cfg.Ops < 1 {
		return nil, fmt.Errorf("%w: need an adapter/ engine, at least one client and one operation", ErrUsage)
	}
	if cfg.Target != "auto" && cfg.Target != "inproc" {
		return nil, fmt.Errorf("%w: adapter engines run in process only (target %q)", ErrUsage, cfg.Target)
	}
	for _, n := range cfg.Nemeses {
		if !slices.Contains(AdapterNemeses, n) {
			return nil, fmt.Errorf("%w: nemesis %q: adapter engines take %v", ErrUsage, n, AdapterNemeses)
		}
	}
	typ := strings.TrimPrefix(cfg.Engine, AdapterPrefix)
	if !slices.Contains(adapter.Engines(), typ) {
		return nil, fmt.Errorf("%w: unknown adapter engine %q (registered: %v)", ErrUsage, typ, adapter.Engines())
	}
	r := &adapterRunner{cfg: cfg, typ: typ, params: map[string]string{}, rng: rand.New(rand.NewPCG(cfg.Seed, 0xada)),
		rec: adaptermodel.NewRecorder(&linearizability.Logical{}), next: map[string]uint64{}}
	for k, v := range cfg.Params {
		r.params[k] = v
	}
	if typ == "manager" && r.params["storage_types"] == "" {
		r.params["storage_types"] = "pebble,segment"
	}
	if slices.Contains(cfg.Nemeses, "fsync") {
		r.trig = faults.NewTrigger(faults.OpSync, syscall.EIO)
	}
	r.disk = faults.NewDisk(r.injector())
	if err := r.prepare(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	if err := r.open(); err != nil {
		return nil, fmt.Errorf("%w: engine %s: %w", ErrSetup, cfg.Engine, err)
	}
	res := &AdapterResult{}
	var nems []string
	for _, n := range cfg.Nemeses {
		switch {
		case n == "crash" && r.caps.Persistent && !r.caps.UsesFS,
			n == "fsync" && (!r.caps.UsesFS || !r.caps.Persistent):
			res.Skipped = append(res.Skipped, n)
		default:
			nems = append(nems, n)
		}
	}
	res.Used = nems
	if len(cfg.Nemeses) > 0 && len(nems) == 0 {
		_ = r.a.Close()
		return nil, fmt.Errorf("%w: engine %s: %w: %v", ErrSetup, cfg.Engine, faults.ErrUnavailable, cfg.Nemeses)
	}
	issued := r.loop(ctx, nems, start)
	if r.a != nil {
		if err := r.a.Close(); err != nil && len(r.failures) == 0 {
			cfg.Log.Warn("close", "err", err)
		}
	}
	cfg.Ops = issued
	res.Command = cfg.Command()
	h := &adaptermodel.History{
		Engine: cfg.Engine, Traits: adaptermodel.TraitsOf(r.caps), Seed: cfg.Seed, Nemeses: res.Used,
		Clock: "logical", Ops: r.rec.Ops(), Faults: r.rec.Windows(), Failures: r.failures, Command: res.Command,
	}
	res.History, res.Faults = h, len(h.Faults)
	keep := cfg.Out != "" && !cfg.OnlyFailures
	res.Check = adaptermodel.Check(h, cfg.CheckTimeout, keep)
	if cfg.Out != "" && cfg.OnlyFailures && res.Check.Verdict != linearizability.Ok {
		keep = true
		res.Check = adaptermodel.Check(h, cfg.CheckTimeout, true)
	}
	res.Verdict = res.Check.Verdict
	res.Wall = time.Since(start)
	if keep {
		if err := writeAdapterRun(cfg.Out, res); err != nil {
			return res, fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	return res, nil
}

func (r *adapterRunner) injector() faults.Injector {
	if r.trig == nil {
		return nil
	}
	return r.trig
}

// prepare creates the engine's directory and makes its entry durable, so
// that a power loss never takes the directory itself.
func (r *adapterRunner) prepare() error {
	fs := r.disk.FS()
	if err := fs.MkdirAll(adapterDir, 0o755); err != nil {
		return err
	}
	d, err := fs.OpenDir("/")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// open opens the engine on the current disk and creates the shards it
// does not have (all of them at first, and after a restart of an engine
// that keeps nothing).
func (r *adapterRunner) open() error {
	a, err := adapter.Open(r.typ, adapter.Options{Dir: adapterDir, FS: r.disk.FS(), Params: r.params})
	if err != nil {
		return err
	}
	r.a, r.caps = a, a.Capabilities()
	ctx := context.Background()
	infos, err := a.ListShards(ctx, adapter.ShardFilter{})
	if err != nil {
		return err
	}
	for i, s := range adapterShards {
		if slices.ContainsFunc(infos, func(in adapter.ShardInfo) bool { return in.Config.Name == s }) {
			continue
		}
		st := r.typ
		if r.typ == "manager" {
			types := strings.Split(r.params["storage_types"], ",")
			st = strings.TrimSpace(types[i%len(types)])
		}
		if err := a.CreateShard(ctx, adapter.ShardConfig{Name: s, StorageType: st}); err != nil {
			return fmt.Errorf("create shard %s: %w", s, err)
		}
		r.next[s] = 0
	}
	return nil
}

// loop runs steps until the operations are issued, the time is up or the
// engine failed, then reads every shard once more. It returns the number
// of client operations issued.
func (r *adapterRunner) loop(ctx context.Context, nems []string, start time.Time) int {
	issued := 0
	nextFault := 20 + r.rng.IntN(40)
	for issued < r.cfg.Ops && len(r.failures) == 0 && ctx.Err() == nil {
		if r.cfg.Duration > 0 && time.Since(start) > r.cfg.Duration {
			break
		}
		k := 1 + r.rng.IntN(r.cfg.Clients)
		ins := make([]adaptermodel.Input, k)
		for c := range ins {
			ins[c] = r.gen()
		}
		issued += k
		fault := ""
		if len(nems) > 0 && issued >= nextFault {
			fault = nems[r.rng.IntN(len(nems))]
		}
		if fault == "fsync" {
			r.trig.Arm(1)
		}
		cut := fault == "crash"
		if !r.step(ins, cut) {
			break
		}
		switch {
		case cut:
			nextFault = issued + 20 + r.rng.IntN(60)
		case fault == "fsync":
			fired := r.trig.Fired() > 0
			r.trig.Disarm()
			if fired {
				r.recoverFrom("fsync", "one sync failed with EIO")
				nextFault = issued + 20 + r.rng.IntN(60)
			}
		}
	}
	if len(r.failures) == 0 {
		r.finalReads()
	}
	return issued
}

// step runs one operation per client concurrently. With cut, the power
// goes while they run. It returns false if the run must stop.
func (r *adapterRunner) step(ins []adaptermodel.Input, cut bool) bool {
	outs := make([]adaptermodel.Output, len(ins))
	var wg sync.WaitGroup
	var mu sync.Mutex
	a := r.a
	for c, in := range ins {
		// The call is recorded before the goroutine starts, so that a
		// power loss cuts off every operation of the step.
		id := r.rec.Call(c, in)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					r.failures = append(r.failures, fmt.Sprintf("panic in %s: %v", in, p))
					mu.Unlock()
				}
			}()
			outs[c] = adaptermodel.Apply(context.Background(), a, in)
			r.rec.Return(id, outs[c])
		}()
	}
	if cut {
		for range r.rng.IntN(4) {
			runtime.Gosched()
		}
		r.powerLoss("crash", "power loss with operations in flight", &wg)
	} else if !waitTimeout(&wg, r.cfg.OpTimeout) {
		r.failures = append(r.failures, fmt.Sprintf("hang: an operation took longer than %v", r.cfg.OpTimeout))
		r.rec.CutOff("hang")
		r.a = nil
		return false
	}
	if !cut {
		for c, in := range ins {
			if in.Kind == adaptermodel.KindWrite && outs[c].Err == adaptermodel.ErrNone && len(outs[c].Offsets) > 0 {
				r.next[in.Shard] = max(r.next[in.Shard], outs[c].Offsets[len(outs[c].Offsets)-1]+1)
			}
		}
	}
	return len(r.failures) == 0
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// recoverFrom reopens an engine a storage error failed: the process dies
// and the machine loses power, as a broker that hits EIO would be
// restarted.
func (r *adapterRunner) recoverFrom(nemesis, detail string) {
	var wg sync.WaitGroup
	r.powerLoss(nemesis, detail, &wg)
}

// powerLoss cuts off the operations in flight, cuts the power, waits for
// them, and reopens the engine on what the disk kept, recording it all as
// one crash operation.
func (r *adapterRunner) powerLoss(nemesis, detail string, wg *sync.WaitGroup) {
	pct := []int{0, 0, 30, 70, 100}[r.rng.IntN(5)]
	seed := r.rng.Uint64()
	detail = fmt.Sprintf("%s, %d%% of unsynced blocks kept", detail, pct)
	w := r.rec.OpenWindow(nemesis, detail)
	// Operations in flight are cut off before the power goes: whatever
	// they report afterwards (success synced just before, or an I/O error
	// from the dead disk) is dropped, and each may or may not have
	// happened.
	r.rec.CutOff("power loss")
	clone, err := r.disk.PowerLoss(seed, pct, r.injector())
	if !waitTimeout(wg, r.cfg.OpTimeout) {
		r.failures = append(r.failures, fmt.Sprintf("hang: an operation did not return within %v of a power loss", r.cfg.OpTimeout))
		r.a = nil
		return
	}
	_ = r.a.Close()
	r.a = nil
	if err != nil {
		r.failures = append(r.failures, fmt.Sprintf("power loss: %v", err))
		return
	}
	r.crashes++
	id := r.rec.Call(r.cfg.Clients, adaptermodel.Input{Kind: adaptermodel.KindCrash, Detail: detail})
	r.disk = clone
	if err := r.open(); err != nil {
		r.failures = append(r.failures, fmt.Sprintf("recovery after %s failed: %v", nemesis, err))
		r.rec.CloseWindow(w, "recovery failed")
		return
	}
	if !r.caps.Persistent {
		clear(r.next)
	}
	r.rec.Return(id, adaptermodel.Output{})
	r.rec.CloseWindow(w, "reopened")
}

// finalReads reads every shard and group once more, so that a loss the
// workload's reads missed still shows.
func (r *adapterRunner) finalReads() {
	ctx := context.Background()
	for _, s := range adapterShards {
		r.rec.Do(ctx, 0, r.a, adaptermodel.Input{Kind: adaptermodel.KindReadOffset, Shard: s, Limit: 100000})
		for g := range 2 {
			r.rec.Do(ctx, 0, r.a, adaptermodel.Input{Kind: adaptermodel.KindGroup, Shard: s, Group: "g" + strconv.Itoa(g)})
		}
		for t := range 3 {
			r.rec.Do(ctx, 0, r.a, adaptermodel.Input{Kind: adaptermodel.KindReadTag, Shard: s, Tag: "t" + strconv.Itoa(t), Limit: 100000})
		}
	}
}

// gen draws one client operation.
func (r *adapterRunner) gen() adaptermodel.Input {
	rng := r.rng
	shard := adapterShards[rng.IntN(len(adapterShards))]
	next := r.next[shard]
	key := func() string { return "k" + strconv.Itoa(rng.IntN(6)) }
	in := adaptermodel.Input{Shard: shard}
	switch x := rng.IntN(100); {
	case x < 35:
		in.Kind = adaptermodel.KindWrite
		for range 1 + rng.IntN(3) {
			r.seq++
			tags := []string{"t" + strconv.Itoa(rng.IntN(3))}
			if rng.IntN(4) == 0 {
				tags = append(tags, "t"+strconv.Itoa(3+rng.IntN(2)))
			}
			n := 8 + rng.IntN(120)
			if rng.IntN(6) == 0 {
				n = 2000 + rng.IntN(4000) // frames that cross the blocks a power loss keeps or loses
			}
			in.Records = append(in.Records, adaptermodel.NewRecRef(key(), tags, int64(rng.IntN(1000)), r.cfg.Seed<<20^r.seq, n))
		}
	case x < 50:
		in.Kind, in.Offset, in.Limit = adaptermodel.KindReadOffset, rng.Uint64N(next+2), 1+rng.IntN(8)
	case x < 60:
		in.Kind, in.Tag, in.Offset, in.Limit = adaptermodel.KindReadTag, "t"+strconv.Itoa(rng.IntN(5)), rng.Uint64N(next+2), 1+rng.IntN(8)
	case x < 70:
		in.Kind, in.Key = adaptermodel.KindReadKey, key()
	case x < 77:
		in.Kind, in.TS = adaptermodel.KindSeek, int64(rng.IntN(1100))
	case x < 85:
		in.Kind = adaptermodel.KindDeleteOffset
		in.Offset = rng.Uint64N(next + 1)
		if next > 0 && rng.IntN(2) == 0 {
			in.Offset = next - 1 // the last record: its offset must not come back
		}
	case x < 89:
		in.Kind, in.Key = adaptermodel.KindDeleteKey, key()
	case x < 95:
		in.Kind, in.Group, in.Offset = adaptermodel.KindCommit, "g"+strconv.Itoa(rng.IntN(2)), rng.Uint64N(next+5)
	default:
		in.Kind, in.Group = adaptermodel.KindGroup, "g"+strconv.Itoa(rng.IntN(2))
	}
	return in
}

// writeAdapterRun writes the evidence of a run into dir.
func writeAdapterRun(dir string, res *AdapterResult) error {
	return writeLinearizabilityRun(dir, res.Check, res.History, len(res.History.Faults), nil, adapterSummary(res))
}

func adapterSummary(res *AdapterResult) string {
	h := res.History
	crashes := 0
	for _, op := range h.Ops {
		if op.Input.Kind == adaptermodel.KindCrash {
			crashes++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "engine     %s (persistent=%v sync_on_write=%v)\n", h.Engine, h.Traits.Persistent, h.Traits.SyncOnWrite)
	fmt.Fprintf(&b, "seed       %d\n", h.Seed)
	fmt.Fprintf(&b, "nemeses    %s", strings.Join(res.Used, ","))
	if len(res.Skipped) > 0 {
		fmt.Fprintf(&b, " (unavailable: %s)", strings.Join(res.Skipped, ","))
	}
	fmt.Fprintf(&b, "\nops        %d, faults %d, crashes %d\n", len(h.Ops), len(h.Faults), crashes)
	writeSummaryTail(&b, res.Check, res.Verdict, h.Failures, res.Wall, res.Command)
	return b.String()
}

// adapterRunMain is `run` for an adapter engine.
func adapterRunMain(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	res, err := RunAdapter(ctx, cfg)
	return reportRun(stdout, stderr, err, res != nil, func() (string, int) { return adapterSummary(res), res.Verdict.ExitCode() })
}

// isAdapterHistory reports whether path (a run directory or a history
// file) holds the history of an adapter engine.
func isAdapterHistory(path string) bool {
	path, _ = historyPaths(path)
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var head struct {
		Engine string `json:"engine"`
	}
	return json.Unmarshal(b, &head) == nil && IsAdapterEngine(head.Engine)
}

// RecheckAdapter checks a stored adapter history again and rewrites the
// verdict, and the timeline if asked, beside it.
func RecheckAdapter(path string, timeout time.Duration, timeline bool) (*adaptermodel.Result, *adaptermodel.History, error) {
	return recheck(path, timeout, timeline, adaptermodel.ReadFile, adaptermodel.Check)
}

// adapterCheckMain is `check` for an adapter history.
func adapterCheckMain(path string, timeout time.Duration, timeline bool, stdout, stderr io.Writer) int {
	res, h, err := RecheckAdapter(path, timeout, timeline)
	return reportCheck(stdout, stderr, res, h, err)
}

// AdapterEngines lists the adapter engines jepsen-lite runs, mutants
// excluded, as "adapter/<type>".
func AdapterEngines() []string {
	var out []string
	for _, t := range adapter.Engines() {
		if !strings.HasPrefix(t, "mutant/") {
			out = append(out, AdapterPrefix+t)
		}
	}
	return out
}

func listAdapterEngines(w io.Writer) {
	for _, e := range AdapterEngines() {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

func listAdapterMutants(w io.Writer) {
	for _, m := range mutants.All() {
		fmt.Fprintf(w, "  %-40s %s\n", AdapterPrefix+m.Name, m.Bug)
	}
}
