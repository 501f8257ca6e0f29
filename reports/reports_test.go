package reports

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	"github.com/ordeal-dev/ordeal/results"
	"github.com/ordeal-dev/ordeal/workloads"
	// The built-in suites name the adapter family too.
	_ "github.com/ordeal-dev/ordeal/workloads/adapterwl"
	_ "github.com/ordeal-dev/ordeal/workloads/raftlogwl"
)

// smallRun runs a few short workloads on the memory engine and the
// physical baseline, as the bench command would.
func smallRun(t testing.TB, started time.Time) *results.Run {
	t.Helper()
	suite, err := workloads.LoadSuite("quick")
	if err != nil {
		t.Fatal(err)
	}
	run := &results.Run{Schema: results.SchemaVersion, ID: started.Format("150405.000"), Started: started, Finished: started.Add(time.Second),
		Suite: "quick", Count: 1, Seed: 1, Command: "go run ./cmd/bench run --seed 1",
		Engines: []string{"raftlog/memory", "raftlog/physical"}, Machine: results.CollectMachine(t.TempDir())}
	for _, s := range suite.Workloads {
		if !strings.HasPrefix(s.Name, "append") && !strings.HasPrefix(s.Name, "value-sweep") && s.Name != "read-targets" && s.Name != "purge-10k" {
			continue
		}
		s.Duration, s.Warmup = workloads.Duration(120*time.Millisecond), workloads.Duration(10*time.Millisecond)
		s.Preload = min(s.Preload, 2000)
		run.Specs = append(run.Specs, s)
		for _, e := range []string{"memory", "physical"} {
			fam, _ := workloads.LookupFamily(s.Family)
			if !fam.Supports(e, &s) {
				continue
			}
			o, err := workloads.Run(context.Background(), &s, e, workloads.Config{Seed: 1, Dir: t.TempDir(), ProbeDuration: 50 * time.Millisecond, SeriesInterval: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			run.Results = append(run.Results, results.FromOutcome(o, 0))
		}
	}
	run.ComputeBaselines()
	return run
}

// inked is the share of an image's pixels that are not white.
func inked(t *testing.T, data []byte) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy()/4)
}

