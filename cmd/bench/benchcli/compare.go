package benchcli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"

	"github.com/ordeal-dev/ordeal/results"
)

// CompareOptions tune the regression decision.
type CompareOptions struct {
	// Alpha is the false discovery rate: the Mann-Whitney p-values of the
	// gating metrics are adjusted by Benjamini-Hochberg across every
	// benchmark compared, and a change counts when its q-value is below
	// Alpha.
	Alpha float64
	// MinEffect is the smallest relative change of the medians that counts
	// (0.05 for 5%): a significant change smaller than this is noise that
	// happens to be consistent.
	MinEffect float64
	// MinSamples is the fewest samples per side a comparison needs for a
	// verdict (default DefaultMinSamples); with fewer, or with sizes whose
	// smallest possible p-value is not below Alpha, it is inconclusive.
	MinSamples int
	// AllowMissing accepts benchmarks of OLD that NEW lacks; by default
	// each is a failure.
	AllowMissing bool
	// AllowMachineMismatch compares runs whose machine fingerprints differ
	// (or are unknown); by default that is refused.
	AllowMachineMismatch bool
	// Metrics are globs of the units that decide (others are shown only).
	Metrics []string
	// PerOp includes the per-operation lines of mixed workloads.
	PerOp bool
}

// DefaultMinSamples is the default of CompareOptions.MinSamples: five per
// side, where the exact two-sided U test can reach p = 0.008.
const DefaultMinSamples = 5

// DefaultMetrics are the units compare decides on by default: every
// throughput and the median and p99 latencies.
var DefaultMetrics = []string{"*/s", "p50-ns", "p99-ns"}

// Delta is one benchmark x unit compared.
type Delta struct {
	Name, Unit string
	Old, New   benchmath.Summary
	OldN, NewN int
	// P is the two-sided Mann-Whitney p-value, Q the Benjamini-Hochberg
	// adjusted one (gating metrics only; 1 otherwise).
	P, Q        float64
	Exact       bool
	Change      float64 // New.Center/Old.Center - 1
	Better      int     // +1 higher is better, -1 lower, 0 unknown
	Gating      bool
	Significant bool
	Regression  bool
	Improvement bool
	// Insufficient is set when a side has fewer samples than the minimum,
	// or sizes that cannot reach significance: no verdict.
	Insufficient     bool
	OnlyOld, OnlyNew bool
}

// Comparison is the outcome of compare.
type Comparison struct {
	Deltas                   []Delta
	Regressions, Improvement int
	// Missing counts gating metrics of OLD absent from NEW; Insufficient
	// the gating comparisons without enough samples.
	Missing, Insufficient int
	Options               CompareOptions
	// Machine says whether the two runs share a machine fingerprint, or
	// how they differ when AllowMachineMismatch let them through.
	Machine string
}

// Exit is the comparison's exit code: a regression, or a benchmark lost
// without AllowMissing, is a failure (1); otherwise too few samples
// anywhere is inconclusive (3); else 0.
func (c *Comparison) Exit() int {
	switch {
	case c.Regressions > 0 || (c.Missing > 0 && !c.Options.AllowMissing):
		return ExitRegression
	case c.Insufficient > 0:
		return ExitInconclusive
	}
	return ExitOK
}

type sampleKey struct{ name, unit string }

type sampleSet struct {
	values map[sampleKey][]float64
	order  []sampleKey
	units  benchfmt.UnitMetadataMap
	// fingerprint is the machine's (from results.json beside the file,
	// else bench.txt's machine line; "" if neither says); machine the
	// full description when results.json is there.
	fingerprint string
	machine     *results.Machine
}

// benchFileOf returns the bench.txt of a run directory, of a results.json
// path, or the path itself.
func benchFileOf(p string) (string, error) {
	st, err := os.Stat(p)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %v", errUsage, err)
	case st.IsDir():
		return filepath.Join(p, results.BenchFile), nil
	case filepath.Base(p) == results.JSONFile:
		return filepath.Join(filepath.Dir(p), results.BenchFile), nil
	}
	return p, nil
}

