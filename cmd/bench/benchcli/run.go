package benchcli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ordeal-dev/ordeal/results"
	"github.com/ordeal-dev/ordeal/workloads"
)

// RunOptions selects and tunes a suite run.
type RunOptions struct {
	// Suite is "quick", "nightly" or a suite file.
	Suite string
	// Engines and Workloads are comma-separated globs ("raftlog/*",
	// "file,pebble", "append*"); a glob without a slash matches the name
	// within the family too. Empty means all.
	Engines   string
	Workloads string
	// Count is how many times each engine x workload runs.
	Count int
	// Duration and Warmup override every workload's, when > 0.
	Duration time.Duration
	Warmup   time.Duration
	Seed     uint64
	// Scratch is where engines write (a temporary directory below it per
	// run); default os.TempDir().
	Scratch string
	// EngineParams are per-engine parameters, by family/name.
	EngineParams map[string]map[string]string
	// OverheadDuration is how long the driver-overhead measurement runs
	// (default 300ms; negative skips it).
	OverheadDuration time.Duration
	// Command is recorded as the command that reproduces the run.
	Command string
	// ID names the run (default: its start time and the suite's name).
	ID string
	// Log receives one line per step when Progress is nil.
	Log *slog.Logger
	// Progress, if set, draws a progress bar.
	Progress io.Writer
}

// step is one engine x workload x iteration.
type step struct {
	spec      *workloads.Spec
	engine    string // family/name
	iteration int
}

// Plan resolves a suite, the filters and overrides into the specs and
// engines to run.
func Plan(o RunOptions) (*workloads.Suite, []string, error) {
	suite, err := workloads.LoadSuite(o.Suite)
	if err != nil {
		return nil, nil, err
	}
	var specs []workloads.Spec
	for _, s := range suite.Workloads {
		if !matchAny(o.Workloads, s.Name, s.Base) {
			continue
		}
		if o.Duration > 0 {
			s.Duration = workloads.Duration(o.Duration)
		}
		if o.Warmup > 0 {
			s.Warmup = workloads.Duration(o.Warmup)
		}
		specs = append(specs, s)
	}
	var wnames []string
	for _, s := range suite.Workloads {
		wnames = append(wnames, s.Name, s.Base)
	}
	if bad := unmatched(o.Workloads, wnames); len(bad) > 0 {
		return nil, nil, fmt.Errorf("%w: --workloads: no workload of suite %s is named %s (see bench list)", errUsage, suite.Name, strings.Join(bad, ", "))
	}
	if bad := unmatched(o.Engines, workloads.EngineNames()); len(bad) > 0 {
		return nil, nil, fmt.Errorf("%w: --engines: no engine is named %s (registered: %v)", errUsage, strings.Join(bad, ", "), workloads.EngineNames())
	}
	if len(specs) == 0 {
		return nil, nil, fmt.Errorf("%w: no workload of suite %s matches %q", errUsage, suite.Name, o.Workloads)
	}
	suite.Workloads = specs
	families := map[string]bool{}
	for _, s := range specs {
		families[s.Family] = true
	}
	var engines []string
	for _, e := range workloads.EngineNames() {
		fam, _, _ := strings.Cut(e, "/")
		if fam == workloads.NoopFamily && !families[fam] {
			continue
		}
		if families[fam] && matchAny(o.Engines, e, "") {
			engines = append(engines, e)
		}
	}
	if len(engines) == 0 {
		return nil, nil, fmt.Errorf("%w: no engine matches %q (registered: %v)", errUsage, o.Engines, workloads.EngineNames())
	}
	return suite, engines, nil
}

// unmatched returns the comma-separated globs that match none of names
// (or the part of a name after its family).
func unmatched(globs string, names []string) []string {
	var bad []string
	for g := range strings.SplitSeq(globs, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if _, err := path.Match(g, ""); err != nil {
			bad = append(bad, fmt.Sprintf("%q (%v)", g, err))
			continue
		}
		if !slices.ContainsFunc(names, func(n string) bool { return n != "" && matchAny(g, n, "") }) {
			bad = append(bad, fmt.Sprintf("%q", g))
		}
	}
	return bad
}

// matchAny reports whether name (or alt, or the part of name after the
// family) matches one of the comma-separated globs; empty globs match all.
func matchAny(globs, name, alt string) bool {
	if strings.TrimSpace(globs) == "" {
		return true
	}
	_, short, _ := strings.Cut(name, "/")
	for g := range strings.SplitSeq(globs, ",") {
		g = strings.TrimSpace(g)
		for _, n := range []string{name, alt, short} {
			if n == "" {
				continue
			}
			if ok, _ := path.Match(g, n); ok {
				return true
			}
		}
	}
	return false
}

