package jepsenlite

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Suite is a campaign's size.
type Suite struct {
	Name  string
	Seeds int
	Ops   int
	// Release suites fail on a cell that cannot run here.
	Release bool
}

// Suites are the named campaign sizes.
var Suites = map[string]Suite{
	"quick":   {Name: "quick", Seeds: 2, Ops: 300},
	"release": {Name: "release", Seeds: 10, Ops: 1000, Release: true},
	"nightly": {Name: "nightly", Seeds: 50, Ops: 1000, Release: true},
}

// CampaignConfig is every reference engine x applicable nemesis x seed,
// and every mutant.
type CampaignConfig struct {
	// Suite names the campaign ("release"); Release makes a cell that
	// cannot run here a failure unless AllowUnavailable.
	Suite            string
	Release          bool
	AllowUnavailable bool
	// Engines are the reference engines (FAMILY/ENGINE); empty means every
	// family's. Mutants are the planted-bug engines, each of which must be
	// caught; nil means every family's, empty none.
	Engines []string
	Mutants []string
	// Nemeses are the nemeses of the engine cells (default: all).
	Nemeses   []string
	Seeds     int
	FirstSeed uint64
	Ops       int
	Clients   int
	// MutantSeeds bounds the seeds tried per nemesis to catch a mutant,
	// stopping at the first that does (default: 5 x Seeds, at least 30).
	MutantSeeds int
	// Shard and Shards split the campaign: this process runs the cells
	// whose position modulo Shards is Shard-1 (Shards 0 or 1: all).
	Shard, Shards int
	// Out keeps the evidence of every run that did not pass, one
	// directory per run, and campaign.json.
	Out         string
	NodeCommand []string
	Log         *slog.Logger
	// Progress, if set, receives a line per finished cell with an
	// estimate of the time left.
	Progress io.Writer
}

// Cell is the outcome of one engine x nemesis pair, or of one mutant.
type Cell struct {
	Engine  string `json:"engine"`
	Nemesis string `json:"nemesis"`
	// Mutant cells pass when some run catches the mutant.
	Mutant bool `json:"mutant,omitempty"`
	// Unavailable says why the cell could not run here.
	Unavailable string `json:"unavailable,omitempty"`
	// Known names the known finding this cell reproduces (a peer's
	// defect); the cell passes while the finding still shows.
	Known   string                  `json:"known,omitempty"`
	Verdict linearizability.Verdict `json:"verdict"`
	Why     string                  `json:"why"`
	Runs    int                     `json:"runs"`
	Ok      int                     `json:"ok"`
	Illegal int                     `json:"illegal"`
	Unknown int                     `json:"unknown"`
	Errors  int                     `json:"errors"`
	Seconds float64                 `json:"seconds"`
	// Failing are the replay commands (or errors) of the runs that did
	// not pass, each with what it needs of the file system when it ran on
	// lazyfs.
	Failing []string `json:"failing,omitempty"`
	// CaughtBy is, for a mutant, the replay command of the run that
	// caught it.
	CaughtBy string `json:"caught_by,omitempty"`
	// Coverage adds up the coverage of the cell's runs.
	Coverage *linearizability.Coverage `json:"coverage,omitempty"`
}

// addCoverage adds c to the cell's coverage.
func (cell *Cell) addCoverage(c *linearizability.Coverage) {
	if c == nil {
		return
	}
	if cell.Coverage == nil {
		cell.Coverage = &linearizability.Coverage{Methods: map[string]int{}, Outcomes: map[string]int{}}
	}
	for k, v := range c.Methods {
		cell.Coverage.Methods[k] += v
	}
	for k, v := range c.Outcomes {
		cell.Coverage.Outcomes[k] += v
	}
}

func (cc CampaignConfig) mutantSeeds() int {
	if cc.MutantSeeds > 0 {
		return cc.MutantSeeds
	}
	return max(5*cc.Seeds, 30)
}

// plannedCell is a cell before it runs.
type plannedCell struct {
	engine, nemesis string
	mutant          bool
	nems            []string // a mutant tries each in turn
	unavailable     string
	suiteOnly       string
}

