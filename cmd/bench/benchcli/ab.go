package benchcli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ordeal-dev/ordeal/results"
)

// ABOptions describe a same-machine A/B run.
type ABOptions struct {
	// Base and Head are the two binaries (each a bench command: this one
	// or a third party's main that calls Main).
	Base, Head string
	// Out receives iterations/{base,head}-NN (each iteration's run),
	// base/ and head/ (the merged runs) and compare.txt.
	Out string
	// Run are the flags every iteration passes to "run" on both sides
	// (suite, engines, workloads, durations); BaseRun and HeadRun are
	// added on one side only (a --param that differs).
	Run, BaseRun, HeadRun []string
	// Count is the number of iterations; Seed the first iteration's seed
	// (iteration i runs seed Seed+i on both sides).
	Count int
	Seed  uint64
	// Scratch is the directory both sides' engines write to.
	Scratch string
	Compare CompareOptions
	Log     io.Writer
}

// ABRun runs base and head alternately, Count iterations of one run each
// (base then head in every iteration, the same seed and scratch file
// system on both sides), merges each side's iterations into one run and
// compares them. It returns the comparison and the merged runs'
// directories; a run that was interrupted is merged as far as it got and
// marked partial.
func ABRun(ctx context.Context, o ABOptions) (cmp *Comparison, baseDir, headDir string, err error) {
	if o.Count < 1 {
		return nil, "", "", fmt.Errorf("%w: --count %d: want >= 1", errUsage, o.Count)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	sides := []struct {
		name, bin string
		extra     []string
		runs      []*results.Run
	}{{name: "base", bin: o.Base, extra: o.BaseRun}, {name: "head", bin: o.Head, extra: o.HeadRun}}
	// Flags newer than one side's binary are passed to neither, so that
	// both sides run alike.
	optional := map[string]bool{"targets": true, "driver-overhead": true}
	for i := range sides {
		flags, err := runFlags(ctx, sides[i].bin)
		if err != nil {
			return nil, "", "", err
		}
		for f := range optional {
			optional[f] = optional[f] && flags[f]
		}
	}
	partial := ""
iterations:
	for it := range o.Count {
		for i := range sides {
			s := &sides[i]
			dir := filepath.Join(o.Out, "iterations", fmt.Sprintf("%s-%02d", s.name, it+1))
			args := []string{"run", "--count", "1", "--seed", fmt.Sprint(o.Seed + uint64(it)), "--out", dir, "--no-report"}
			if o.Scratch != "" {
				args = append(args, "--scratch", o.Scratch)
			}
			if optional["targets"] {
				args = append(args, "--targets=false")
			}
			if optional["driver-overhead"] {
				args = append(args, "--driver-overhead=false")
			}
			args = append(append(args, o.Run...), s.extra...)
			fmt.Fprintf(o.Log, "ab: iteration %d/%d %s: %s %s\n", it+1, o.Count, s.name, s.bin, shellJoin(args))
			t0 := time.Now()
			code, stderr, err := runChild(ctx, s.bin, args)
			if ctx.Err() != nil {
				partial = fmt.Sprintf("interrupted in iteration %d of %d (%s)", it+1, o.Count, s.name)
				break iterations
			}
			if err != nil {
				return nil, "", "", fmt.Errorf("%s binary %s: %w", s.name, s.bin, err)
			}
			r, rerr := results.Read(dir)
			if code != ExitOK || rerr != nil {
				return nil, "", "", fmt.Errorf("%w: %s iteration %d: %s %s exited %d (%v)\n%s", errABRun, s.name, it+1, s.bin, shellJoin(args), code, rerr, lastLines(stderr, 20))
			}
			fmt.Fprintf(o.Log, "ab: iteration %d/%d %s: %d results in %s\n", it+1, o.Count, s.name, len(r.Results), time.Since(t0).Round(time.Millisecond))
			s.runs = append(s.runs, r)
		}
	}
	var dirs [2]string
	for i, s := range sides {
		if len(s.runs) == 0 {
			return nil, "", "", fmt.Errorf("%w: %s: no iteration finished (%s)", errABRun, s.name, partial)
		}
		merged := mergeRuns(s.runs)
		if partial != "" {
			merged.Partial = partial
		}
		dirs[i] = filepath.Join(o.Out, s.name)
		if err := results.Write(dirs[i], merged); err != nil {
			return nil, "", "", err
		}
	}
	cmp, err = Compare(dirs[0], dirs[1], o.Compare)
	if err != nil {
		return nil, dirs[0], dirs[1], err
	}
	if partial != "" {
		return cmp, dirs[0], dirs[1], fmt.Errorf("%w: %s", errPartial, partial)
	}
	return cmp, dirs[0], dirs[1], nil
}

// mergeRuns makes one run of a side's iterations: the first one's header,
// every iteration's results numbered by iteration.
func mergeRuns(runs []*results.Run) *results.Run {
	m := *runs[0]
	m.Results = nil
	m.Skipped = nil
	m.Count = len(runs)
	m.Finished = runs[len(runs)-1].Finished
	for i, r := range runs {
		for _, res := range r.Results {
			res.Iteration = i
			m.Results = append(m.Results, res)
		}
		if i == 0 {
			m.Skipped = r.Skipped
		}
		if r.Partial != "" {
			m.Partial = r.Partial
		}
	}
	return &m
}

// runFlags lists the flags a binary's run command takes, from its help.
func runFlags(ctx context.Context, bin string) (map[string]bool, error) {
	cmd := exec.CommandContext(ctx, bin, "run", "-h")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("%w: %s: %v", errUsage, bin, err)
		}
	}
	flags := map[string]bool{}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "-"); ok {
			name, _, _ := strings.Cut(f, " ")
			flags[name] = true
		}
	}
	if !flags["out"] || !flags["seed"] {
		return nil, fmt.Errorf("%w: %s does not look like a bench binary (its run -h lists no --out and --seed)", errUsage, bin)
	}
	return flags, nil
}