// readSamples reads a run directory, a results.json (its bench.txt beside
// it) or a bench.txt file. A file cut short is an error: it must end with
// a newline and with results.EndMarker giving the number of benchmark
// lines (or, for a file written before the marker, agree with the
// results.json beside it), and every line of one benchmark must carry the
// same units.
func readSamples(p string) (*sampleSet, error) {
	file, err := benchFileOf(p)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := checkComplete(file, data); err != nil {
		return nil, err
	}
	r := benchfmt.NewReader(bytes.NewReader(data), file)
	set := &sampleSet{values: map[sampleKey][]float64{}}
	unitsOf := map[string]string{} // benchmark -> its units, in line order
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, fmt.Errorf("%w: %v", errUsage, rec)
		case *benchfmt.Result:
			name := rec.Name.String()
			var units []string
			for _, v := range rec.Values {
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				units = append(units, unit)
				k := sampleKey{name, unit}
				if _, ok := set.values[k]; !ok {
					set.order = append(set.order, k)
				}
				set.values[k] = append(set.values[k], val)
			}
			if fp := rec.GetConfig(strings.TrimSuffix(results.MachineKey, ": ")); fp != "" {
				if set.fingerprint != "" && set.fingerprint != fp {
					return nil, fmt.Errorf("%w: %s mixes results of machines %s and %s", errUsage, file, set.fingerprint, fp)
				}
				set.fingerprint = fp
			}
			us := strings.Join(units, " ")
			if prev, ok := unitsOf[name]; ok && prev != us {
				_, line := rec.Pos()
				return nil, fmt.Errorf("%w: %s:%d: %s has units %q, an earlier line %q: the file is damaged or cut short",
					errTruncated, file, line, name, us, prev)
			}
			unitsOf[name] = us
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	set.units = r.Units()
	if len(set.order) == 0 {
		return nil, fmt.Errorf("%w: no benchmark results in %s", errUsage, file)
	}
	if run, err := results.Read(filepath.Join(filepath.Dir(file), results.JSONFile)); err == nil {
		set.machine = &run.Machine
		set.fingerprint = run.Machine.Fingerprint()
	}
	return set, nil
}

// checkMachines refuses two runs whose machine fingerprints differ or are
// unknown, unless o allows it; it returns what it found.
func checkMachines(oldSet, newSet *sampleSet, o CompareOptions) (string, error) {
	var problem string
	switch {
	case oldSet.fingerprint == "" || newSet.fingerprint == "":
		problem = fmt.Sprintf("machine unknown (old %q, new %q): a bench.txt without a machine line and no results.json beside it",
			oldSet.fingerprint, newSet.fingerprint)
	case oldSet.fingerprint != newSet.fingerprint:
		problem = fmt.Sprintf("machines differ (fingerprint %s vs %s)", oldSet.fingerprint, newSet.fingerprint)
		if oldSet.machine != nil && newSet.machine != nil {
			problem += ": " + strings.Join(oldSet.machine.Differences(*newSet.machine), ", ")
		}
	default:
		return "same machine (fingerprint " + oldSet.fingerprint + ")", nil
	}
	if !o.AllowMachineMismatch {
		return "", fmt.Errorf("%w: %s; runs of different machines say nothing about the code (run bench ab on one machine, or --allow-machine-mismatch)", errMachine, problem)
	}
	return "WARNING: " + problem + " (allowed by --allow-machine-mismatch)", nil
}

