package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/fnv"
	"image/color"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ordeal-dev/ordeal/results"
	"github.com/ordeal-dev/ordeal/workloads"
)

// Chart is one rendered figure.
type Chart struct {
	// Family is the engine family the chart belongs to ("" for none).
	Family  string
	Name    string // file name without extension
	Title   string
	Caption string
	PNG     []byte
	SVG     []byte
}

// palette gives each engine the same color in every chart and every run:
// a color per engine name (memory is the same green in every family, the
// baselines grey), distinct within each family; an engine it does not
// know gets one of the spare colors by a hash of its name.
type palette struct{}

var engineColors = map[string]color.RGBA{
	"physical": {0x55, 0x55, 0x55, 0xff}, "rawcopy": {0x55, 0x55, 0x55, 0xff}, "gomap": {0xa8, 0xa8, 0xa8, 0xff},
	"memory": {0x3c, 0x9a, 0x3c, 0xff}, "file": {0xd6, 0x27, 0x28, 0xff}, "raft-wal": {0x94, 0x67, 0xbd, 0xff},
	"raft-boltdb": {0x8c, 0x56, 0x4b, 0xff}, "bbolt": {0xff, 0x7f, 0x0e, 0xff}, "pebble": {0x1f, 0x77, 0xb4, 0xff},
	"segment": {0x17, 0xbe, 0xcf, 0xff}, "manager": {0xbc, 0xa0, 0x00, 0xff}, "acid": {0xe3, 0x4a, 0x9b, 0xff},
	"durable": {0x17, 0xbe, 0xcf, 0xff}, "noop": {0, 0, 0, 0xff},
}

var spareColors = []color.RGBA{
	{0x00, 0x5f, 0x73, 0xff}, {0xae, 0x20, 0x12, 0xff}, {0x0a, 0x93, 0x96, 0xff}, {0xee, 0x9b, 0x00, 0xff},
	{0x6a, 0x4c, 0x93, 0xff}, {0x1b, 0x43, 0x32, 0xff}, {0xbb, 0x3e, 0x03, 0xff}, {0x00, 0x30, 0x49, 0xff},
}

// EngineColor is an engine's color in every chart.
func EngineColor(engine string) color.Color {
	short := shortEngine(engine)
	if c, ok := engineColors[short]; ok {
		return c
	}
	h := fnv.New32a()
	h.Write([]byte(short))
	return spareColors[h.Sum32()%uint32(len(spareColors))]
}

func (palette) of(e string) color.Color { return EngineColor(e) }

const dpi = 110

// render draws a grid of plots (nil tiles stay empty) to PNG and SVG.
func render(plots [][]*plot.Plot, w, h vg.Length) (pngData, svgData []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reports: render: %v", r)
		}
	}()
	rows, cols := len(plots), len(plots[0])
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	draws := func(c vg.CanvasSizer) {
		dc := draw.New(c)
		canvases := plot.Align(plots, tiles, dc)
		for j := range plots {
			for i, p := range plots[j] {
				if p != nil {
					p.Draw(canvases[j][i])
				}
			}
		}
	}
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	draws(img)
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pb); err != nil {
		return nil, nil, err
	}
	svg := vgsvg.NewWith(vgsvg.UseWH(w, h))
	draws(svg)
	var sb bytes.Buffer
	if _, err := svg.WriteTo(&sb); err != nil {
		return nil, nil, err
	}
	return pb.Bytes(), sb.Bytes(), nil
}

// grid lays plots out in rows of cols.
func grid(ps []*plot.Plot, cols int) [][]*plot.Plot {
	cols = max(1, min(cols, len(ps)))
	var out [][]*plot.Plot
	for i := 0; i < len(ps); i += cols {
		row := make([]*plot.Plot, cols)
		copy(row, ps[i:min(i+cols, len(ps))])
		out = append(out, row)
	}
	return out
}

func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.TextStyle.Font.Size = vg.Points(9)
	p.Y.Label.TextStyle.Font.Size = vg.Points(9)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Y.Tick.Label.Font.Size = vg.Points(8)
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())
	return p
}