// runChild runs a binary; on ctx's end it sends SIGINT, so that the child
// keeps what it finished, and kills it ten seconds later.
func runChild(ctx context.Context, bin string, args []string) (int, string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String(), nil
	}
	if err != nil {
		return -1, stderr.String(), err
	}
	return 0, stderr.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// buildRevision builds the bench binary of a git revision of the
// repository at repo into out: a detached git worktree at the revision, go
// build of pkg there (the commit stamped in), the worktree removed.
func buildRevision(ctx context.Context, repo, rev, pkg, out string, log io.Writer) (string, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(b)), nil
	}
	sha, err := git("rev-parse", "--verify", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%w: revision %q: %v", errUsage, rev, err)
	}
	tree, err := os.MkdirTemp("", "bench-ab-"+sha[:12]+"-*")
	if err != nil {
		return "", err
	}
	if err := os.Remove(tree); err != nil {
		return "", err
	}
	if _, err := git("worktree", "add", "--detach", tree, sha); err != nil {
		return "", fmt.Errorf("%w: %v", errABBuild, err)
	}
	defer func() {
		if _, err := git("worktree", "remove", "--force", tree); err != nil {
			fmt.Fprintf(log, "ab: %v\n", err)
			os.RemoveAll(tree)
		}
	}()
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(log, "ab: building %s (%s) %s\n", rev, sha[:12], pkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs,
		"-ldflags", "-X github.com/ordeal-dev/ordeal/results.buildCommit="+sha, pkg)
	cmd.Dir = tree
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: go build %s at %s: %v\n%s", errABBuild, pkg, rev, err, stderr.String())
	}
	return sha, nil
}

const abUsage = `usage: bench ab [flags] BASE HEAD

Runs two versions of the bench command on this machine, alternately:
each iteration runs BASE then HEAD with the same seed on the same scratch
file system, then the iterations of each side are merged and compared
(as bench compare). BASE and HEAD are git revisions, built with a git
worktree and go build, or binaries with --base-bin and --head-bin (then
give no revisions).

flags:
`

