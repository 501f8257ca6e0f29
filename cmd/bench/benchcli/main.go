// Package benchcli is the bench command: run a benchmark suite against the
// registered engines, store the results, compare two runs with a
// significance test, draw the report, check the d-engine targets.
//
// A third party benchmarks its own engine by building a binary that imports
// the engine's package for side effects (it registers itself) and calls
// Main, as with database/sql drivers:
//
//	package main
//
//	import (
//		"os"
//
//		"github.com/ordeal-dev/ordeal/cmd/bench/benchcli"
//		_ "example.com/myengine" // registers raftlog engine "myengine"
//	)
//
//	func main() { os.Exit(benchcli.Main(os.Args[1:])) }
//
// Exit codes: 0 ok, 1 a significant regression, a lost benchmark or a
// missed target, 2 a usage or configuration error, 3 inconclusive (too few
// samples for a verdict).
package benchcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/ordeal-dev/ordeal/reports"
	"github.com/ordeal-dev/ordeal/results"
	"github.com/ordeal-dev/ordeal/workloads"
	// The message-queue adapter workload family and its engines.
	_ "github.com/ordeal-dev/ordeal/workloads/adapterwl"
	// The raftlog workload family.
	_ "github.com/ordeal-dev/ordeal/workloads/raftlogwl"
	// The durable streams workload family.
	_ "github.com/ordeal-dev/ordeal/workloads/streamswl"
	// Durable Streams servers over HTTP: ordeal's and the Node reference.
	_ "github.com/ordeal-dev/ordeal/workloads/streamshttpwl"
	// The tiered storage workload family.
	_ "github.com/ordeal-dev/ordeal/workloads/tieredwl"
)

// Exit codes.
const (
	ExitOK         = 0
	ExitRegression = 1
	ExitUsage      = 2
	// ExitInconclusive: no verdict (too few samples to decide).
	ExitInconclusive = 3
)

// IO are the streams Main writes to; tests replace them.
type IO struct {
	Stdout, Stderr io.Writer
	// TTY forces (or, false, forbids) the progress bar; nil detects it.
	TTY *bool
}

// Main runs the bench command with os.Stdout and os.Stderr and returns its
// exit code.
func Main(args []string) int {
	return MainIO(args, IO{Stdout: os.Stdout, Stderr: os.Stderr})
}

const usage = `bench: benchmark storage engines

usage:
  bench                          run the quick suite, write results and report
  bench run [flags]              run a suite (see bench run -h)
  bench list                     list engines, workloads and suites
  bench compare [flags] OLD NEW  compare two runs; exit 1 on a significant regression
  bench ab [flags] BASE HEAD     build two git revisions, run them alternately on this
                                 machine, compare (see bench ab -h)
  bench report [-out DIR] RUN... draw charts and report.html from stored runs
  bench targets RUN              check a run against the d-engine targets; exit 1 if one is missed

exit codes: 0 ok, 1 regression, lost benchmark or target missed, 2 usage or
configuration error, 3 inconclusive (insufficient samples)
`

// MainIO is Main with explicit streams.
func MainIO(args []string, stdio IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first interrupt, a second one stops the process.
		<-ctx.Done()
		stop()
	}()
	if len(args) == 0 {
		return cmdRun(ctx, nil, stdio)
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdio)
	case "list":
		return cmdList(args[1:], stdio)
	case "compare":
		return cmdCompare(args[1:], stdio)
	case "ab":
		return cmdAB(ctx, args[1:], stdio)
	case "report":
		return cmdReport(args[1:], stdio)
	case "targets":
		return cmdTargets(args[1:], stdio)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdio.Stdout, usage)
		return ExitOK
	}
	if strings.HasPrefix(args[0], "-") {
		return cmdRun(ctx, args, stdio)
	}
	fmt.Fprintf(stdio.Stderr, "bench: unknown command %q\n\n%s", args[0], usage)
	return ExitUsage
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// paramFlag collects --param family/engine:key=value.
type paramFlag map[string]map[string]string

func (p paramFlag) String() string { return "" }
func (p paramFlag) Set(v string) error {
	engine, kv, ok := strings.Cut(v, ":")
	k, val, ok2 := strings.Cut(kv, "=")
	if !ok || !ok2 || engine == "" || k == "" {
		return fmt.Errorf("want ENGINE:KEY=VALUE (raftlog/file:segment_size=1MiB), got %q", v)
	}
	if !strings.Contains(engine, "/") {
		return fmt.Errorf("engine %q: name it family/name", engine)
	}
	if p[engine] == nil {
		p[engine] = map[string]string{}
	}
	p[engine][k] = val
	return nil
}