// siTicks labels a linear axis with k/M suffixes.
type siTicks struct{}

func (siTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = SI(ts[i].Value)
			if ts[i].Value == 0 {
				ts[i].Label = "0"
			}
		}
	}
	return ts
}

// durationTicks labels a log axis of nanoseconds with durations at powers
// of ten.
type durationTicks struct{}

func (durationTicks) Ticks(lo, hi float64) []plot.Tick {
	lo, hi = max(lo, 1), max(hi, 1)
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		ts = append(ts, plot.Tick{Value: v, Label: Nanos(v)})
		for k := 2.0; k < 10; k++ {
			ts = append(ts, plot.Tick{Value: v * k})
		}
	}
	return ts
}

// logCountTicks labels a log axis of counts at powers of ten.
type logCountTicks struct{}

func (logCountTicks) Ticks(lo, hi float64) []plot.Tick {
	lo, hi = max(lo, 1e-9), max(hi, 1e-9)
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		ts = append(ts, plot.Tick{Value: v, Label: SI(v)})
		for k := 2.0; k < 10; k++ {
			ts = append(ts, plot.Tick{Value: v * k})
		}
	}
	return ts
}

// legendRoom raises the top of a log Y axis so that a top legend of n
// entries sits above the data [lo, hi].
func legendRoom(p *plot.Plot, lo, hi float64, n int) {
	if lo <= 0 || hi <= 0 || n == 0 {
		return
	}
	if hi/lo < 10 {
		lo = hi / 10
	}
	f := min(0.6, 0.05*float64(n)+0.04)
	llo, lhi := math.Log10(lo), math.Log10(hi)
	top := (lhi - f*llo) / (1 - f)
	p.Y.Min, p.Y.Max = lo/1.3, math.Pow(10, top)
	p.Legend.Top = true
}

// yRange tracks the data range of a chart.
type yRange struct{ lo, hi float64 }

func newYRange() *yRange { return &yRange{lo: math.Inf(1)} }

func (r *yRange) add(xys plotter.XYs) {
	for _, xy := range xys {
		if xy.Y > 0 {
			r.lo, r.hi = min(r.lo, xy.Y), max(r.hi, xy.Y)
		}
	}
}

// ninesX maps a percentile to the "nines" axis OpenMessaging Benchmark
// uses: 0 at p0, 1 at p90, 2 at p99, 3 at p99.9, 4 at p99.99.
func ninesX(p float64) float64 { return -math.Log10(1 - p/100) }

var ninesTicks = plot.ConstantTicks{
	{Value: 0, Label: "p0"}, {Value: ninesX(50), Label: "p50"}, {Value: 1, Label: "p90"},
	{Value: 2, Label: "p99"}, {Value: 3, Label: "p99.9"}, {Value: 4, Label: "p99.99"},
}

// throughputOf picks what a workload's throughput chart shows: its item
// rate when the primary operation ran, else its operation rate.
func throughputOf(rs []*results.Result) (unit string, f func(*results.Result) float64) {
	for _, r := range rs {
		if r.Items > 0 && r.ItemUnit != "" && primaryShare(r) >= 0.5 {
			u := r.ItemUnit
			return u + "/s", func(r *results.Result) float64 { return r.ItemsPerSec }
		}
	}
	return "ops/s", func(r *results.Result) float64 { return r.OpsPerSec }
}

// primaryShare is the share of a result's operations that are primary
// (raftlog: appends).
func primaryShare(r *results.Result) float64 {
	fam, err := workloads.LookupFamily(r.Family)
	if err != nil || r.Ops == 0 {
		return 1
	}
	var n int64
	for _, info := range fam.Ops() {
		if op, ok := r.Op(info.Name); ok && info.Primary {
			n += op.Ops
		}
	}
	return float64(n) / float64(r.Ops)
}