// CampaignResult is what Campaign returns and campaign.json holds.
type CampaignResult struct {
	Suite   string                  `json:"suite"`
	Shard   int                     `json:"shard"`
	Shards  int                     `json:"shards"`
	Total   int                     `json:"total_cells"`
	Verdict linearizability.Verdict `json:"verdict"`
	Seconds float64                 `json:"seconds"`
	Cells   []Cell                  `json:"cells"`
	// Coverage adds up, per family, the coverage of the reference
	// engines' runs; Gaps names the declared methods and outcome classes
	// that never occurred (which makes the campaign inconclusive).
	Coverage map[string]*linearizability.Coverage `json:"coverage,omitempty"`
	Gaps     []string                             `json:"gaps,omitempty"`
	// CoverageJudged is set for a release suite with every nemesis: only
	// then must every declared method and outcome occur.
	CoverageJudged bool `json:"coverage_judged"`
}

// summarizeCoverage adds up the engine cells' coverage per family and
// names the gaps: declared methods and outcomes that never occurred in
// a family that ran.
func (r *CampaignResult) summarizeCoverage() {
	r.Coverage, r.Gaps = map[string]*linearizability.Coverage{}, nil
	for _, c := range r.Cells {
		if c.Mutant || c.Runs == 0 || c.Coverage == nil {
			continue
		}
		fam, _, _ := strings.Cut(c.Engine, "/")
		agg := Cell{Coverage: r.Coverage[fam]}
		agg.addCoverage(c.Coverage)
		r.Coverage[fam] = agg.Coverage
	}
	for _, name := range slices.Sorted(maps.Keys(r.Coverage)) {
		f, err := LookupFamily(name)
		if err != nil {
			continue
		}
		methods, outcomes := f.Declared()
		for _, m := range methods {
			if r.Coverage[name].Methods[m] == 0 {
				r.Gaps = append(r.Gaps, fmt.Sprintf("%s: method %s never called", name, m))
			}
		}
		for _, o := range outcomes {
			if r.Coverage[name].Outcomes[o] == 0 {
				r.Gaps = append(r.Gaps, fmt.Sprintf("%s: outcome %s never seen", name, o))
			}
		}
	}
	if len(r.Gaps) > 0 && r.CoverageJudged {
		r.Verdict = linearizability.Worst(r.Verdict, linearizability.Unknown)
	}
}

