// Package reports draws what benchmark runs measured: gonum/plot charts
// (PNG and SVG) of throughput per engine and workload, latency percentiles
// on a nines axis, throughput over time, size sweeps, the trend across
// stored runs and the targets met or missed, and one self-contained
// report.html that embeds them with the tables, the machine, the seed and
// the command that reproduces the run.
package reports

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/results"
	"github.com/ordeal-dev/ordeal/workloads"
)

// File names written by Write.
const (
	HTMLFile  = "report.html"
	ChartsDir = "charts"
)

// Options tune a report.
type Options struct {
	// Targets are checked against the newest run (default DEngineTargets).
	Targets []Target
}

// SortRuns orders runs oldest first.
func SortRuns(runs []*results.Run) {
	slices.SortStableFunc(runs, func(a, b *results.Run) int { return cmp.Compare(a.Started.UnixNano(), b.Started.UnixNano()) })
}

// Build renders every chart of the newest of runs (the others feed the
// trend) and returns them in report order.
func Build(runs []*results.Run, o Options) ([]*Chart, []TargetCheck, error) {
	if len(runs) == 0 {
		return nil, nil, fmt.Errorf("%w: no runs to report", results.ErrNoResults)
	}
	SortRuns(runs)
	run := runs[len(runs)-1]
	if o.Targets == nil {
		o.Targets = DEngineTargets
	}
	v := newView(run)
	checks := CheckTargets(run, o.Targets)
	sweeps, err := v.SweepCharts()
	if err != nil {
		return nil, nil, err
	}
	// In report order: family by family, each with its throughput, its
	// targets, its latency and series per workload, its sweeps, its trend.
	var charts []*Chart
	add := func(c *Chart, err error) error {
		if err != nil {
			return err
		}
		if c != nil {
			charts = append(charts, c)
		}
		return nil
	}
	for _, fam := range v.families() {
		if err := add(v.ThroughputChart(fam)); err != nil {
			return nil, nil, err
		}
		var famChecks []TargetCheck
		for _, c := range checks {
			if c.Target.Family == fam {
				famChecks = append(famChecks, c)
			}
		}
		if err := add(TargetsChart(famChecks, v.enginesOf(fam))); err != nil {
			return nil, nil, err
		}
		for _, w := range v.plainOf(fam) {
			if err := add(v.LatencyChart(w)); err != nil {
				return nil, nil, err
			}
		}
		for _, w := range v.plainOf(fam) {
			if err := add(v.SeriesChart(w)); err != nil {
				return nil, nil, err
			}
		}
		for _, c := range sweeps {
			if c.Family == fam {
				charts = append(charts, c)
			}
		}
		if err := add(TrendChart(runs, fam)); err != nil {
			return nil, nil, err
		}
	}
	return charts, checks, nil
}

// Write draws the report of runs (the newest is reported, all feed the
// trend) into dir: charts/NAME.png and .svg and report.html, each written
// atomically. It returns the path of report.html.
func Write(dir string, runs []*results.Run, o Options) (string, error) {
	charts, checks, err := Build(runs, o)
	if err != nil {
		return "", err
	}
	cdir := filepath.Join(dir, ChartsDir)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return "", err
	}
	for _, c := range charts {
		if err := results.WriteFileAtomic(filepath.Join(cdir, c.Name+".png"), c.PNG); err != nil {
			return "", err
		}
		if err := results.WriteFileAtomic(filepath.Join(cdir, c.Name+".svg"), c.SVG); err != nil {
			return "", err
		}
	}
	var page bytes.Buffer
	if err := HTML(&page, runs[len(runs)-1], len(runs), charts, checks); err != nil {
		return "", err
	}
	path := filepath.Join(dir, HTMLFile)
	if err := results.WriteFileAtomic(path, page.Bytes()); err != nil {
		return "", err
	}
	return path, nil
}

type row struct {
	Engine, Workload                      string
	N                                     int
	OpsPerSec, ItemsPerSec                string
	P50, P90, P99, P999, P9999, Max, Slip string
	Errors                                string
	OfBaseline                            string
	Bytes                                 string
	Low                                   bool
}

type opRow struct {
	Engine, Workload, Op string
	Ops                  int64
	OpsPerSec, Items     string
	P50, P99, P999, Max  string
	Errors               string
}