// view indexes a run for the charts.
type view struct {
	run       *results.Run
	engines   []string                                // in the run's order
	workloads []string                                // in the suite's order
	byKey     map[string]map[string][]*results.Result // workload -> engine -> iterations
	spec      map[string]workloads.Spec
	pal       palette
}

func newView(run *results.Run) *view {
	v := &view{run: run, byKey: map[string]map[string][]*results.Result{}, spec: map[string]workloads.Spec{}}
	for _, s := range run.Specs {
		v.spec[s.Name] = s
		v.workloads = append(v.workloads, s.Name)
	}
	seen := map[string]bool{}
	for i := range run.Results {
		r := &run.Results[i]
		if v.byKey[r.Workload] == nil {
			v.byKey[r.Workload] = map[string][]*results.Result{}
			if !slices.Contains(v.workloads, r.Workload) {
				v.workloads = append(v.workloads, r.Workload)
			}
		}
		v.byKey[r.Workload][r.Engine] = append(v.byKey[r.Workload][r.Engine], r)
		if !seen[r.Engine] {
			seen[r.Engine] = true
		}
	}
	for _, e := range run.Engines {
		if seen[e] {
			v.engines = append(v.engines, e)
		}
	}
	return v
}

// plain lists the workloads that are not sweep points.
func (v *view) plain() []string {
	var out []string
	for _, w := range v.workloads {
		if len(v.spec[w].Labels) == 0 && len(v.byKey[w]) > 0 {
			out = append(out, w)
		}
	}
	return out
}