func cmdRun(ctx context.Context, args []string, stdio IO) int {
	fs := flag.NewFlagSet("bench run", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	suite := fs.String("suite", "quick", "suite: quick, nightly or a YAML file")
	engines := fs.String("engines", "", "comma-separated engine globs (raftlog/*, file,pebble); default all")
	wl := fs.String("workloads", "", "comma-separated workload globs; default all")
	count := fs.Int("count", 1, "runs of each engine x workload")
	dur := fs.Duration("duration", 0, "override every workload's duration (> 0)")
	warm := fs.Duration("warmup", 0, "override every workload's warm-up (>= 0)")
	seed := fs.Uint64("seed", 1, "seed of every generator")
	out := fs.String("out", "", "run directory, new or empty (default results/runs/ID or bench-results/ID)")
	force := fs.Bool("force", false, "replace an earlier run's files in --out")
	scratch := fs.String("scratch", "", "where engines write (default the temporary directory)")
	noReport := fs.Bool("no-report", false, "write results only")
	checkTargets := fs.Bool("targets", true, "check the d-engine targets; a missed one exits 1")
	driverOverhead := fs.Bool("driver-overhead", true, "measure the driver's own cost per operation first (0.6 s)")
	history := fs.String("history", "", "directory of stored runs for the report's trend chart (default the run directory's parent)")
	params := paramFlag{}
	fs.Var(params, "param", "engine parameter ENGINE:KEY=VALUE (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stdio.Stderr, "bench run: "+format+"\n", a...)
		return ExitUsage
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *count < 1 || *count > 1000:
		return usageErr("--count %d: want 1..1000", *count)
	case set["duration"] && *dur <= 0:
		return usageErr("--duration %v: want > 0", *dur)
	case set["warmup"] && *warm < 0:
		return usageErr("--warmup %v: want >= 0", *warm)
	case set["out"] && strings.TrimSpace(*out) == "":
		return usageErr("--out is empty")
	}
	if *history != "" {
		if st, err := os.Stat(*history); err != nil || !st.IsDir() {
			return usageErr("--history %s: not a directory", *history)
		}
	}
	command := "go run ./cmd/bench run"
	if len(args) > 0 {
		command += " " + shellJoin(args)
	}
	if !strings.Contains(command, "-seed") {
		command += fmt.Sprintf(" --seed %d", *seed)
	}
	log := newLogger(stdio.Stderr)
	opts := RunOptions{Suite: *suite, Engines: *engines, Workloads: *wl, Count: *count, Duration: *dur, Warmup: *warm,
		Seed: *seed, Scratch: *scratch, EngineParams: params, Command: command, Log: log}
	if !*driverOverhead {
		opts.OverheadDuration = -1
	}
	if isTTY(stdio) {
		opts.Progress = stdio.Stderr
	}
	// Resolve names and prepare the run directory before measuring
	// anything: a typo or an unwritable --out fails at once.
	planned, _, err := Plan(opts)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench run: %v\n", err)
		return ExitUsage
	}
	for engine := range params {
		if !slices.Contains(workloads.EngineNames(), engine) {
			return usageErr("--param %s: no engine is named %s (registered: %v)", engine, engine, workloads.EngineNames())
		}
	}
	start := time.Now()
	opts.ID = RunID(start, planned.Name)
	dir := *out
	if dir == "" {
		dir = defaultRunDir(opts.ID)
	}
	rd, err := openRunDir(dir, *force)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench run: %v\n", err)
		return ExitUsage
	}
	defer rd.release()
	run, err := RunSuite(ctx, opts)
	if err != nil && (run == nil || len(run.Results) == 0) {
		fmt.Fprintf(stdio.Stderr, "bench: %v\n", err)
		if run != nil && run.Partial != "" {
			fmt.Fprintf(stdio.Stderr, "bench: %s, before any result: nothing written\n", run.Partial)
			return ExitInconclusive
		}
		return ExitUsage
	}
	if run.Partial != "" {
		fmt.Fprintf(stdio.Stderr, "bench: %s: keeping the %d finished results, marked partial\n", run.Partial, len(run.Results))
	}
	if err := results.Write(dir, run); err != nil {
		fmt.Fprintf(stdio.Stderr, "bench: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(stdio.Stdout, "results: %s\n", filepath.Join(dir, results.JSONFile))
	fmt.Fprintf(stdio.Stdout, "bench format: %s\n", filepath.Join(dir, results.BenchFile))
	if !*noReport {
		hist := *history
		if hist == "" {
			hist = filepath.Dir(filepath.Clean(dir))
		}
		runs := append(loadHistory(hist, run.ID, log), run)
		page, err := reports.Write(dir, runs, reports.Options{})
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "bench: report: %v\n", err)
			return ExitUsage
		}
		fmt.Fprintf(stdio.Stdout, "report: %s\n", page)
	}
	fmt.Fprintf(stdio.Stdout, "%d results, %d skipped, in %s\n", len(run.Results), len(run.Skipped), time.Since(start).Round(time.Second))
	if run.Partial != "" {
		fmt.Fprintf(stdio.Stdout, "PARTIAL: %s\n", run.Partial)
		return ExitInconclusive
	}
	if *checkTargets {
		return printTargetVerdict(run, stdio)
	}
	return ExitOK
}