type page struct {
	Run       *results.Run
	Runs      int
	Charts    []chartView
	Rows      []row
	OpRows    []opRow
	Checks    []TargetCheck
	Missed    int
	Memory    string
	Duration  string
	Generated string
	Families  []familySection
}

// familySection is one family's part of the report: a table of its
// engines (rows) by its workloads, its targets, its charts.
type familySection struct {
	Name, Doc string
	// Columns are the family's plain workloads with their throughput
	// units.
	Columns []column
	Rows    []famRow
	Targets pivot
	Charts  []chartView
	// Baseline names the engine the fractions are of.
	Baseline string
}

type column struct{ Name, Unit string }

type famRow struct {
	Engine   string
	Swatch   template.CSS
	Baseline bool
	Cells    []pivotCell
}

// pivot is a table of engines (rows) by columns.
type pivot struct {
	Columns []column
	Rows    []pivotRow
}

type pivotRow struct {
	Name  string
	Cells []pivotCell
}

type pivotCell struct {
	Text, Sub, Title string
	Class            string // ok, bad, warn, na
}

// targetPivot lays target checks out with one row per engine and one
// column per target.
func targetPivot(checks []TargetCheck) pivot {
	var p pivot
	col, row := map[string]int{}, map[string]int{}
	for _, c := range checks {
		name := c.Target.Name + " " + c.Target.Text
		if _, ok := col[name]; !ok {
			col[name] = len(p.Columns)
			p.Columns = append(p.Columns, column{Name: c.Target.Name, Unit: c.Target.Text})
		}
		if _, ok := row[c.Engine]; !ok {
			row[c.Engine] = len(p.Rows)
			p.Rows = append(p.Rows, pivotRow{Name: c.Engine})
		}
	}
	for i := range p.Rows {
		p.Rows[i].Cells = make([]pivotCell, len(p.Columns))
	}
	for _, c := range checks {
		cell := pivotCell{Text: "n/a", Class: "na", Title: "not measured"}
		if c.Measured {
			cell = pivotCell{Text: "✓ " + c.ShortValue(), Class: "ok", Title: c.ValueText() + fmt.Sprintf(", headroom %.2f×", c.Headroom)}
			if !c.Met {
				cell.Text, cell.Class = "✗ "+c.ShortValue(), "bad"
			}
		}
		p.Rows[row[c.Engine]].Cells[col[c.Target.Name+" "+c.Target.Text]] = cell
	}
	return p
}

// familySections builds the per-family tables: each engine's median
// throughput on each plain workload, with its fraction of the family's
// baseline (red below 70%; above 105% marked, as the baseline should be
// the disk's limit).
func familySections(run *results.Run, charts []chartView, checks []TargetCheck) []familySection {
	v := newView(run)
	var out []familySection
	for _, fam := range v.families() {
		sec := familySection{Name: fam}
		base := ""
		if f, err := workloads.LookupFamily(fam); err == nil {
			sec.Doc = f.Doc()
			if f.Baseline() != "" {
				base = fam + "/" + f.Baseline()
				sec.Baseline = base
			}
		}
		ws := v.plainOf(fam)
		units := map[string]func(*results.Result) float64{}
		for _, w := range ws {
			var all []*results.Result
			for _, rs := range v.byKey[w] {
				all = append(all, rs...)
			}
			u, f := throughputOf(all)
			units[w] = f
			sec.Columns = append(sec.Columns, column{Name: w, Unit: u})
		}
		for _, e := range v.enginesOf(fam) {
			c := EngineColor(e)
			r, g, b, _ := c.RGBA()
			row := famRow{Engine: e, Baseline: e == base, Swatch: template.CSS(fmt.Sprintf("background:#%02x%02x%02x", r>>8, g>>8, b>>8))}
			for i, w := range ws {
				rs := v.byKey[w][e]
				if len(rs) == 0 {
					row.Cells = append(row.Cells, pivotCell{Text: "–", Class: "na", Title: "not run"})
					continue
				}
				val := median(rs, units[w])
				cell := pivotCell{Text: SI(val), Title: fmt.Sprintf("%s %s, median of %d", SI(val), sec.Columns[i].Unit, len(rs))}
				if ob := median(rs, func(r *results.Result) float64 { return r.OfBaseline }); ob > 0 && e != base {
					cell.Sub = pct(ob)
					cell.Title += fmt.Sprintf(", %s of %s", pct(ob), shortEngine(base))
					switch {
					case ob < 0.7:
						cell.Class = "bad"
					case ob > 1.05:
						cell.Class = "warn"
						cell.Title += ": above the baseline, which should be the disk's limit"
					}
				}
				row.Cells = append(row.Cells, cell)
			}
			sec.Rows = append(sec.Rows, row)
		}
		var famChecks []TargetCheck
		for _, c := range checks {
			if c.Target.Family == fam {
				famChecks = append(famChecks, c)
			}
		}
		sec.Targets = targetPivot(famChecks)
		for _, c := range charts {
			if c.Family == fam {
				sec.Charts = append(sec.Charts, c)
			}
		}
		out = append(out, sec)
	}
	return out
}