// families lists the families of the run's workloads, in the order
// raftlog, adapter, streams, tiered and then any other.
func (v *view) families() []string {
	seen := map[string]bool{}
	for _, w := range v.workloads {
		if len(v.byKey[w]) > 0 {
			seen[v.familyOf(w)] = true
		}
	}
	var out []string
	for _, f := range append([]string{"raftlog", "adapter", "streams", "tiered"}, slices.Sorted(maps.Keys(seen))...) {
		if seen[f] && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// familyOf is a workload's family.
func (v *view) familyOf(w string) string {
	if s, ok := v.spec[w]; ok && s.Family != "" {
		return s.Family
	}
	for _, rs := range v.byKey[w] {
		if len(rs) > 0 {
			return rs[0].Family
		}
	}
	return ""
}

// plainOf lists the plain workloads of one family.
func (v *view) plainOf(fam string) []string {
	var out []string
	for _, w := range v.plain() {
		if v.familyOf(w) == fam {
			out = append(out, w)
		}
	}
	return out
}

// enginesOf lists the engines that ran a workload of one family.
func (v *view) enginesOf(fam string) []string {
	var out []string
	for _, e := range v.engines {
		if strings.HasPrefix(e, fam+"/") {
			out = append(out, e)
		}
	}
	return out
}

func median(rs []*results.Result, f func(*results.Result) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	return results.Median(vs)
}

// ThroughputChart draws one panel per workload of a family: the median
// throughput of each engine as a bar with its value. When the values of a
// panel span ten times or more the axis is logarithmic (the bars start at
// the decade below the smallest), so that the slow engines do not vanish
// beside the in-memory ones.
func (v *view) ThroughputChart(fam string) (*Chart, error) {
	var ps []*plot.Plot
	engines := v.enginesOf(fam)
	for _, w := range v.plainOf(fam) {
		var names []string
		var full []string
		var vals []float64
		var all []*results.Result
		for _, e := range engines {
			all = append(all, v.byKey[w][e]...)
		}
		unit, f := throughputOf(all)
		for _, e := range engines {
			if rs := v.byKey[w][e]; len(rs) > 0 {
				if y := median(rs, f); y > 0 {
					names = append(names, shortEngine(e))
					full = append(full, e)
					vals = append(vals, y)
				}
			}
		}
		if len(vals) == 0 {
			continue
		}
		p := newPlot(w)
		lo, hi := slices.Min(vals), slices.Max(vals)
		base := 0.0
		logAxis := hi/lo >= 10
		if logAxis {
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = logCountTicks{}
			base = math.Pow(10, math.Floor(math.Log10(lo)))
			p.X.Min, p.X.Max = base, hi*6
			p.X.Label.Text = unit + " (log)"
		} else {
			p.X.Tick.Marker = siTicks{}
			p.X.Min, p.X.Max = 0, hi*1.35
			p.X.Label.Text = unit
		}
		xys := make(plotter.XYs, len(vals))
		labels := make([]string, len(vals))
		for i, val := range vals {
			bar, err := plotter.NewLine(plotter.XYs{{X: base, Y: float64(i)}, {X: val, Y: float64(i)}})
			if err != nil {
				return nil, err
			}
			bar.Color, bar.Width = EngineColor(full[i]), vg.Points(9)
			p.Add(bar)
			xys[i] = plotter.XY{X: val * 1.04, Y: float64(i)}
			if !logAxis {
				xys[i].X = val + hi*0.02
			}
			labels[i] = SI(val)
		}
		p.NominalY(names...)
		p.Y.Min, p.Y.Max = -0.6, float64(len(vals))-0.4
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(7)
			lb.TextStyle[i].YAlign = -0.5
		}
		p.Add(lb)
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	g := grid(ps, 3)
	h := vg.Length(len(g)) * (vg.Inch*1.1 + vg.Length(len(engines))*vg.Points(16))
	png, svg, err := render(g, 11*vg.Inch, h)
	if err != nil {
		return nil, err
	}
	return &Chart{Family: fam, Name: "throughput-" + fileSafe(fam), Title: "Throughput: " + fam,
		Caption: "Median over iterations, one color per engine in every chart. Workloads that mostly write items in items per second, the others in operations per second; panels whose values span ten times or more on a log axis.",
		PNG:     png, SVG: svg}, nil
}

func shortEngine(e string) string {
	if _, n, ok := strings.Cut(e, "/"); ok {
		return n
	}
	return e
}

// LatencyChart draws the latency spectrum of one workload: one line per
// engine, percentile on the nines axis, latency on a log axis; in an open
// loop, the uncorrected latency dashed beside the corrected one.
func (v *view) LatencyChart(w string) (*Chart, error) {
	p := newPlot("latency: " + w)
	p.X.Label.Text = "percentile"
	p.X.Tick.Marker = ninesTicks
	p.X.Min, p.X.Max = 0, 4.05
	p.Y.Label.Text = "latency"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = durationTicks{}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Points(4)
	open := v.spec[w].Mode == workloads.Open
	yr := newYRange()
	lines := 0
	for _, e := range v.engines {
		rs := v.byKey[w][e]
		if len(rs) == 0 {
			continue
		}
		add := func(l results.Latency, dashed bool, label string) error {
			var xys plotter.XYs
			for _, pt := range l.Spectrum {
				if pt.Percentile > 99.99 || pt.Ns <= 0 {
					continue
				}
				xys = append(xys, plotter.XY{X: ninesX(pt.Percentile), Y: float64(pt.Ns)})
			}
			if len(xys) < 2 {
				return nil
			}
			line, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color, line.Width = v.pal.of(e), vg.Points(1.5)
			pts.Color, pts.Radius = v.pal.of(e), vg.Points(1.8)
			if dashed {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				pts.Radius = 0
			}
			p.Add(line, pts)
			p.Legend.Add(label, line)
			yr.add(xys)
			lines++
			return nil
		}
		// The first iteration's spectrum; medians of percentiles across
		// iterations are in the tables.
		if err := add(rs[0].Latency, false, shortEngine(e)); err != nil {
			return nil, err
		}
		if open {
			if err := add(rs[0].Uncorrected, true, shortEngine(e)+" (uncorrected)"); err != nil {
				return nil, err
			}
		}
	}
	if lines == 0 {
		return nil, nil
	}
	// Whole decades, so both ends of the axis carry a label.
	p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(yr.lo))), math.Pow(10, math.Ceil(math.Log10(yr.hi)))
	png, svg, err := render([][]*plot.Plot{{p}}, 7.5*vg.Inch, 4.2*vg.Inch)
	if err != nil {
		return nil, err
	}
	caption := "Latency at each percentile, first iteration, on a log axis; the x axis is logarithmic in nines (p90, p99, p99.9, p99.99)."
	if open {
		caption += " Open loop: solid lines run from each operation's intended start (corrected for coordinated omission), dashed ones from its actual start."
	}
	return &Chart{Family: v.familyOf(w), Name: "latency-" + fileSafe(w), Title: "Latency percentiles: " + w, Caption: caption, PNG: png, SVG: svg}, nil
}