// Campaign runs the planned cells of this shard and returns them with the
// campaign's verdict: the worst of its cells'. An error means the campaign
// could not be planned.
func Campaign(ctx context.Context, cc CampaignConfig) (*CampaignResult, error) {
	if cc.Log == nil {
		cc.Log = slog.New(slog.DiscardHandler)
	}
	if cc.Shards <= 1 {
		cc.Shard, cc.Shards = 1, 1
	}
	if cc.Shard < 1 || cc.Shard > cc.Shards {
		return nil, fmt.Errorf("%w: shard %d/%d", ErrUsage, cc.Shard, cc.Shards)
	}
	if cc.Seeds < 1 || cc.Ops < 1 {
		return nil, fmt.Errorf("%w: a campaign needs positive seeds and ops", ErrUsage)
	}
	plan, err := planCampaign(cc)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := &CampaignResult{Suite: cc.Suite, Shard: cc.Shard, Shards: cc.Shards, Total: len(plan), Verdict: linearizability.Ok,
		CoverageJudged: cc.Release && len(cc.Nemeses) == 0}
	var mine []plannedCell
	for i, p := range plan {
		if i%cc.Shards == cc.Shard-1 {
			mine = append(mine, p)
		}
	}
	for i, p := range mine {
		var cell Cell
		if p.mutant {
			cell = runMutantCell(ctx, cc, p)
		} else {
			cell = runEngineCell(ctx, cc, p)
		}
		res.Cells = append(res.Cells, cell)
		res.Verdict = linearizability.Worst(res.Verdict, cell.Verdict)
		if cc.Progress != nil {
			done := time.Since(start)
			eta := time.Duration(float64(done) / float64(i+1) * float64(len(mine)-i-1))
			fmt.Fprintf(cc.Progress, "[%d/%d] %s x %s: %v (%s) in %.1fs, about %v left\n", i+1, len(mine), cell.Engine, cell.Nemesis,
				cell.Verdict, cell.Why, cell.Seconds, eta.Round(time.Second))
		}
		if ctx.Err() != nil {
			res.Verdict = linearizability.Worst(res.Verdict, linearizability.Unknown)
			break
		}
	}
	if len(res.Cells) < len(mine) {
		res.Verdict = linearizability.Worst(res.Verdict, linearizability.Unknown)
	}
	if len(mine) == 0 {
		res.Verdict = linearizability.Unknown
	}
	if cc.Shards == 1 {
		res.summarizeCoverage() // a shard sees part of the seeds: Merge judges the whole
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// planCampaign lists every cell in a fixed order, so that shards split
// the same list.
func planCampaign(cc CampaignConfig) ([]plannedCell, error) {
	engines := slices.Clone(cc.Engines)
	if len(engines) == 0 {
		for _, f := range Families() {
			for _, e := range f.Engines() {
				if _, err := f.server(e, ""); errors.Is(err, ErrUsage) {
					continue // needs a --server-cmd: run it by name
				}
				engines = append(engines, f.Name()+"/"+e)
			}
		}
	}
	mutants := slices.Clone(cc.Mutants)
	if cc.Mutants == nil {
		for _, f := range Families() {
			for _, m := range f.Mutants() {
				mutants = append(mutants, f.Name()+"/"+m.Name)
			}
		}
	}
	suiteOnly := map[string]string{}
	for _, f := range Families() {
		for _, m := range f.Mutants() {
			if m.SuiteOnly != "" {
				suiteOnly[f.Name()+"/"+m.Name] = m.SuiteOnly
			}
		}
	}
	nems := cc.Nemeses
	if len(nems) == 0 {
		for _, n := range faults.Nemeses() {
			nems = append(nems, n.Name())
			if n.Name() == "fsync" {
				nems = append(nems, "fsync@lazyfs")
			}
		}
	}
	for _, n := range nems {
		name, _, _ := strings.Cut(n, "@")
		if _, err := faults.LookupNemesis(name); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	var plan []plannedCell
	full := func(name string) (string, error) {
		f, e, err := ResolveEngine(name)
		if err != nil {
			return "", err
		}
		return f.Name() + "/" + e, checkEngine(f, e)
	}
	for i, e := range engines {
		var err error
		if engines[i], err = full(e); err != nil {
			return nil, err
		}
	}
	for i, m := range mutants {
		var err error
		if mutants[i], err = full(m); err != nil {
			return nil, err
		}
	}
	for _, e := range engines {
		avail, err := availability(e, nil)
		if err != nil {
			return nil, err
		}
		for _, n := range nems {
			a := avail[n]
			switch {
			case !a.applicable:
				continue // nothing to test: not persistent
			case a.err != nil:
				plan = append(plan, plannedCell{engine: e, nemesis: n, unavailable: a.err.Error()})
			default:
				plan = append(plan, plannedCell{engine: e, nemesis: n})
			}
		}
	}
	for _, m := range mutants {
		if why := suiteOnly[m]; why != "" {
			plan = append(plan, plannedCell{engine: m, nemesis: "-", mutant: true, suiteOnly: why})
			continue
		}
		avail, err := availability(m, nil)
		if err != nil {
			return nil, err
		}
		p := plannedCell{engine: m, nemesis: "any", mutant: true, nems: []string{""}}
		var missing []string
		for _, n := range nems {
			switch a := avail[n]; {
			case !a.applicable:
			case a.err != nil:
				missing = append(missing, n+": "+a.err.Error())
			default:
				p.nems = append(p.nems, n)
			}
		}
		if len(missing) > 0 {
			p.unavailable = strings.Join(missing, "; ")
		}
		plan = append(plan, p)
	}
	return plan, nil
}

// cellRun runs one seed of a cell.
// A cell's nemesis may name its target: "fsync@lazyfs".
func cellRun(ctx context.Context, cc CampaignConfig, engine, nemesis string, seed uint64) (*Result, error) {
	cfg := Config{Engine: engine, Seed: seed, Ops: cc.Ops, Clients: cc.Clients, NodeCommand: cc.NodeCommand, Log: cc.Log, OnlyFailures: true}
	if name, target, ok := strings.Cut(nemesis, "@"); ok {
		cfg.Nemeses, cfg.Target = []string{name}, target
	} else if nemesis != "" {
		cfg.Nemeses = []string{nemesis}
	}
	if cc.Out != "" {
		n := strings.ReplaceAll(nemesis, "@", "_")
		if n == "" {
			n = "none"
		}
		cfg.Out = filepath.Join(cc.Out, strings.ReplaceAll(engine, "/", "_"), n, fmt.Sprintf("seed-%d", seed))
	}
	return Run(ctx, cfg)
}

// unavailableVerdict is the verdict of a cell that cannot run here.
func unavailableVerdict(cc CampaignConfig) (linearizability.Verdict, string) {
	if cc.Release && !cc.AllowUnavailable {
		return linearizability.Unknown, "cannot run here, and a release campaign needs every cell (--allow-unavailable to accept)"
	}
	return linearizability.Ok, "skipped: cannot run here (allowed)"
}

func runEngineCell(ctx context.Context, cc CampaignConfig, p plannedCell) (cell Cell) {
	cell = Cell{Engine: p.engine, Nemesis: p.nemesis}
	start := time.Now()
	defer func() { cell.Seconds = time.Since(start).Seconds() }()
	if p.unavailable != "" {
		cell.Unavailable = p.unavailable
		cell.Verdict, cell.Why = unavailableVerdict(cc)
		return cell
	}
	known, isKnown := lookupKnown(p.engine, p.nemesis)
	for i := range cc.Seeds {
		if ctx.Err() != nil {
			break
		}
		seed := cc.FirstSeed + uint64(i)
		res, err := cellRun(ctx, cc, p.engine, p.nemesis, seed)
		if err != nil && res == nil {
			cell.Errors++
			cell.Failing = append(cell.Failing, fmt.Sprintf("seed %d: %v", seed, err))
			continue
		}
		cell.Runs++
		cell.addCoverage(res.History.Coverage)
		switch res.Verdict {
		case linearizability.Ok:
			cell.Ok++
		case linearizability.Illegal:
			cell.Illegal++
			cell.Failing = append(cell.Failing, res.Command+semanticsNote(ctx, cc, res))
		default:
			cell.Unknown++
			cell.Failing = append(cell.Failing, res.Command+" ("+res.Reason+")")
		}
		cc.Log.Info("run", "engine", p.engine, "nemesis", p.nemesis, "seed", seed, "verdict", res.Verdict, "wall", res.Wall)
	}
	switch {
	case cell.Runs+cell.Errors < cc.Seeds:
		cell.Verdict, cell.Why = linearizability.Unknown, fmt.Sprintf("interrupted after %d of %d seeds", cell.Runs+cell.Errors, cc.Seeds)
	case isKnown && cell.Illegal > 0 && cell.Errors == 0:
		cell.Known = known.ID
		cell.Verdict, cell.Why = linearizability.Ok, fmt.Sprintf("known finding %s reproduced (%d of %d seeds): %s", known.ID, cell.Illegal, cell.Runs, known.Report)
	case isKnown:
		cell.Known = known.ID
		cell.Verdict, cell.Why = linearizability.Unknown, fmt.Sprintf("known finding %s no longer shows: the peer's behaviour changed; re-investigate and update %s", known.ID, known.Report)
	case cell.Illegal > 0:
		cell.Verdict, cell.Why = linearizability.Illegal, fmt.Sprintf("%d of %d seeds illegal", cell.Illegal, cell.Runs)
	case cell.Errors > 0:
		cell.Verdict, cell.Why = linearizability.Unknown, fmt.Sprintf("%d runs could not be made", cell.Errors)
	case cell.Unknown > 0:
		cell.Verdict, cell.Why = linearizability.Unknown, fmt.Sprintf("%d of %d seeds inconclusive", cell.Unknown, cell.Runs)
	default:
		cell.Verdict, cell.Why = linearizability.Ok, fmt.Sprintf("%d seeds ok", cell.Ok)
	}
	return cell
}

// semanticsNote says, for a violation on lazyfs under the strict profile,
// whether the ext4 profile shows it too: if not, the engine only relies on
// a file's fsync making its directory entry durable (a portability
// finding); if so, it loses data either way.
func semanticsNote(ctx context.Context, cc CampaignConfig, res *Result) string {
	h := res.History
	if h.Target != "lazyfs" || h.Profile != "strict" || len(h.Nemeses) != 1 {
		return ""
	}
	cfg := Config{Engine: h.Engine, Nemeses: h.Nemeses, Seed: h.Seed, Ops: cc.Ops, Clients: cc.Clients, NodeCommand: cc.NodeCommand, Profile: "ext4", Target: "lazyfs"}
	ext, err := Run(ctx, cfg)
	switch {
	case err != nil:
		return " [strict profile; ext4 rerun failed: " + err.Error() + "]"
	case ext.Verdict == linearizability.Ok:
		return " [portability: fails under strict POSIX only; directory entries never synced]"
	case ext.Verdict == linearizability.Illegal:
		return " [data loss: fails under both the strict and the ext4 profile]"
	}
	return " [strict profile; ext4 rerun inconclusive]"
}

func runMutantCell(ctx context.Context, cc CampaignConfig, p plannedCell) (cell Cell) {
	cell = Cell{Engine: p.engine, Nemesis: "any", Mutant: true}
	start := time.Now()
	defer func() { cell.Seconds = time.Since(start).Seconds() }()
	if p.suiteOnly != "" {
		cell.Nemesis, cell.Verdict, cell.Why = "-", linearizability.Ok, "not run: suite only: "+p.suiteOnly
		return cell
	}
	for _, n := range p.nems {
		seeds := cc.mutantSeeds()
		if n == "" {
			seeds = 1 // a fault-free run is the same for every seed but the workload
		}
		for i := range seeds {
			if ctx.Err() != nil {
				cell.Verdict, cell.Why = linearizability.Unknown, "interrupted before the mutant was caught"
				return cell
			}
			seed := cc.FirstSeed + uint64(i)
			res, err := cellRun(ctx, cc, p.engine, n, seed)
			if err != nil && res == nil {
				cell.Errors++
				cell.Failing = append(cell.Failing, fmt.Sprintf("nemesis %q seed %d: %v", n, seed, err))
				continue
			}
			cell.Runs++
			if res.Verdict == linearizability.Illegal {
				cell.Illegal++
				cell.CaughtBy = res.Command
				label := n
				if label == "" {
					label = "no nemesis"
				}
				cell.Nemesis = label
				cell.Verdict, cell.Why = linearizability.Ok, fmt.Sprintf("caught by %s at seed %d: %s", label, seed, res.Reason)
				return cell
			}
			if res.Verdict == linearizability.Ok {
				cell.Ok++
			} else {
				cell.Unknown++
			}
		}
	}
	cell.Verdict = linearizability.Illegal
	cell.Why = fmt.Sprintf("not caught in %d runs: the checks cannot see this planted bug", cell.Runs)
	if p.unavailable != "" {
		v, why := unavailableVerdict(cc)
		cell.Unavailable = p.unavailable
		if v == linearizability.Ok {
			cell.Verdict = linearizability.Unknown
		}
		cell.Why += "; some nemeses could not run here: " + why
	}
	return cell
}

// WriteCells prints the campaign table.
func WriteCells(w io.Writer, cells []Cell) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "engine\tnemesis\tverdict\truns\tok\tillegal\tunknown\terrors\tseconds\twhy")
	for _, c := range cells {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%d\t%d\t%d\t%d\t%.1f\t%s\n", c.Engine, c.Nemesis, c.Verdict, c.Runs, c.Ok, c.Illegal, c.Unknown, c.Errors, c.Seconds, c.Why)
	}
	_ = tw.Flush()
	for _, c := range cells {
		if c.Unavailable != "" {
			fmt.Fprintf(w, "UNAVAILABLE %s x %s: %s\n", c.Engine, c.Nemesis, c.Unavailable)
		}
		if c.Mutant && c.CaughtBy != "" {
			fmt.Fprintf(w, "CAUGHT %s: %s\n", c.Engine, c.CaughtBy)
		}
		if c.Mutant || c.Known != "" {
			continue
		}
		for _, f := range c.Failing {
			fmt.Fprintf(w, "FAIL %s x %s: %s\n", c.Engine, c.Nemesis, f)
		}
	}
	for _, c := range cells {
		if c.Known != "" {
			for _, f := range c.Failing {
				fmt.Fprintf(w, "KNOWN %s %s x %s: %s\n", c.Known, c.Engine, c.Nemesis, f)
			}
		}
	}
}

// WriteCoverage prints a campaign's coverage per family and its gaps.
func WriteCoverage(w io.Writer, r *CampaignResult) {
	for _, fam := range slices.Sorted(maps.Keys(r.Coverage)) {
		c := r.Coverage[fam]
		fmt.Fprintf(w, "coverage %s: methods %s\n", fam, countList(c.Methods))
		fmt.Fprintf(w, "coverage %s: outcomes %s\n", fam, countList(c.Outcomes))
	}
	for _, g := range r.Gaps {
		if r.CoverageJudged {
			fmt.Fprintf(w, "GAP %s\n", g)
		} else {
			fmt.Fprintf(w, "not reached (a partial campaign: not judged) %s\n", g)
		}
	}
}

func campaignMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	suite := fs.String("suite", "release", "quick, release or nightly")
	seeds := fs.Int("seeds", 0, "seeds per engine x nemesis (default: the suite's)")
	ops := fs.Int("ops", 0, "operations per run (default: the suite's)")
	first := fs.Uint64("first-seed", 1, "first seed")
	clients := fs.Int("clients", 3, "logical clients")
	engines := fs.String("engines", "", "reference engines FAMILY/ENGINE, comma-separated (default: every family's)")
	mutants := fs.String("mutants", "", "mutants FAMILY/mutant/NAME, comma-separated; all, or none (default: all, or none when --engines is given)")
	nemeses := fs.String("nemeses", "", "nemeses, comma-separated (default: all)")
	shard := fs.String("shard", "1/1", "run shard I of N (I/N): the cells at positions I-1, I-1+N, ...")
	allow := fs.Bool("allow-unavailable", false, "in a release suite, accept cells that cannot run here (no FUSE, not root)")
	out := fs.String("out", "", "directory for campaign.json and the evidence of failing runs")
	jsonOut := fs.Bool("json", false, "print campaign.json to stdout instead of the table")
	verbose := fs.Bool("v", false, "log each run")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	s, ok := Suites[*suite]
	if !ok {
		fmt.Fprintf(stderr, "jepsen-lite: unknown suite %q (quick, release, nightly)\n", *suite)
		return ExitUsage
	}
	var si, sn int
	if _, err := fmt.Sscanf(*shard, "%d/%d", &si, &sn); err != nil || sn < 1 || si < 1 || si > sn {
		fmt.Fprintf(stderr, "jepsen-lite: --shard %q: want I/N with 1 <= I <= N\n", *shard)
		return ExitUsage
	}
	cc := CampaignConfig{Suite: s.Name, Release: s.Release, AllowUnavailable: *allow, Seeds: s.Seeds, Ops: s.Ops,
		FirstSeed: *first, Clients: *clients, Out: *out, Engines: splitList(*engines), Nemeses: splitList(*nemeses),
		Shard: si, Shards: sn, Progress: stderr}
	switch *mutants {
	case "":
		if len(cc.Engines) > 0 {
			cc.Mutants = []string{}
		}
	case "all":
	case "none":
		cc.Mutants = []string{}
	default:
		cc.Mutants = splitList(*mutants)
	}
	if *seeds != 0 {
		cc.Seeds = *seeds
	}
	if *ops != 0 {
		cc.Ops = *ops
	}
	if err := positive(map[string]int{"seeds": cc.Seeds, "ops": cc.Ops, "clients": cc.Clients}); err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	for _, e := range append(slices.Clone(cc.Engines), cc.Mutants...) {
		f, name, err := ResolveEngine(e)
		if err == nil {
			err = checkEngine(f, name)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
	}
	if *verbose {
		cc.Log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	res, err := Campaign(ctx, cc)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	return reportCampaign(res, *out, *jsonOut, stdout, stderr)
}

// reportCampaign prints a campaign (or merged campaign), writes
// campaign.json into out if set, and returns the exit code.
func reportCampaign(res *CampaignResult, out string, jsonOut bool, stdout, stderr io.Writer) int {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	if jsonOut {
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		WriteCells(stdout, res.Cells)
		WriteCoverage(stdout, res)
		fmt.Fprintf(stdout, "campaign %s shard %d/%d: %v, %d of %d cells, in %v\n", res.Suite, res.Shard, res.Shards, res.Verdict,
			len(res.Cells), res.Total, (time.Duration(res.Seconds * float64(time.Second))).Round(time.Second))
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		if err := writeFileAtomic(filepath.Join(out, "campaign.json"), append(b, '\n')); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
	}
	return res.Verdict.ExitCode()
}

// Merge joins the results of a campaign's shards. Every shard 1..N must be
// there exactly once, and the cells must add up to the campaign's total:
// a lost shard is never a pass.
func Merge(parts []*CampaignResult) (*CampaignResult, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge", ErrUsage)
	}
	n, total, suite := parts[0].Shards, parts[0].Total, parts[0].Suite
	seen := map[int]bool{}
	m := &CampaignResult{Suite: suite, Shard: 1, Shards: 1, Total: total, Verdict: linearizability.Ok, CoverageJudged: parts[0].CoverageJudged}
	for _, p := range parts {
		if p.Shards != n || p.Total != total || p.Suite != suite {
			return nil, fmt.Errorf("%w: shard %d/%d of %s (%d cells) does not belong with %d/%d of %s (%d cells)", ErrUsage, p.Shard, p.Shards, p.Suite, p.Total, parts[0].Shard, n, suite, total)
		}
		if seen[p.Shard] {
			return nil, fmt.Errorf("%w: shard %d/%d given twice", ErrUsage, p.Shard, n)
		}
		seen[p.Shard] = true
		m.Cells = append(m.Cells, p.Cells...)
		m.Verdict = linearizability.Worst(m.Verdict, p.Verdict)
		m.Seconds = max(m.Seconds, p.Seconds)
	}
	m.summarizeCoverage()
	var missing []string
	for i := 1; i <= n; i++ {
		if !seen[i] {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 || len(m.Cells) != total {
		m.Verdict = linearizability.Worst(m.Verdict, linearizability.Unknown)
		return m, fmt.Errorf("%w: shards missing: [%s]; %d of %d cells", ErrIncomplete, strings.Join(missing, " "), len(m.Cells), total)
	}
	return m, nil
}

func mergeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for the merged campaign.json")
	jsonOut := fs.Bool("json", false, "print the merged campaign.json instead of the table")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: jepsen-lite merge [--out DIR] SHARD/campaign.json ...")
		return ExitUsage
	}
	var parts []*CampaignResult
	for _, p := range fs.Args() {
		file, _ := historyPaths(p)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			file = filepath.Join(p, "campaign.json")
		}
		var r CampaignResult
		if err := readJSON(file, &r); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		parts = append(parts, &r)
	}
	m, err := Merge(parts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if !errors.Is(err, ErrIncomplete) {
			return ExitUsage
		}
	}
	return reportCampaign(m, *out, *jsonOut, stdout, stderr)
}