// checkComplete checks that a bench.txt was not cut short.
func checkComplete(file string, data []byte) error {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return fmt.Errorf("%w: %s does not end with a newline: cut short mid-line", errTruncated, file)
	}
	lines := benchLines(data)
	trimmed := bytes.TrimRight(data, "\n")
	last := trimmed[bytes.LastIndexByte(trimmed, '\n')+1:]
	if rest, ok := bytes.CutPrefix(last, []byte(results.EndMarker)); ok {
		want, err := strconv.Atoi(string(rest))
		if err != nil || want != lines {
			return fmt.Errorf("%w: %s holds %d benchmark lines, its end line says %s", errTruncated, file, lines, rest)
		}
		return nil
	}
	// A bench.txt written before the end line: check it against the
	// results.json beside it.
	run, err := results.Read(filepath.Join(filepath.Dir(file), results.JSONFile))
	if err != nil {
		return fmt.Errorf("%w: %s has no end line (%q) and no results.json beside it to check it against: it may be cut short", errTruncated, file, results.EndMarker)
	}
	var b bytes.Buffer
	if err := results.WriteBench(&b, run); err != nil {
		return err
	}
	if want := benchLines(b.Bytes()); want != lines {
		return fmt.Errorf("%w: %s holds %d benchmark lines, the results.json beside it %d", errTruncated, file, lines, want)
	}
	return nil
}

func benchLines(data []byte) int {
	n := 0
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("Benchmark")) {
			n++
		}
	}
	return n
}

// Compare compares two runs.
func Compare(oldPath, newPath string, o CompareOptions) (*Comparison, error) {
	if o.Alpha <= 0 || o.Alpha >= 1 {
		return nil, fmt.Errorf("%w: alpha %g: want 0 < alpha < 1", errUsage, o.Alpha)
	}
	if o.MinSamples == 0 {
		o.MinSamples = DefaultMinSamples
	}
	if o.MinSamples < 1 {
		return nil, fmt.Errorf("%w: minimum samples %d: want >= 1", errUsage, o.MinSamples)
	}
	if o.MinEffect < 0 || math.IsNaN(o.MinEffect) {
		return nil, fmt.Errorf("%w: minimum effect %g: want >= 0", errUsage, o.MinEffect)
	}
	oldSet, err := readSamples(oldPath)
	if err != nil {
		return nil, err
	}
	newSet, err := readSamples(newPath)
	if err != nil {
		return nil, err
	}
	machine, err := checkMachines(oldSet, newSet, o)
	if err != nil {
		return nil, err
	}
	if len(o.Metrics) == 0 {
		o.Metrics = DefaultMetrics
	}
	th := &benchmath.Thresholds{CompareAlpha: o.Alpha}
	cmp := &Comparison{Options: o, Machine: machine}
	keys := slices.Clone(oldSet.order)
	for _, k := range newSet.order {
		if _, ok := oldSet.values[k]; !ok {
			keys = append(keys, k)
		}
	}
	var tested []int // indices into cmp.Deltas of the gating tests, for BH
	for _, k := range keys {
		perOp := strings.Contains(k.name, "/op=")
		if perOp && !o.PerOp {
			continue
		}
		if k.unit == "ns/op" {
			continue // the inverse of ops/s
		}
		ov, okOld := oldSet.values[k]
		nv, okNew := newSet.values[k]
		d := Delta{Name: k.name, Unit: k.unit, OnlyOld: !okNew, OnlyNew: !okOld, P: 1, Q: 1,
			Gating: matchUnit(o.Metrics, k.unit)}
		if !okOld || !okNew {
			if d.OnlyOld && d.Gating {
				cmp.Missing++
			}
			cmp.Deltas = append(cmp.Deltas, d)
			continue
		}
		d.Better = newSet.units.GetBetter(k.unit)
		if d.Better == 0 {
			d.Better = oldSet.units.GetBetter(k.unit)
		}
		so := benchmath.NewSample(slices.Clone(ov), th)
		sn := benchmath.NewSample(slices.Clone(nv), th)
		d.Old = benchmath.AssumeNothing.Summary(so, 0.95)
		d.New = benchmath.AssumeNothing.Summary(sn, 0.95)
		d.OldN, d.NewN = len(ov), len(nv)
		u := MannWhitney(ov, nv)
		d.P, d.Q, d.Exact = u.P, u.P, u.Exact
		switch {
		case d.Old.Center == d.New.Center:
			d.Change = 0
		case d.Old.Center == 0:
			d.Change = math.Inf(1)
		default:
			d.Change = d.New.Center/d.Old.Center - 1
		}
		d.Insufficient = d.OldN < o.MinSamples || d.NewN < o.MinSamples || minExactP(d.OldN, d.NewN) >= o.Alpha
		if d.Gating {
			if d.Insufficient {
				cmp.Insufficient++
			} else {
				tested = append(tested, len(cmp.Deltas))
			}
		}
		cmp.Deltas = append(cmp.Deltas, d)
	}
	ps := make([]float64, len(tested))
	for i, j := range tested {
		ps[i] = cmp.Deltas[j].P
	}
	for i, q := range BenjaminiHochberg(ps) {
		d := &cmp.Deltas[tested[i]]
		d.Q = q
		d.Significant = q < o.Alpha && math.Abs(d.Change) >= o.MinEffect
		if d.Significant && d.Better != 0 {
			worse := d.Change*float64(d.Better) < 0
			d.Regression, d.Improvement = worse, !worse
		}
		if d.Regression {
			cmp.Regressions++
		}
		if d.Improvement {
			cmp.Improvement++
		}
	}
	return cmp, nil
}