// SeriesChart draws throughput over time for one workload.
func (v *view) SeriesChart(w string) (*Chart, error) {
	var all []*results.Result
	for _, e := range v.engines {
		all = append(all, v.byKey[w][e]...)
	}
	unit, _ := throughputOf(all)
	useItems := unit != "ops/s"
	p := newPlot("throughput over time: " + w)
	p.X.Label.Text = "seconds into the measured window"
	p.Y.Label.Text = unit
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logCountTicks{}
	p.Legend.Top, p.Legend.Left = true, false
	yr := newYRange()
	lines := 0
	for _, e := range v.engines {
		rs := v.byKey[w][e]
		if len(rs) == 0 || len(rs[0].Series) == 0 {
			continue
		}
		r := rs[0]
		step := time.Duration(r.SeriesIntervalNs)
		if step <= 0 {
			step = time.Second
		}
		var xys plotter.XYs
		for i, s := range r.Series {
			n := s.Ops
			if useItems {
				n = s.Items
			}
			if n <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: (float64(i) + 0.5) * step.Seconds(), Y: float64(n) / step.Seconds()})
		}
		if len(xys) == 0 {
			continue
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = v.pal.of(e), vg.Points(1.3)
		pts.Color, pts.Radius = v.pal.of(e), vg.Points(1.5)
		p.Add(line, pts)
		p.Legend.Add(shortEngine(e), line)
		yr.add(xys)
		lines++
	}
	if lines == 0 {
		return nil, nil
	}
	legendRoom(p, yr.lo, yr.hi, lines)
	p.X.Min = 0
	png, svg, err := render([][]*plot.Plot{{p}}, 7.5*vg.Inch, 3.6*vg.Inch)
	if err != nil {
		return nil, err
	}
	return &Chart{Family: v.familyOf(w), Name: "series-" + fileSafe(w), Title: "Throughput over time: " + w,
		Caption: "Throughput in each bucket of the measured window (first iteration), log axis.", PNG: png, SVG: svg}, nil
}

