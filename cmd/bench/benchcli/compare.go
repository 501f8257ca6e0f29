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
	// Alpha is the significance level of the Mann-Whitney U test.
	Alpha float64
	// MinEffect is the smallest relative change of the medians that counts
	// (0.05 for 5%): a significant change smaller than this is noise that
	// happens to be consistent.
	MinEffect float64
	// Metrics are globs of the units that decide (others are shown only).
	Metrics []string
	// PerOp includes the per-operation lines of mixed workloads.
	PerOp bool
}

// DefaultMetrics are the units compare decides on by default: every
// throughput and the median and p99 latencies.
var DefaultMetrics = []string{"*/s", "p50-ns", "p99-ns"}

// Delta is one benchmark x unit compared.
type Delta struct {
	Name, Unit       string
	Old, New         benchmath.Summary
	OldN, NewN       int
	P                float64
	Change           float64 // New.Center/Old.Center - 1
	Better           int     // +1 higher is better, -1 lower, 0 unknown
	Gating           bool
	Significant      bool
	Regression       bool
	Improvement      bool
	Warnings         []string
	OnlyOld, OnlyNew bool
}

// Comparison is the outcome of compare.
type Comparison struct {
	Deltas                   []Delta
	Regressions, Improvement int
}

type sampleKey struct{ name, unit string }

type sampleSet struct {
	values map[sampleKey][]float64
	order  []sampleKey
	units  benchfmt.UnitMetadataMap
}

// readSamples reads a run directory, a results.json (its bench.txt beside
// it) or a bench.txt file.
func readSamples(p string) (*sampleSet, error) {
	file := p
	if st, err := os.Stat(p); err != nil {
		return nil, err
	} else if st.IsDir() {
		file = filepath.Join(p, results.BenchFile)
	} else if filepath.Base(p) == results.JSONFile {
		file = filepath.Join(filepath.Dir(p), results.BenchFile)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r := benchfmt.NewReader(bytes.NewReader(data), file)
	set := &sampleSet{values: map[sampleKey][]float64{}}
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, fmt.Errorf("%w: %v", errUsage, rec)
		case *benchfmt.Result:
			name := rec.Name.String()
			for _, v := range rec.Values {
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				k := sampleKey{name, unit}
				if _, ok := set.values[k]; !ok {
					set.order = append(set.order, k)
				}
				set.values[k] = append(set.values[k], val)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	set.units = r.Units()
	if len(set.order) == 0 {
		return nil, fmt.Errorf("%w: no benchmark results in %s", errUsage, file)
	}
	return set, nil
}

// Compare compares two runs.
func Compare(oldPath, newPath string, o CompareOptions) (*Comparison, error) {
	oldSet, err := readSamples(oldPath)
	if err != nil {
		return nil, err
	}
	newSet, err := readSamples(newPath)
	if err != nil {
		return nil, err
	}
	if o.Alpha <= 0 || o.Alpha >= 1 {
		return nil, fmt.Errorf("%w: alpha %g: want 0 < alpha < 1", errUsage, o.Alpha)
	}
	if len(o.Metrics) == 0 {
		o.Metrics = DefaultMetrics
	}
	th := &benchmath.Thresholds{CompareAlpha: o.Alpha}
	cmp := &Comparison{}
	keys := slices.Clone(oldSet.order)
	for _, k := range newSet.order {
		if _, ok := oldSet.values[k]; !ok {
			keys = append(keys, k)
		}
	}
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
		d := Delta{Name: k.name, Unit: k.unit, OnlyOld: !okNew, OnlyNew: !okOld}
		if !okOld || !okNew {
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
		c := benchmath.AssumeNothing.Compare(so, sn)
		d.P = c.P
		for _, w := range append(append(c.Warnings, d.Old.Warnings...), d.New.Warnings...) {
			d.Warnings = append(d.Warnings, w.Error())
		}
		switch {
		case d.Old.Center == d.New.Center:
			d.Change = 0
		case d.Old.Center == 0:
			d.Change = math.Inf(1)
		default:
			d.Change = d.New.Center/d.Old.Center - 1
		}
		d.Gating = matchUnit(o.Metrics, k.unit)
		d.Significant = c.P < o.Alpha && math.Abs(d.Change) >= o.MinEffect
		if d.Significant && d.Better != 0 {
			worse := d.Change*float64(d.Better) < 0
			d.Regression = worse && d.Gating
			d.Improvement = !worse && d.Gating
		}
		if d.Regression {
			cmp.Regressions++
		}
		if d.Improvement {
			cmp.Improvement++
		}
		cmp.Deltas = append(cmp.Deltas, d)
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

// Print writes the delta table.
func (c *Comparison) Print(w io.Writer, all bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\tunit\told median\t±CI\tnew median\t±CI\tdelta\tp\tn\tverdict\t")
	for _, d := range c.Deltas {
		if d.OnlyOld || d.OnlyNew {
			if all {
				side := "only in old"
				if d.OnlyNew {
					side = "only in new"
				}
				fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t%s\t\n", d.Name, d.Unit, side)
			}
			continue
		}
		verdict := "~"
		switch {
		case d.Regression:
			verdict = "REGRESSION"
		case d.Improvement:
			verdict = "improved"
		case d.Significant && !d.Gating:
			verdict = "changed (not gating)"
		case d.P < 1 && len(d.Warnings) > 0 && d.P >= 0.05:
			verdict = "~ (few samples)"
		}
		if !all && verdict == "~" && !d.Gating {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%d+%d\t%s\t\n", d.Name, d.Unit,
			fmtVal(d.Old.Center, d.Unit), d.Old.PctRangeString(), fmtVal(d.New.Center, d.Unit), d.New.PctRangeString(),
			fmtChange(d.Change), d.P, d.OldN, d.NewN, verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d significant regressions, %d improvements (Mann-Whitney U, minimum effect applied)\n", c.Regressions, c.Improvement)
}

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

// parsePercent reads "5%" or "0.05".
func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(t, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || v > 1000 {
			return 0, fmt.Errorf("%q: want a percentage", s)
		}
		return v / 100, nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v > 10 {
		return 0, fmt.Errorf("%q: want a percentage (5%%) or a fraction (0.05)", s)
	}
	return v, nil
}

func cmdCompare(args []string, stdio IO) int {
	fs := flag.NewFlagSet("bench compare", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	alpha := fs.Float64("alpha", 0.05, "significance level of the Mann-Whitney U test")
	minEffect := fs.String("min-effect", "5%", "smallest change of the medians that counts")
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
		fmt.Fprintln(stdio.Stderr, "usage: bench compare [--alpha 0.05] [--min-effect 5%] OLD NEW (run directories or bench.txt files)")
		return ExitUsage
	}
	me, err := parsePercent(*minEffect)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench compare: --min-effect %v\n", err)
		return ExitUsage
	}
	cmp, err := Compare(pos[0], pos[1], CompareOptions{Alpha: *alpha, MinEffect: me, Metrics: strings.Split(*metrics, ","), PerOp: *perOp})
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench compare: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(stdio.Stdout, "old: %s\nnew: %s\nalpha %g, minimum effect %.1f%%\n\n", pos[0], pos[1], *alpha, 100*me)
	cmp.Print(stdio.Stdout, *all)
	if cmp.Regressions > 0 {
		return ExitRegression
	}
	return ExitOK
}