// printTargetVerdict checks the d-engine targets on a run it just made and
// names the missed ones: exit 1 if one is missed.
func printTargetVerdict(run *results.Run, stdio IO) int {
	checks := reports.CheckTargets(run, reports.DEngineTargets)
	measured, missed := 0, 0
	var lines []string
	for _, c := range checks {
		if !c.Measured {
			continue
		}
		measured++
		if !c.Met {
			missed++
			lines = append(lines, fmt.Sprintf("  MISSED %-18s %-10s %s: measured %s", c.Engine, c.Target.Name, c.Target.Text, c.ValueText()))
		}
	}
	if measured == 0 {
		return ExitOK
	}
	if missed == 0 {
		fmt.Fprintf(stdio.Stdout, "targets: all %d met\n", measured)
		return ExitOK
	}
	fmt.Fprintf(stdio.Stdout, "targets: %d of %d missed on this machine (exit 1; --targets=false measures without this check):\n%s\n",
		missed, measured, strings.Join(lines, "\n"))
	return ExitRegression
}

// loadHistory reads the stored runs in dir other than id, oldest first.
func loadHistory(dir, id string, log *slog.Logger) []*results.Run {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var runs []*results.Run
	for _, e := range entries {
		if !e.IsDir() || e.Name() == id {
			continue
		}
		r, err := results.Read(filepath.Join(dir, e.Name()))
		if err != nil {
			if !errors.Is(err, results.ErrNoResults) {
				log.Warn("skipping stored run", "dir", e.Name(), "err", err)
			}
			continue
		}
		runs = append(runs, r)
	}
	reports.SortRuns(runs)
	return runs
}

func isTTY(stdio IO) bool {
	if stdio.TTY != nil {
		return *stdio.TTY
	}
	f, ok := stdio.Stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"*?$&;|<>()[]{}\\") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}

func cmdList(args []string, stdio IO) int {
	if len(args) > 0 {
		fmt.Fprintf(stdio.Stderr, "bench list: takes no arguments\n")
		return ExitUsage
	}
	w := stdio.Stdout
	fmt.Fprintln(w, "engines:")
	for _, fn := range workloads.FamilyNames() {
		fam, err := workloads.LookupFamily(fn)
		if err != nil {
			continue
		}
		for _, e := range fam.Engines() {
			note := ""
			if e == fam.Baseline() {
				note = "  (baseline)"
			}
			fmt.Fprintf(w, "  %s/%s%s\n", fn, e, note)
		}
	}
	fmt.Fprintln(w, "\nfamilies:")
	for _, fn := range workloads.FamilyNames() {
		fam, _ := workloads.LookupFamily(fn)
		fmt.Fprintf(w, "  %s: %s\n    ops:", fn, fam.Doc())
		for _, op := range fam.Ops() {
			fmt.Fprintf(w, " %s", op.Name)
		}
		fmt.Fprintln(w)
		if ps := fam.Params(); len(ps) > 0 {
			fmt.Fprint(w, "    params:")
			for _, p := range ps {
				fmt.Fprintf(w, " %s=%s", p.Name, p.Default)
			}
			fmt.Fprintln(w)
		}
	}
	for _, sn := range workloads.SuiteNames() {
		s, err := workloads.LoadSuite(sn)
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "bench list: %v\n", err)
			return ExitUsage
		}
		fmt.Fprintf(w, "\nsuite %s: %s\n", sn, s.Description)
		for _, spec := range s.Workloads {
			mode := string(spec.Mode)
			if spec.Mode == workloads.Open {
				mode += "@" + spec.Rate.String()
			}
			fmt.Fprintf(w, "  %-26s %-8s %-12s workers=%d %s %s\n", spec.Name, spec.Family, mode, spec.Workers, spec.Duration, mixString(spec.Mix))
		}
	}
	return ExitOK
}

func mixString(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s:%g", k, m[k]))
	}
	return strings.Join(parts, ",")
}