// SweepCharts draws one line chart per swept workload: throughput against
// the swept size, one line per engine, both axes logarithmic.
func (v *view) SweepCharts() ([]*Chart, error) {
	bases := map[string][]string{} // base -> sweep points in order
	var order []string
	for _, w := range v.workloads {
		s := v.spec[w]
		if len(s.Labels) == 0 || len(v.byKey[w]) == 0 {
			continue
		}
		if _, ok := bases[s.Base]; !ok {
			order = append(order, s.Base)
		}
		bases[s.Base] = append(bases[s.Base], w)
	}
	var charts []*Chart
	for _, base := range order {
		points := bases[base]
		label := slices.Sorted(maps.Keys(v.spec[points[0]].Labels))[0]
		p := newPlot(base)
		p.X.Label.Text = map[string]string{"value": "entry size (bytes)", "batch": "batch size (entries per append)"}[label]
		if p.X.Label.Text == "" {
			p.X.Label.Text = label
		}
		p.X.Scale = plot.LogScale{}
		var ticks plot.ConstantTicks
		xOf := map[string]float64{}
		for _, w := range points {
			raw := v.spec[w].Labels[label]
			x, err := workloads.ParseSize(raw)
			xv := float64(x)
			if err != nil || xv <= 0 {
				xv = float64(len(ticks) + 1)
			}
			xOf[w] = xv
			ticks = append(ticks, plot.Tick{Value: xv, Label: raw})
		}
		p.X.Tick.Marker = ticks
		var all []*results.Result
		for _, w := range points {
			for _, e := range v.engines {
				all = append(all, v.byKey[w][e]...)
			}
		}
		unit, f := throughputOf(all)
		p.Y.Label.Text = unit
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logCountTicks{}
		p.Legend.Top, p.Legend.Left = true, label == "batch"
		yr := newYRange()
		lines := 0
		for _, e := range v.engines {
			var xys plotter.XYs
			for _, w := range points {
				if rs := v.byKey[w][e]; len(rs) > 0 {
					if y := median(rs, f); y > 0 {
						xys = append(xys, plotter.XY{X: xOf[w], Y: y})
					}
				}
			}
			if len(xys) == 0 {
				continue
			}
			line, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			line.Color, line.Width = v.pal.of(e), vg.Points(1.5)
			pts.Color, pts.Radius, pts.Shape = v.pal.of(e), vg.Points(2.2), draw.CircleGlyph{}
			p.Add(line, pts)
			p.Legend.Add(shortEngine(e), line)
			yr.add(xys)
			lines++
		}
		if lines == 0 {
			continue
		}
		legendRoom(p, yr.lo, yr.hi, lines)
		lo, hi := math.Inf(1), 0.0
		for _, x := range xOf {
			lo, hi = min(lo, x), max(hi, x)
		}
		p.X.Min, p.X.Max = lo/1.5, hi*1.5
		png, svg, err := render([][]*plot.Plot{{p}}, 7.5*vg.Inch, 4*vg.Inch)
		if err != nil {
			return nil, err
		}
		what := "entry size"
		if label == "batch" {
			what = "batch size"
		}
		if label != "value" && label != "batch" {
			what = label
		}
		charts = append(charts, &Chart{Family: v.familyOf(points[0]), Name: "sweep-" + fileSafe(base), Title: "Sweep of " + what + ": " + base,
			Caption: fmt.Sprintf("Median %s against %s, both axes logarithmic.", unit, what), PNG: png, SVG: svg})
	}
	return charts, nil
}