// RunSuite runs a suite and returns what it measured. It does not write
// anything but the engines' scratch files, which it removes.
func RunSuite(ctx context.Context, o RunOptions) (*results.Run, error) {
	if o.Count < 1 {
		o.Count = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	suite, engines, err := Plan(o)
	if err != nil {
		return nil, err
	}
	scratchRoot := o.Scratch
	if scratchRoot == "" {
		scratchRoot = os.TempDir()
	}
	if err := os.MkdirAll(scratchRoot, 0o755); err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(scratchRoot, "ordeal-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)

	commit, dirty := results.GitCommit()
	run := &results.Run{
		Schema: results.SchemaVersion, Started: time.Now().UTC(), Command: o.Command,
		Machine: results.CollectMachine(scratch), GoVersion: runtime.Version(),
		Commit: commit, Dirty: dirty, Seed: o.Seed, Suite: suite.Name, Count: o.Count,
		Engines: engines, Specs: suite.Workloads,
	}
	run.ID = o.ID
	if run.ID == "" {
		run.ID = RunID(run.Started, suite.Name)
	}
	if run.Machine.FileSystem == "tmpfs" {
		o.Log.Warn("the scratch directory is on tmpfs: fsync costs nothing there, use --scratch on a disk", "dir", scratch)
	}

	if o.OverheadDuration >= 0 {
		d := o.OverheadDuration
		if d == 0 {
			d = 300 * time.Millisecond
		}
		ov, err := workloads.MeasureOverhead(ctx, workloads.Duration(d), runtime.GOMAXPROCS(0))
		if err != nil {
			if ctx.Err() != nil {
				run.Partial = "interrupted while measuring the driver's overhead"
				return run, ctx.Err()
			}
			return nil, fmt.Errorf("driver overhead: %w", err)
		}
		run.Driver = ov
		o.Log.Info("driver", "ns_per_op", fmt.Sprintf("%.0f", ov.NsPerOp), "max_rate", fmt.Sprintf("%.0f", ov.MaxRate), "workers", ov.Workers)
	}

	var steps []step
	for it := range o.Count {
		for i := range suite.Workloads {
			s := &suite.Workloads[i]
			for _, e := range engines {
				fam, name, _ := strings.Cut(e, "/")
				if fam != s.Family {
					continue
				}
				f, err := workloads.LookupFamily(fam)
				if err != nil {
					return nil, err
				}
				if !f.Supports(name, s) {
					if it == 0 {
						run.Skipped = append(run.Skipped, results.Skip{Engine: e, Workload: s.Name, Reason: "the engine cannot run this mix"})
					}
					continue
				}
				steps = append(steps, step{spec: s, engine: e, iteration: it})
			}
		}
	}
	var bar *progressbar.ProgressBar
	if o.Progress != nil {
		bar = progressbar.NewOptions(len(steps), progressbar.OptionSetWriter(o.Progress), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true), progressbar.OptionFullWidth(),
			progressbar.OptionSetDescription("bench"), progressbar.OptionClearOnFinish())
	}
	failed := map[string]bool{} // a pair that failed once is not retried
	interrupted := func(err error, done int) (*results.Run, error) {
		run.Partial = fmt.Sprintf("interrupted after %d of %d steps", done, len(steps))
		run.ComputeBaselines()
		run.Finished = time.Now().UTC()
		return run, err
	}
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return interrupted(err, i)
		}
		key := st.engine + " " + st.spec.Name
		if failed[key] {
			continue
		}
		_, name, _ := strings.Cut(st.engine, "/")
		if bar != nil {
			bar.Describe(fmt.Sprintf("%-18s %-22s #%d", st.engine, st.spec.Name, st.iteration+1))
		}
		dir := filepath.Join(scratch, fmt.Sprintf("%d", i))
		out, err := workloads.Run(ctx, st.spec, name, workloads.Config{
			Seed: o.Seed + uint64(st.iteration), Dir: dir, EngineParams: o.EngineParams[st.engine],
			ProbeDuration:  max(100*time.Millisecond, time.Duration(st.spec.Duration)/2),
			SeriesInterval: seriesInterval(time.Duration(st.spec.Duration)),
		})
		os.RemoveAll(dir)
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx.Err(), i)
			}
			failed[key] = true
			run.Skipped = append(run.Skipped, results.Skip{Engine: st.engine, Workload: st.spec.Name, Reason: err.Error()})
			o.Log.Error("run failed", "engine", st.engine, "workload", st.spec.Name, "err", err)
			if bar != nil {
				_ = bar.Add(1)
			}
			continue
		}
		r := results.FromOutcome(out, st.iteration)
		run.Results = append(run.Results, r)
		if bar != nil {
			_ = bar.Add(1)
		} else {
			args := []any{"engine", st.engine, "workload", st.spec.Name, "iteration", st.iteration + 1,
				"ops/s", fmt.Sprintf("%.0f", r.OpsPerSec), "p99", time.Duration(r.Latency.P99).String()}
			if r.Items > 0 {
				args = append(args, r.ItemUnit+"/s", fmt.Sprintf("%.0f", r.ItemsPerSec))
			}
			if n := r.ErrorCount(); n > 0 {
				args = append(args, "errors", n)
			}
			o.Log.Info(fmt.Sprintf("[%d/%d]", i+1, len(steps)), args...)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	run.ComputeBaselines()
	run.Finished = time.Now().UTC()
	if len(run.Results) == 0 {
		return run, fmt.Errorf("bench: nothing ran (%d skipped)", len(run.Skipped))
	}
	return run, nil
}

// RunID names a run by its start time and suite: 20260102-150405-quick.
func RunID(started time.Time, suite string) string {
	return started.UTC().Format("20060102-150405") + "-" + sanitize(suite)
}

// seriesInterval keeps about ten points or more in a short run's series.
func seriesInterval(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return time.Second
	}
	return 100 * time.Millisecond
}

func sanitize(s string) string {
	s = filepath.Base(s)
	s = strings.TrimSuffix(s, filepath.Ext(s))
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// sortedKeys is a small helper for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
