package jepsenlite

import (
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/broker"
	// The reference tiered implementations and the planted-bug ones a run
	// can name as tiered/mutant/NAME.
	_ "github.com/ordeal-dev/ordeal/engines/tiered/durable"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/memory"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/mutants"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/rlmmmodel"
)

// TieredPrefix starts the engine names of the tiered-storage campaign:
// tiered/NAME runs the simulated broker with the metadata manager NAME on
// localfs storage, or, when NAME is a storage manager (a mutant of
// localfs), with NAME as storage and the durable metadata manager.
const TieredPrefix = "tiered/"

// IsTieredEngine reports whether name is a tiered-storage engine.
func IsTieredEngine(name string) bool { return strings.HasPrefix(name, TieredPrefix) }

// tieredParams are the --param keys a tiered run takes.
var tieredParams = []string{"steps", "segment_bytes", "retain", "crash_percent", "max_crashes"}

// TieredResult is the outcome of a tiered run.
type TieredResult struct {
	Verdict  linearizability.Verdict
	Reason   string
	Campaign *broker.Result
	// Check is the linearizability check of the metadata manager calls
	// the broker made.
	Check   *rlmmmodel.Result
	Command string
	Wall    time.Duration
}

// listTieredEngines lists the tiered engines, named by metadata manager
// (the storage is localfs); mutants are listed with the other mutants.
func listTieredEngines(w io.Writer) {
	for _, n := range tiered.RLMMs() {
		if !strings.HasPrefix(n, "mutant/") {
			fmt.Fprintf(w, "  %s%s\n", TieredPrefix, n)
		}
	}
}

// listTieredMutants lists the planted-bug storage and metadata managers.
func listTieredMutants(w io.Writer) {
	for _, n := range append(tiered.RSMs(), tiered.RLMMs()...) {
		if strings.HasPrefix(n, "mutant/") {
			fmt.Fprintf(w, "  %s%s\n", TieredPrefix, n)
		}
	}
}

// tieredPair resolves an engine name to a storage and a metadata manager.
func tieredPair(engine string) (rsm, rlmm string, err error) {
	name := strings.TrimPrefix(engine, TieredPrefix)
	for _, n := range tiered.RLMMs() {
		if n == name {
			return "localfs", name, nil
		}
	}
	for _, n := range tiered.RSMs() {
		if n == name {
			return name, "durable", nil
		}
	}
	return "", "", fmt.Errorf("%w: unknown tiered engine %q (metadata managers %v, storage managers %v)", ErrUsage, engine, tiered.RLMMs(), tiered.RSMs())
}

func tieredCommand(cfg Config) string {
	args := []string{"jepsen-lite", "run", "--engine", cfg.Engine}
	if len(cfg.Nemeses) > 0 {
		args = append(args, "--nemesis", strings.Join(cfg.Nemeses, ","))
	}
	args = append(args, "--seed", strconv.FormatUint(cfg.Seed, 10))
	keys := make([]string, 0, len(cfg.Params))
	for k := range cfg.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--param", k+"="+cfg.Params[k])
	}
	if cfg.Out != "" {
		args = append(args, "--out", cfg.Out+"-replay")
	}
	return strings.Join(args, " ")
}