// TrendChart draws, for each plain workload of a family, the median
// throughput of each engine across stored runs, oldest first. A trend
// needs two points: with fewer than two runs there is no chart, and an
// engine measured in one run only has no line.
func TrendChart(runs []*results.Run, fam string) (*Chart, error) {
	if len(runs) < 2 {
		return nil, nil
	}
	cur := newView(runs[len(runs)-1])
	views := make([]*view, len(runs))
	for i, r := range runs {
		views[i] = newView(r)
	}
	var ticks plot.ConstantTicks
	for i, r := range runs {
		label := r.Started.Format("01-02 15:04")
		if len(runs) > 8 && i%(len(runs)/8+1) != 0 && i != len(runs)-1 {
			label = ""
		}
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: label})
	}
	var ps []*plot.Plot
	for _, w := range cur.plainOf(fam) {
		var all []*results.Result
		for _, e := range cur.engines {
			all = append(all, cur.byKey[w][e]...)
		}
		unit, f := throughputOf(all)
		p := newPlot(w)
		p.Y.Label.Text = unit
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logCountTicks{}
		p.X.Tick.Marker = ticks
		p.X.Label.Text = "run"
		p.X.Min, p.X.Max = -0.5, float64(len(runs))-0.5
		yr := newYRange()
		lines := 0
		for _, e := range cur.engines {
			var xys plotter.XYs
			for i, vw := range views {
				if rs := vw.byKey[w][e]; len(rs) > 0 {
					if y := median(rs, f); y > 0 {
						xys = append(xys, plotter.XY{X: float64(i), Y: y})
					}
				}
			}
			if len(xys) < 2 {
				continue
			}
			line, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			line.Color, line.Width = cur.pal.of(e), vg.Points(1.3)
			pts.Color, pts.Radius = cur.pal.of(e), vg.Points(2)
			p.Add(line, pts)
			p.Legend.Add(shortEngine(e), line)
			yr.add(xys)
			lines++
		}
		if lines > 0 {
			legendRoom(p, yr.lo, yr.hi, lines)
			p.Legend.Left = true
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	g := grid(ps, 2)
	png, svg, err := render(g, 11*vg.Inch, vg.Length(len(g))*3*vg.Inch)
	if err != nil {
		return nil, err
	}
	return &Chart{Family: fam, Name: "trend-" + fileSafe(fam), Title: fmt.Sprintf("Trend across %d stored runs: %s", len(runs), fam),
		Caption: "Median throughput of each engine per run, oldest run on the left; a drop is a regression to check with bench compare.",
		PNG:     png, SVG: svg}, nil
}

// TargetsChart draws one panel per target: each engine's headroom, the
// limit over the measured value (or the value over the limit for a
// throughput), on a log axis where 1 is the limit: bars to the right met
// it, to the left missed it.
func TargetsChart(checks []TargetCheck, engines []string) (*Chart, error) {
	var names []string
	by := map[string][]TargetCheck{}
	for _, c := range checks {
		if !c.Measured {
			continue
		}
		if _, ok := by[c.Target.Name]; !ok {
			names = append(names, c.Target.Name)
		}
		by[c.Target.Name] = append(by[c.Target.Name], c)
	}
	if len(names) == 0 {
		return nil, nil
	}
	green, red := color.RGBA{R: 0x2e, G: 0x9e, B: 0x4f, A: 0xff}, color.RGBA{R: 0xd6, G: 0x3a, B: 0x3a, A: 0xff}
	var ps []*plot.Plot
	lo, hi := -1.0, 1.0
	for _, n := range names {
		for _, c := range by[n] {
			l := math.Log10(c.Headroom)
			lo, hi = min(lo, l), max(hi, l)
		}
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	var ticks plot.ConstantTicks
	step := math.Ceil((hi - lo) / 4)
	for e := lo; e <= hi; e++ {
		label := ""
		if math.Mod(e, step) == 0 {
			label = SI(math.Pow(10, e)) + "×"
		}
		if e == 0 {
			label = "limit"
		}
		ticks = append(ticks, plot.Tick{Value: e, Label: label})
	}
	for _, n := range names {
		cs := by[n]
		slices.SortFunc(cs, func(a, b TargetCheck) int { return cmp.Compare(a.Engine, b.Engine) })
		p := newPlot(n + " " + cs[0].Target.Text)
		p.X.Label.Text = "headroom (log)"
		p.X.Tick.Marker = ticks
		p.X.Min, p.X.Max = lo-0.2, hi+0.2
		var labels []string
		for i, c := range cs {
			bar, err := plotter.NewBarChart(plotter.Values{math.Log10(c.Headroom)}, vg.Points(9))
			if err != nil {
				return nil, err
			}
			bar.Horizontal, bar.XMin = true, float64(i)
			bar.Color = red
			if c.Met {
				bar.Color = green
			}
			bar.LineStyle.Width = 0
			p.Add(bar)
			labels = append(labels, shortEngine(c.Engine))
		}
		p.NominalY(labels...)
		zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(len(cs)) - 0.5}})
		if err != nil {
			return nil, err
		}
		zero.Width = vg.Points(1)
		p.Add(zero)
		ps = append(ps, p)
	}
	g := grid(ps, 3)
	h := vg.Length(len(g)) * (vg.Inch*1.1 + vg.Length(len(engines))*vg.Points(15))
	png, svg, err := render(g, 11*vg.Inch, h)
	if err != nil {
		return nil, err
	}
	return &Chart{Family: "raftlog", Name: "targets", Title: "d-engine targets: met or missed",
		Caption: "Headroom against each target on a log axis: green bars right of the limit met it, red bars left of it missed it (×10 = ten times inside the limit). Latency targets use the median.",
		PNG:     png, SVG: svg}, nil
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