func cmdAB(ctx context.Context, args []string, stdio IO) int {
	fs := flag.NewFlagSet("bench ab", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	fs.Usage = func() { fmt.Fprint(stdio.Stderr, abUsage); fs.PrintDefaults() }
	baseBin := fs.String("base-bin", "", "the base binary (instead of a revision)")
	headBin := fs.String("head-bin", "", "the head binary (instead of a revision)")
	repo := fs.String("repo", ".", "the git repository the revisions are of")
	pkg := fs.String("pkg", "./cmd/bench", "the main package to build at each revision")
	out := fs.String("out", "", "output directory, new or empty (required)")
	force := fs.Bool("force", false, "replace an earlier run's files in --out")
	suite := fs.String("suite", "quick", "suite: quick, nightly or a YAML file")
	engines := fs.String("engines", "", "comma-separated engine globs; default all")
	wl := fs.String("workloads", "", "comma-separated workload globs; default all")
	count := fs.Int("count", 10, "iterations (each one run of base and one of head)")
	dur := fs.Duration("duration", 0, "override every workload's duration (> 0)")
	warm := fs.Duration("warmup", 0, "override every workload's warm-up (>= 0)")
	seed := fs.Uint64("seed", 1, "seed of the first iteration (iteration i runs seed+i on both sides)")
	scratch := fs.String("scratch", "", "where both sides' engines write (default the temporary directory)")
	var params, baseParams, headParams listFlag
	fs.Var(&params, "param", "engine parameter ENGINE:KEY=VALUE on both sides (repeatable)")
	fs.Var(&baseParams, "base-param", "engine parameter on the base side only (repeatable)")
	fs.Var(&headParams, "head-param", "engine parameter on the head side only (repeatable)")
	alpha := fs.Float64("alpha", 0.05, "false discovery rate (Benjamini-Hochberg across the deciding metrics)")
	minEffect := fs.String("min-effect", "5%", "smallest change of the medians that counts, with its unit")
	minSamples := fs.Int("min-samples", DefaultMinSamples, "fewest samples per side for a verdict; fewer is inconclusive (exit 3)")
	allowMissing := fs.Bool("allow-missing", false, "accept benchmarks of base that head lacks")
	metrics := fs.String("metrics", strings.Join(DefaultMetrics, ","), "comma-separated unit globs that decide a regression")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stdio.Stderr, "bench ab: "+format+"\n", a...)
		return ExitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	bins := *baseBin != "" || *headBin != ""
	switch {
	case bins && (*baseBin == "" || *headBin == "" || len(pos) != 0):
		return usageErr("give both --base-bin and --head-bin and no revisions, or two revisions")
	case !bins && len(pos) != 2:
		fs.Usage()
		return ExitUsage
	case *out == "":
		return usageErr("--out is required")
	case *count < 1 || *count > 1000:
		return usageErr("--count %d: want 1..1000", *count)
	case set["duration"] && *dur <= 0:
		return usageErr("--duration %v: want > 0", *dur)
	case set["warmup"] && *warm < 0:
		return usageErr("--warmup %v: want >= 0", *warm)
	case *minSamples < 1:
		return usageErr("--min-samples %d: want >= 1", *minSamples)
	}
	me, err := parsePercent(*minEffect)
	if err != nil {
		return usageErr("--min-effect %v", err)
	}
	for _, p := range append(append(append([]string{}, params...), baseParams...), headParams...) {
		if err := (paramFlag{}).Set(p); err != nil {
			return usageErr("--param %v", err)
		}
	}
	runArgs := []string{"--suite", *suite}
	if *engines != "" {
		runArgs = append(runArgs, "--engines", *engines)
	}
	if *wl != "" {
		runArgs = append(runArgs, "--workloads", *wl)
	}
	if set["duration"] {
		runArgs = append(runArgs, "--duration", dur.String())
	}
	if set["warmup"] {
		runArgs = append(runArgs, "--warmup", warm.String())
	}
	// Resolve the names here, once, before building or running anything.
	if _, _, err := Plan(RunOptions{Suite: *suite, Engines: *engines, Workloads: *wl}); err != nil {
		return usageErr("%v", err)
	}
	rd, err := openRunDir(*out, *force)
	if err != nil {
		return usageErr("%v", err)
	}
	defer rd.release()
	base, head := *baseBin, *headBin
	if !bins {
		binDir, err := os.MkdirTemp("", "bench-ab-bin-*")
		if err != nil {
			return usageErr("%v", err)
		}
		defer os.RemoveAll(binDir)
		base, head = filepath.Join(binDir, "base"), filepath.Join(binDir, "head")
		for i, side := range []string{base, head} {
			if _, err := buildRevision(ctx, *repo, pos[i], *pkg, side, stdio.Stderr); err != nil {
				fmt.Fprintf(stdio.Stderr, "bench ab: %v\n", err)
				return ExitUsage
			}
		}
	}
	withParams := func(ps []string) []string {
		var a []string
		for _, p := range ps {
			a = append(a, "--param", p)
		}
		return a
	}
	o := ABOptions{Base: base, Head: head, Out: *out, Count: *count, Seed: *seed, Scratch: *scratch, Log: stdio.Stderr,
		Run: append(runArgs, withParams(params)...), BaseRun: withParams(baseParams), HeadRun: withParams(headParams),
		Compare: CompareOptions{Alpha: *alpha, MinEffect: me, MinSamples: *minSamples, AllowMissing: *allowMissing,
			Metrics: strings.Split(*metrics, ",")}}
	start := time.Now()
	cmp, baseDir, headDir, err := ABRun(ctx, o)
	if cmp == nil {
		fmt.Fprintf(stdio.Stderr, "bench ab: %v\n", err)
		if ctx.Err() != nil {
			return ExitInconclusive
		}
		return ExitUsage
	}
	var text bytes.Buffer
	fmt.Fprintf(&text, "bench ab: %d iterations, base then head in each, in %s\nbase: %s (%s)\nhead: %s (%s)\n%s\nq < %g, minimum effect %s, at least %d samples per side\n\n",
		*count, time.Since(start).Round(time.Second), baseDir, labelOf(pos, 0, base), headDir, labelOf(pos, 1, head),
		cmp.Machine, cmp.Options.Alpha, fmtPercent(cmp.Options.MinEffect), cmp.Options.MinSamples)
	cmp.Print(&text, false)
	code := cmp.Exit()
	if err != nil {
		// Interrupted: what finished was compared; a regression found in
		// it stands, anything else has no verdict.
		fmt.Fprintf(&text, "PARTIAL: %v\n", err)
		if code != ExitRegression {
			code = ExitInconclusive
		}
	}
	verdict := map[int]string{ExitOK: "ok", ExitRegression: "FAIL", ExitInconclusive: "INCONCLUSIVE"}[code]
	fmt.Fprintf(&text, "verdict: %s\n", verdict)
	if err := results.WriteFileAtomic(filepath.Join(*out, "compare.txt"), text.Bytes()); err != nil {
		fmt.Fprintf(stdio.Stderr, "bench ab: %v\n", err)
		return ExitUsage
	}
	stdio.Stdout.Write(text.Bytes())
	return code
}

func labelOf(revs []string, i int, bin string) string {
	if len(revs) == 2 {
		return "revision " + revs[i]
	}
	return "binary " + bin
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