type chartView struct {
	*Chart
	URI template.URL
}

func pct(p float64) string { return fmt.Sprintf("%.0f%%", 100*p) }

// HTML writes the self-contained report page.
func HTML(w *bytes.Buffer, run *results.Run, nruns int, charts []*Chart, checks []TargetCheck) error {
	pg := page{Run: run, Runs: nruns, Checks: checks, Memory: Bytes(float64(run.Machine.MemoryBytes)),
		Duration: run.Finished.Sub(run.Started).Round(time.Second).String(), Generated: time.Now().UTC().Format(time.RFC3339)}
	for _, c := range charts {
		pg.Charts = append(pg.Charts, chartView{c, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(c.PNG))})
	}
	for _, c := range checks {
		if c.Measured && !c.Met {
			pg.Missed++
		}
	}
	pg.Families = familySections(run, pg.Charts, checks)
	for _, g := range run.Groups() {
		f := func(fn func(*results.Result) float64) float64 { return g.MedianOf(fn) }
		lat := func(fn func(results.Latency) int64) string {
			return Nanos(f(func(r *results.Result) float64 { return float64(fn(r.Latency)) }))
		}
		r0 := g.Results[0]
		rw := row{Engine: g.Engine, Workload: g.Workload, N: len(g.Results),
			OpsPerSec: SI(f(func(r *results.Result) float64 { return r.OpsPerSec })),
			P50:       lat(func(l results.Latency) int64 { return l.P50 }),
			P90:       lat(func(l results.Latency) int64 { return l.P90 }),
			P99:       lat(func(l results.Latency) int64 { return l.P99 }),
			P999:      lat(func(l results.Latency) int64 { return l.P999 }),
			P9999:     lat(func(l results.Latency) int64 { return l.P9999 }),
			Max:       lat(func(l results.Latency) int64 { return l.Max }),
			Bytes: Bytes(f(func(r *results.Result) float64 {
				return float64(r.BytesWritten+r.BytesRead) / max(1e-9, float64(r.ElapsedNs)/1e9)
			})) + "/s",
		}
		if r0.Items > 0 {
			rw.ItemsPerSec = SI(f(func(r *results.Result) float64 { return r.ItemsPerSec })) + " " + r0.ItemUnit + "/s"
		}
		if r0.Slip != nil {
			rw.Slip = Nanos(f(func(r *results.Result) float64 {
				if r.Slip == nil {
					return 0
				}
				return float64(r.Slip.P99)
			}))
		}
		var errs int64
		for _, r := range g.Results {
			errs += r.ErrorCount()
		}
		if errs > 0 {
			var kinds []string
			for k, n := range r0.Errors {
				kinds = append(kinds, fmt.Sprintf("%s:%d", k, n))
			}
			slices.Sort(kinds)
			rw.Errors = fmt.Sprintf("%d (%s)", errs, strings.Join(kinds, " "))
		}
		if ob := f(func(r *results.Result) float64 { return r.OfBaseline }); ob > 0 {
			rw.OfBaseline = pct(ob)
		}
		pg.Rows = append(pg.Rows, rw)
		if len(r0.PerOp) > 1 {
			for _, op := range r0.PerOp {
				or := opRow{Engine: g.Engine, Workload: g.Workload, Op: op.Op, Ops: op.Ops, OpsPerSec: SI(op.OpsPerSec),
					P50: Nanos(float64(op.Latency.P50)), P99: Nanos(float64(op.Latency.P99)), P999: Nanos(float64(op.Latency.P999)), Max: Nanos(float64(op.Latency.Max))}
				if op.Items > 0 {
					or.Items = SI(op.ItemsPerSec)
				}
				var n int64
				for _, v := range op.Errors {
					n += v
				}
				if n > 0 {
					or.Errors = fmt.Sprint(n)
				}
				pg.OpRows = append(pg.OpRows, or)
			}
		}
	}
	return pageTmpl.Execute(w, pg)
}

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"div": func(v float64) float64 { return v / 1e6 },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ordeal bench: {{.Run.Suite}} {{.Run.ID}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#1d2330;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dde;padding-bottom:4px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0;display:block;overflow-x:auto;max-width:100%}th,td{padding:3px 8px;border-bottom:1px solid #eef;text-align:right;white-space:nowrap}
th{background:#f3f5fa;position:sticky;top:0}td.l,th.l{text-align:left}
.meta td{text-align:left}.meta th{text-align:left;background:none}
.ok{color:#1e7d3a;font-weight:600}.bad{color:#c62828;font-weight:600}.na{color:#889}
code,pre{background:#f3f5fa;padding:2px 5px;border-radius:3px;font-size:12.5px}pre{padding:8px;overflow-x:auto}
figure{margin:16px 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:12.5px;color:#555;margin-top:4px}
.summary{display:flex;gap:24px;flex-wrap:wrap}.card{background:#f6f8fc;border-radius:6px;padding:10px 16px;min-width:160px}
.card b{display:block;font-size:20px}details{margin:8px 0}
.warn{color:#c26a00;font-weight:600}.unit{font-weight:normal;color:#667;font-size:11px}.frac{font-size:11px;color:#556}
td.bad .frac,td.warn .frac{color:inherit}tr.base td{background:#f7f7f7}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle}
table.fam td{min-width:64px}
</style></head><body>
<h1>ordeal bench — suite <code>{{.Run.Suite}}</code></h1>
<div>run <code>{{.Run.ID}}</code>, {{.Run.Started.Format "2006-01-02 15:04:05 MST"}}, took {{.Duration}}; {{len .Run.Results}} results, {{.Run.Count}} iteration(s) each</div>
{{if .Run.Partial}}<p class="bad">PARTIAL RUN: {{.Run.Partial}}. The results below are the steps that finished; compare treats what is missing as lost.</p>{{end}}

<h2>Summary</h2>
<div class="summary">
<div class="card">driver overhead<b>{{printf "%.0f" .Run.Driver.NsPerOp}} ns/op</b>no-op engine, 1 worker</div>
<div class="card">driver max rate<b>{{printf "%.2fM" (div .Run.Driver.MaxRate)}} ops/s</b>no-op engine, {{.Run.Driver.Workers}} workers</div>
<div class="card">targets<b>{{if .Missed}}<span class="bad">{{.Missed}} missed</span>{{else}}<span class="ok">all met</span>{{end}}</b>of {{len .Checks}} checked</div>
<div class="card">stored runs<b>{{.Runs}}</b>in the trend{{if lt .Runs 2}} (a trend needs two){{end}}</div>
</div>
<p>Families: {{range .Families}}<a href="#family-{{.Name}}">{{.Name}}</a> {{end}}</p>

{{range .Families}}<section id="family-{{.Name}}">
<h2>{{.Name}}</h2>
<p>{{.Doc}}.{{if .Baseline}} Each cell is an engine's median throughput on a workload, under it its share of <code>{{.Baseline}}</code> on the same workload: red below 70%, orange above 105% (an engine that makes every write durable should not beat the disk's limit; one that does not, as memory, may).{{end}}</p>
<table class="fam"><tr><th class="l">engine</th>{{range .Columns}}<th>{{.Name}}<br><span class="unit">{{.Unit}}</span></th>{{end}}</tr>
{{range .Rows}}<tr{{if .Baseline}} class="base"{{end}}><td class="l"><span class="sw" style="{{.Swatch}}"></span>{{.Engine}}{{if .Baseline}} <span class="unit">(baseline)</span>{{end}}</td>{{range .Cells}}<td class="{{.Class}}" title="{{.Title}}">{{.Text}}{{if .Sub}}<br><span class="frac">{{.Sub}}</span>{{end}}</td>{{end}}</tr>
{{end}}</table>
{{if .Targets.Rows}}<h3>Targets (d-engine LogStore)</h3>
<p>Latency targets are checked on the median (p50) of the operation's corrected latency; hover a cell for the p99 and the headroom.</p>
<table><tr><th class="l">engine</th>{{range .Targets.Columns}}<th>{{.Name}}<br><span class="unit">{{.Unit}}</span></th>{{end}}</tr>
{{range .Targets.Rows}}<tr><td class="l">{{.Name}}</td>{{range .Cells}}<td class="{{.Class}}" title="{{.Title}}">{{.Text}}</td>{{end}}</tr>{{end}}
</table>{{end}}
<details open><summary>charts ({{len .Charts}})</summary>
{{range .Charts}}<figure id="{{.Name}}"><h3>{{.Title}}</h3><img src="{{.URI}}" alt="{{.Title}}"><figcaption>{{.Caption}} (files: <code>charts/{{.Name}}.png</code>, <code>.svg</code>)</figcaption></figure>
{{end}}</details>
</section>
{{end}}

<h2>All results</h2>
<details><summary>every engine x workload</summary>
<p>Medians over iterations. Latency is corrected for coordinated omission (from each operation's intended start); in closed loops it equals the uncorrected latency.</p>
<table><tr><th class="l">engine</th><th class="l">workload</th><th>n</th><th>ops/s</th><th>items/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th><th>slip p99</th><th>I/O</th><th>of baseline</th><th class="l">errors</th></tr>
{{range .Rows}}<tr><td class="l">{{.Engine}}</td><td class="l">{{.Workload}}</td><td>{{.N}}</td><td>{{.OpsPerSec}}</td><td>{{.ItemsPerSec}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.P9999}}</td><td>{{.Max}}</td><td>{{.Slip}}</td><td>{{.Bytes}}</td><td>{{.OfBaseline}}</td><td class="l">{{.Errors}}</td></tr>{{end}}
</table></details>
{{if .OpRows}}<details><summary>per operation of mixed workloads (first iteration)</summary>
<table><tr><th class="l">engine</th><th class="l">workload</th><th class="l">op</th><th>ops</th><th>ops/s</th><th>items/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th></tr>
{{range .OpRows}}<tr><td class="l">{{.Engine}}</td><td class="l">{{.Workload}}</td><td class="l">{{.Op}}</td><td>{{.Ops}}</td><td>{{.OpsPerSec}}</td><td>{{.Items}}</td><td>{{.P50}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td><td>{{.Errors}}</td></tr>{{end}}
</table></details>{{end}}

{{if .Run.Skipped}}<h2>Skipped</h2><table><tr><th class="l">engine</th><th class="l">workload</th><th class="l">reason</th></tr>
{{range .Run.Skipped}}<tr><td class="l">{{.Engine}}</td><td class="l">{{.Workload}}</td><td class="l">{{.Reason}}</td></tr>{{end}}</table>{{end}}

<h2>Reproduce</h2>
<pre>{{.Run.Command}}</pre>
<table class="meta">
<tr><th>seed</th><td>{{.Run.Seed}}</td></tr>
<tr><th>git commit</th><td><code>{{.Run.Commit}}</code>{{if .Run.Dirty}} (with uncommitted changes){{end}}</td></tr>
<tr><th>Go</th><td>{{.Run.GoVersion}}</td></tr>
<tr><th>CPU</th><td>{{.Run.Machine.CPU}}, {{.Run.Machine.Cores}} cores</td></tr>
<tr><th>memory</th><td>{{.Memory}}</td></tr>
<tr><th>kernel</th><td>{{.Run.Machine.OS}}/{{.Run.Machine.Arch}} {{.Run.Machine.Kernel}}</td></tr>
<tr><th>file system</th><td>{{.Run.Machine.FileSystem}}</td></tr>
<tr><th>engines</th><td>{{range .Run.Engines}}{{.}} {{end}}</td></tr>
<tr><th>generated</th><td>{{.Generated}}</td></tr>
</table>
</body></html>
`))