func TestReportCharts(t *testing.T) {
	old := smallRun(t, time.Now().Add(-time.Hour))
	cur := smallRun(t, time.Now())
	dir := t.TempDir()
	page, err := Write(dir, []*results.Run{cur, old}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	charts, checks, err := Build([]*results.Run{old, cur}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*Chart{}
	for _, c := range charts {
		names[c.Name] = c
	}
	for _, want := range []string{"throughput-raftlog", "targets", "latency-append", "latency-append-open", "series-append", "sweep-value-sweep", "trend-raftlog"} {
		c := names[want]
		if c == nil {
			t.Errorf("no %s chart (have %v)", want, keys(names))
			continue
		}
		if ink := inked(t, c.PNG); ink < 0.01 {
			t.Errorf("%s.png is nearly blank (%.3f inked)", want, ink)
		}
		if !bytes.Contains(c.SVG, []byte("<svg")) {
			t.Errorf("%s.svg is not SVG", want)
		}
		for _, ext := range []string{".png", ".svg"} {
			if _, err := os.Stat(filepath.Join(dir, ChartsDir, want+ext)); err != nil {
				t.Error(err)
			}
		}
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<img src=\"data:image/png;base64,", "go run ./cmd/bench run --seed 1", `id="family-raftlog"`, "raftlog/physical</code>", "raftlog/memory", "persist"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	measured := 0
	for _, c := range checks {
		if c.Engine == "raftlog/physical" {
			t.Error("the baseline was checked against targets")
		}
		if c.Measured {
			measured++
		}
	}
	if measured < 3 {
		t.Errorf("%d targets measured, want entry, range, last index, persist, purge", measured)
	}
}

func keys(m map[string]*Chart) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestNinesAxis(t *testing.T) {
	for p, want := range map[float64]float64{0: 0, 90: 1, 99: 2, 99.9: 3, 99.99: 4} {
		if got := ninesX(p); math.Abs(got-want) > 1e-9 {
			t.Errorf("ninesX(%g) = %g, want %g", p, got, want)
		}
	}
}

func TestCheckTargets(t *testing.T) {
	run := &results.Run{Engines: []string{"raftlog/a", "raftlog/physical"}}
	run.Results = []results.Result{
		{Engine: "raftlog/a", Workload: "read-targets", PerOp: []results.OpResult{
			{Op: "entry", Ops: 1, Latency: results.Latency{Count: 1, P50: 2_000_000}},
			{Op: "last_index", Ops: 1, Latency: results.Latency{Count: 1, P50: 50}},
		}},
	}
	got := map[string]TargetCheck{}
	for _, c := range CheckTargets(run, DEngineTargets) {
		got[c.Target.Name] = c
	}
	if c := got["entry"]; !c.Measured || c.Met || math.Abs(c.Headroom-0.5) > 1e-9 {
		t.Errorf("entry at 2ms: %+v", c)
	}
	if c := got["last index"]; !c.Measured || !c.Met {
		t.Errorf("last index at 50ns: %+v", c)
	}
	if c := got["reset"]; c.Measured {
		t.Errorf("reset measured without a reset workload: %+v", c)
	}
	if len(got) != len(DEngineTargets) {
		t.Errorf("%d targets checked, want %d (one engine, the baseline left out)", len(got), len(DEngineTargets))
	}
}

// TestChromiumRendersReport screenshots report.html in headless Chromium
// (ORDEAL_CHROMIUM=1, and chromium installed) and checks the page is drawn.
// ORDEAL_SCREENSHOT=path keeps the screenshot.
func TestChromiumRendersReport(t *testing.T) {
	if os.Getenv("ORDEAL_CHROMIUM") == "" {
		t.Skip("set ORDEAL_CHROMIUM=1 to screenshot the report in headless Chromium")
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	page, err := Write(dir, []*results.Run{smallRun(t, time.Now())}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	shot := os.Getenv("ORDEAL_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(dir, "shot.png")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "testdata/screenshot.sh", page, shot).CombinedOutput()
	if err != nil {
		t.Fatalf("screenshot: %v\n%s", err, out)
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 1280 || cfg.Height != 2400 {
		t.Errorf("screenshot %dx%d, want 1280x2400", cfg.Width, cfg.Height)
	}
	if ink := inked(t, data); ink < 0.03 {
		t.Errorf("screenshot nearly blank (%.3f inked)", ink)
	}
}

// TestTrendNeedsTwoRuns: one run draws no trend; two do.
func TestTrendNeedsTwoRuns(t *testing.T) {
	one := smallRun(t, time.Now())
	if c, err := TrendChart([]*results.Run{one}, "raftlog"); err != nil || c != nil {
		t.Errorf("trend of one run: %v, %v; want none", c, err)
	}
	two := smallRun(t, time.Now().Add(time.Minute))
	if c, err := TrendChart([]*results.Run{one, two}, "raftlog"); err != nil || c == nil {
		t.Errorf("trend of two runs: %v, %v; want a chart", c, err)
	}
}

// TestEngineColors: an engine has one color in every chart and run (the
// same name in two families too), and the engines of each family have
// colors of their own.
func TestEngineColors(t *testing.T) {
	if EngineColor("raftlog/memory") != EngineColor("adapter/memory") {
		t.Error("memory has two colors")
	}
	if EngineColor("x/some-new-engine") != EngineColor("x/some-new-engine") {
		t.Error("an unknown engine's color is not stable")
	}
	families := [][]string{
		{"bbolt", "file", "memory", "pebble", "physical", "raft-boltdb", "raft-wal"},
		{"gomap", "manager", "memory", "pebble", "physical", "segment"},
		{"acid", "memory", "physical"},
		{"durable", "memory", "rawcopy"},
	}
	for _, fam := range families {
		seen := map[any]string{}
		for _, e := range fam {
			c := EngineColor(e)
			if other, dup := seen[c]; dup {
				t.Errorf("%s and %s share a color", e, other)
			}
			seen[c] = e
		}
	}
}