func matchUnit(globs []string, unit string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, unit); ok || g == unit {
			return true
		}
	}
	return false
}

// Print writes the delta table: with all, every metric; otherwise the
// gating ones and every change.
func (c *Comparison) Print(w io.Writer, all bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\tunit\told median\t±CI\tnew median\t±CI\tdelta\tp\tq\tn\tverdict\t")
	for _, d := range c.Deltas {
		if d.OnlyOld || d.OnlyNew {
			if d.OnlyOld && d.Gating || all {
				side := "MISSING in new"
				if d.OnlyOld && c.Options.AllowMissing || !d.Gating {
					side = "missing in new (allowed)"
				}
				if d.OnlyNew {
					side = "only in new"
				}
				fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t%s\t\n", d.Name, d.Unit, side)
			}
			continue
		}
		verdict := "~"
		switch {
		case d.Regression:
			verdict = "REGRESSION"
		case d.Improvement:
			verdict = "improved"
		case d.Insufficient && d.Gating:
			verdict = "insufficient samples"
		case d.Insufficient:
			verdict = "~ (few samples)"
		case !d.Gating && d.P < c.Options.Alpha && math.Abs(d.Change) >= c.Options.MinEffect:
			verdict = "changed (not gating)"
		}
		if !all && verdict == "~" && !d.Gating {
			continue
		}
		q := fmt.Sprintf("%.3g", d.Q)
		if !d.Gating || d.Insufficient {
			q = ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3g\t%s\t%d+%d\t%s\t\n", d.Name, d.Unit,
			fmtVal(d.Old.Center, d.Unit), d.Old.PctRangeString(), fmtVal(d.New.Center, d.Unit), d.New.PctRangeString(),
			fmtChange(d.Change), d.P, q, d.OldN, d.NewN, verdict)
	}
	tw.Flush()
	o := c.Options
	fmt.Fprintf(w, "\n%d significant regressions, %d improvements (two-sided Mann-Whitney U, Benjamini-Hochberg q < %g, minimum effect %s)\n",
		c.Regressions, c.Improvement, o.Alpha, fmtPercent(o.MinEffect))
	if c.Missing > 0 {
		verb := "FAIL"
		if o.AllowMissing {
			verb = "allowed by --allow-missing"
		}
		fmt.Fprintf(w, "%d deciding metrics of old are missing in new: %s\n", c.Missing, verb)
	}
	if c.Insufficient > 0 {
		fmt.Fprintf(w, "insufficient samples: %d deciding comparisons have fewer than %d samples on a side, or too few to reach q < %g at all: no verdict on them (inconclusive)\n",
			c.Insufficient, o.MinSamples, o.Alpha)
	}
}