// RunTiered runs the simulated broker's crash campaign for one seed,
// records the metadata manager calls it makes and checks them against the
// rlmmmodel model. It returns an error and no result for a bad engine,
// nemesis or parameter.
func RunTiered(ctx context.Context, cfg Config) (*TieredResult, error) {
	start := time.Now()
	for _, n := range cfg.Nemeses {
		if n != "crash" {
			return nil, fmt.Errorf("%w: tiered engines take only the crash nemesis, not %q", ErrUsage, n)
		}
	}
	rsm, rlmm, err := tieredPair(cfg.Engine)
	if err != nil {
		return nil, err
	}
	bc := broker.Config{RSM: rsm, RLMM: rlmm, Seed: cfg.Seed}
	if len(cfg.Nemeses) == 0 {
		bc.MaxCrashes = -1
	}
	keys := make([]string, 0, len(cfg.Params))
	for k := range cfg.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := strconv.Atoi(cfg.Params[k])
		if err != nil {
			return nil, fmt.Errorf("%w: param %s=%q is not an integer", ErrUsage, k, cfg.Params[k])
		}
		switch k {
		case "steps":
			bc.Steps = v
		case "segment_bytes":
			bc.SegmentBytes = v
		case "retain":
			bc.Retain = v
		case "crash_percent":
			bc.CrashPercent = v
		case "max_crashes":
			bc.MaxCrashes = v
		default:
			return nil, fmt.Errorf("%w: tiered engines take no param %q (known: %v)", ErrUsage, k, tieredParams)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rec *rlmmmodel.Recorder
	bc.WrapRLMM = func(m tiered.RemoteLogMetadataManager, reopened bool) tiered.RemoteLogMetadataManager {
		if rec == nil {
			rec = rlmmmodel.NewRecorder(m)
		} else if reopened {
			_ = rec.Crash(0, func(tiered.RemoteLogMetadataManager) (tiered.RemoteLogMetadataManager, error) { return m, nil })
		}
		return rec.Client(0)
	}
	camp, err := broker.Run(bc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	res := &TieredResult{Campaign: camp, Command: tieredCommand(cfg)}
	if rec != nil {
		res.Check = rlmmmodel.Check(rec.Operations(), rlmmmodel.TraitsOf(rec.Manager().Capabilities()), cfg.CheckTimeout, cfg.Out != "")
	}
	switch {
	case !camp.OK():
		res.Verdict, res.Reason = linearizability.Illegal, "broken invariant: "+camp.Violations[0].String()
	case res.Check != nil && res.Check.Verdict == linearizability.Illegal:
		res.Verdict, res.Reason = linearizability.Illegal, "metadata manager: "+res.Check.Reason
	case res.Check == nil || res.Check.Verdict == linearizability.Unknown:
		res.Verdict, res.Reason = linearizability.Unknown, "the metadata manager history was not checked to the end: inconclusive"
	case len(cfg.Nemeses) > 0 && camp.Crashes == 0:
		res.Verdict, res.Reason = linearizability.Unknown, "the crash nemesis never struck: inconclusive"
	default:
		res.Verdict, res.Reason = linearizability.Ok, fmt.Sprintf("every invariant held through %d crashes, and the metadata manager calls are linearizable", camp.Crashes)
	}
	res.Wall = time.Since(start)
	if cfg.Out != "" {
		if err := writeTiered(cfg, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

type tieredHistory struct {
	Engine  string         `json:"engine"`
	RSM     string         `json:"rsm"`
	RLMM    string         `json:"rlmm"`
	Seed    uint64         `json:"seed"`
	Command string         `json:"command"`
	Events  []broker.Event `json:"events"`
}

type tieredVerdict struct {
	Verdict     linearizability.Verdict `json:"verdict"`
	Reason      string                  `json:"reason"`
	Engine      string                  `json:"engine"`
	Seed        uint64                  `json:"seed"`
	Steps       int                     `json:"steps"`
	Crashes     int                     `json:"crashes"`
	Copied      int                     `json:"copied"`
	Deleted     int                     `json:"deleted"`
	Fetches     int                     `json:"fetches"`
	Checks      int                     `json:"checks"`
	Violations  []broker.Violation      `json:"violations"`
	RLMMOps     int                     `json:"rlmm_ops"`
	RLMMVerdict linearizability.Verdict `json:"rlmm_verdict"`
	Command     string                  `json:"command"`
}

func writeTiered(cfg Config, res *TieredResult) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	c := res.Campaign
	h := tieredHistory{Engine: cfg.Engine, RSM: c.RSM, RLMM: c.RLMM, Seed: c.Seed, Command: res.Command, Events: c.History}
	if err := writeJSON(filepath.Join(cfg.Out, "history.json"), h); err != nil {
		return err
	}
	v := tieredVerdict{
		Verdict: res.Verdict, Reason: res.Reason, Engine: cfg.Engine, Seed: c.Seed, Steps: c.Steps, Crashes: c.Crashes,
		Copied: c.Copied, Deleted: c.Deleted, Fetches: c.Fetches, Checks: c.Checks, Violations: c.Violations, Command: res.Command,
	}
	if res.Check != nil {
		v.RLMMOps, v.RLMMVerdict = res.Check.Ops, res.Check.Verdict
	}
	if err := writeJSON(filepath.Join(cfg.Out, "verdict.json"), v); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "summary.txt"), []byte(tieredSummary(res)), 0o644); err != nil {
		return err
	}
	return writeTimelineFile(cfg.Out, func(w io.Writer) error { return writeTieredTimeline(w, cfg.Engine, res) })
}

// writeTieredTimeline writes the campaign's steps as an HTML table, crashes
// and violations marked, followed by porcupine's timeline of the metadata
// manager calls when the check kept one.
func writeTieredTimeline(w io.Writer, engine string, res *TieredResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><meta charset=utf-8><title>%s seed %d</title>\n", html.EscapeString(engine), res.Campaign.Seed)
	b.WriteString("<style>body{font-family:sans-serif}td{padding:2px 8px}.crash{background:#fdd}.violation{background:#f88}.reopen,.recover{background:#def}</style>\n")
	fmt.Fprintf(&b, "<h1>%s, seed %d: %s</h1><p>%s</p><p><code>%s</code></p>\n", html.EscapeString(engine), res.Campaign.Seed, res.Verdict, html.EscapeString(res.Reason), html.EscapeString(res.Command))
	b.WriteString("<table><tr><th>step<th>op<th>segment<th>offset<th>detail<th>error</tr>\n")
	for _, e := range res.Campaign.History {
		fmt.Fprintf(&b, "<tr class=%q><td>%d<td>%s<td>%s<td>%d<td>%s<td>%s</tr>\n", e.Op, e.Step, html.EscapeString(e.Op),
			html.EscapeString(e.Segment), e.Offset, html.EscapeString(e.Detail), html.EscapeString(e.Err))
	}
	b.WriteString("</table>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if res.Check == nil {
		return nil
	}
	if _, err := io.WriteString(w, "<h2>Metadata manager calls</h2>\n"); err != nil {
		return err
	}
	// The porcupine timeline is a page of its own; a failure to draw it
	// leaves the table above.
	_ = res.Check.WriteTimeline(w)
	return nil
}

func tieredSummary(res *TieredResult) string {
	c := res.Campaign
	var b strings.Builder
	fmt.Fprintf(&b, "engine     tiered: storage %s, metadata %s\n", c.RSM, c.RLMM)
	fmt.Fprintf(&b, "seed       %d\n", c.Seed)
	fmt.Fprintf(&b, "campaign   %d steps, %d crashes, %d copied, %d deleted, %d fetches, %d checks\n", c.Steps, c.Crashes, c.Copied, c.Deleted, c.Fetches, c.Checks)
	for _, v := range c.Violations {
		fmt.Fprintf(&b, "violation  %s\n", v)
	}
	if res.Check != nil {
		fmt.Fprintf(&b, "check      %v in %v, %d metadata calls over %d partitions\n", res.Check.Verdict, res.Check.Elapsed.Round(time.Microsecond), res.Check.Ops, res.Check.Partitions)
	}
	fmt.Fprintf(&b, "verdict    %v: %s\n", res.Verdict, res.Reason)
	fmt.Fprintf(&b, "wall       %v\n", res.Wall.Round(time.Millisecond))
	fmt.Fprintf(&b, "replay     %s\n", res.Command)
	return b.String()
}

// tieredRunMain is `run` for a tiered engine.
func tieredRunMain(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	res, err := RunTiered(ctx, cfg)
	return reportRun(stdout, stderr, err, res != nil, func() (string, int) { return tieredSummary(res), res.Verdict.ExitCode() })
}