func fmtPercent(v float64) string { return strconv.FormatFloat(100*v, 'g', 4, 64) + "%" }

func fmtChange(c float64) string {
	if math.IsInf(c, 0) {
		return "+inf"
	}
	return fmt.Sprintf("%+.1f%%", 100*c)
}

func fmtVal(v float64, unit string) string {
	if strings.HasSuffix(unit, "-ns") {
		return fmtNs(v)
	}
	switch {
	case math.Abs(v) >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case math.Abs(v) >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func fmtNs(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 2, 64) + "s"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "ms"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "µs"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ns"
}

// parsePercent reads a percentage with its unit: "5%".
func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	p, ok := strings.CutSuffix(t, "%")
	if !ok {
		return 0, fmt.Errorf("%q: give the unit, as in 5%%", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
	if err != nil || v < 0 || v > 1000 || math.IsNaN(v) {
		return 0, fmt.Errorf("%q: want a percentage from 0%% to 1000%%", s)
	}
	return v / 100, nil
}

func cmdCompare(args []string, stdio IO) int {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	alpha := fs.Float64("alpha", 0.05, "false discovery rate (Benjamini-Hochberg across the deciding metrics)")
	minEffect := fs.String("min-effect", "5%", "smallest change of the medians that counts, with its unit")
	minSamples := fs.Int("min-samples", DefaultMinSamples, "fewest samples per side for a verdict; fewer is inconclusive (exit 3)")
	allowMissing := fs.Bool("allow-missing", false, "accept benchmarks of OLD that NEW lacks (default: a failure)")
	allowMachine := fs.Bool("allow-machine-mismatch", false, "compare runs whose machine fingerprints differ (default: refused, exit 2)")
	metrics := fs.String("metrics", strings.Join(DefaultMetrics, ","), "comma-separated unit globs that decide a regression")
	perOp := fs.Bool("per-op", false, "also compare each operation of mixed workloads")
	all := fs.Bool("all", false, "print every metric, not only the deciding ones and the changes")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if len(pos) != 2 {
		fmt.Fprintln(stdio.Stderr, "usage: bench compare [--alpha 0.05] [--min-effect 5%] [--min-samples 5] OLD NEW (run directories or bench.txt files)")
		return ExitUsage
	}
	me, err := parsePercent(*minEffect)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench compare: --min-effect %v\n", err)
		return ExitUsage
	}
	if *minSamples < 1 {
		fmt.Fprintf(stdio.Stderr, "bench compare: --min-samples %d: want >= 1\n", *minSamples)
		return ExitUsage
	}
	o := CompareOptions{Alpha: *alpha, MinEffect: me, MinSamples: *minSamples, AllowMissing: *allowMissing, AllowMachineMismatch: *allowMachine,
		Metrics: strings.Split(*metrics, ","), PerOp: *perOp}
	return compareAndPrint(pos[0], pos[1], o, *all, stdio)
}

// compareAndPrint runs Compare, prints the table and returns the exit code.
func compareAndPrint(oldPath, newPath string, o CompareOptions, all bool, stdio IO) int {
	cmp, err := Compare(oldPath, newPath, o)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench compare: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(stdio.Stdout, "old: %s\nnew: %s\n%s\nq < %g, minimum effect %s, at least %d samples per side\n\n",
		oldPath, newPath, cmp.Machine, cmp.Options.Alpha, fmtPercent(cmp.Options.MinEffect), cmp.Options.MinSamples)
	cmp.Print(stdio.Stdout, all)
	code := cmp.Exit()
	switch code {
	case ExitRegression:
		fmt.Fprintln(stdio.Stdout, "verdict: FAIL")
	case ExitInconclusive:
		fmt.Fprintln(stdio.Stdout, "verdict: INCONCLUSIVE (insufficient samples)")
	default:
		fmt.Fprintln(stdio.Stdout, "verdict: ok")
	}
	return code
}
