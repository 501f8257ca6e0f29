package jepsenlite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// historyPaths resolves the argument of `check`: a run directory holding
// history.json, or the history file itself. dir is where the verdict and
// timeline are rewritten.
func historyPaths(path string) (file, dir string) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return filepath.Join(path, "history.json"), path
	}
	return path, filepath.Dir(path)
}

func readJSON(path string, v any) error { return linearizability.ReadJSON(path, v) }

// writeFileAtomic writes data to path through a temporary file and a
// rename, so that a reader sees the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// verdictFile is verdict.json.
type verdictFile struct {
	Verdict     linearizability.Verdict   `json:"verdict"`
	Reason      string                    `json:"reason"`
	Family      string                    `json:"family"`
	Engine      string                    `json:"engine"`
	Target      string                    `json:"target,omitempty"`
	Profile     string                    `json:"profile,omitempty"`
	Seed        uint64                    `json:"seed"`
	Nemeses     []string                  `json:"nemeses"`
	Ops         int                       `json:"ops"`
	Faults      int                       `json:"faults"`
	Struck      int                       `json:"struck"`
	Crashes     int                       `json:"crashes"`
	Partitions  int                       `json:"partitions"`
	CheckMS     float64                   `json:"check_ms"`
	Interrupted bool                      `json:"interrupted,omitempty"`
	Coverage    *linearizability.Coverage `json:"coverage,omitempty"`
	Failures    []string                  `json:"failures,omitempty"`
	Command     string                    `json:"command"`
}

func newVerdictFile(res *Result) verdictFile {
	h := res.History
	return verdictFile{
		Verdict: res.Verdict, Reason: res.Reason, Family: res.Family, Engine: h.Engine, Target: h.Target,
		Profile: h.Profile, Seed: h.Seed, Nemeses: h.Nemeses, Ops: len(h.Ops), Faults: res.Faults,
		Struck: res.Struck, Crashes: res.Crashes, Partitions: res.Check.Partitions,
		CheckMS: float64(res.Check.Elapsed.Microseconds()) / 1000, Interrupted: h.Interrupted,
		Coverage: h.Coverage, Failures: h.Failures, Command: h.Command,
	}
}

// writeRun writes the evidence of a run into dir: history.json,
// verdict.json, summary.txt, timeline.html and, if there is any,
// evidence.txt (panic stacks, goroutine dumps, a node's standard error).
func writeRun(dir string, fam Family, res *Result, evidence []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := res.History.WriteFile(filepath.Join(dir, "history.json")); err != nil {
		return err
	}
	if len(evidence) > 0 {
		if err := writeFileAtomic(filepath.Join(dir, "evidence.txt"), []byte(strings.Join(evidence, "\n\n"))); err != nil {
			return err
		}
	}
	if err := writeVerdictAndSummary(dir, res); err != nil {
		return err
	}
	return writeTimeline(dir, res)
}

// writeVerdictAndSummary writes verdict.json and summary.txt, which
// always say the same.
func writeVerdictAndSummary(dir string, res *Result) error {
	b, err := json.MarshalIndent(newVerdictFile(res), "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "verdict.json"), append(b, '\n')); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "summary.txt"), []byte(summary(res)))
}

// writeTimeline writes timeline.html: a header that names the run and
// lists its faults, then porcupine's timeline with the fault windows on a
// row of their own. It needs a verbose check.
func writeTimeline(dir string, res *Result) error {
	var tl bytes.Buffer
	if err := res.Check.WriteTimeline(&tl); err != nil {
		return err
	}
	page := tl.Bytes()
	head := []byte(timelineHeader(res))
	if i := bytes.Index(page, []byte("<body>")); i >= 0 {
		i += len("<body>")
		page = append(page[:i:i], append(head, page[i:]...)...)
	} else {
		page = append(head, page...)
	}
	return writeFileAtomic(filepath.Join(dir, "timeline.html"), page)
}

// timelineHeader is the top of timeline.html: family, engine, seed,
// nemeses, verdict, replay command and the fault windows.
func timelineHeader(res *Result) string {
	h := res.History
	var b strings.Builder
	color := map[linearizability.Verdict]string{linearizability.Ok: "#2a7", linearizability.Illegal: "#c33", linearizability.Unknown: "#c80"}[res.Verdict]
	b.WriteString(`<div id="ordeal-run" style="font:14px sans-serif;margin:44px 8px 16px;padding:8px 12px;border:1px solid #ccc;background:#fafafa">`)
	fmt.Fprintf(&b, `<div style="font-size:18px"><b style="color:%s">%s</b> %s, seed %d</div>`, color, res.Verdict, html.EscapeString(h.Engine), h.Seed)
	fmt.Fprintf(&b, `<div>%s</div>`, html.EscapeString(res.Reason))
	nem := "none (a fault-free run)"
	if len(h.Nemeses) > 0 {
		nem = strings.Join(h.Nemeses, ", ")
	}
	where := h.Target
	if h.Profile != "" {
		where += ", profile " + h.Profile
	}
	fmt.Fprintf(&b, `<div>family <b>%s</b> &middot; target %s &middot; nemeses %s &middot; %d ops &middot; %d faults, %d restarts</div>`,
		html.EscapeString(res.Family), html.EscapeString(where), html.EscapeString(nem), len(h.Ops), res.Faults, res.Crashes)
	for _, f := range h.Failures {
		fmt.Fprintf(&b, `<div style="color:#c33">failure: %s</div>`, html.EscapeString(f))
	}
	fmt.Fprintf(&b, `<div>replay: <code>%s</code></div>`, html.EscapeString(h.Command))
	if len(h.Faults) > 0 {
		b.WriteString(`<details open><summary>fault windows (the "nemesis" row of the timeline below)</summary><table style="font-size:12px">`)
		for i, w := range h.Faults {
			if i == 12 {
				fmt.Fprintf(&b, `<tr><td colspan=3>and %d more</td></tr>`, len(h.Faults)-i)
				break
			}
			end := fmt.Sprint(w.End)
			if w.End == linearizability.Infinity {
				end = "&infin;"
			}
			fmt.Fprintf(&b, `<tr><td>%s</td><td>[%d, %s]</td><td>%s</td></tr>`, html.EscapeString(w.Nemesis), w.Start, end, html.EscapeString(w.Detail))
		}
		b.WriteString(`</table></details>`)
	}
	b.WriteString("</div>\n")
	return b.String()
}

// summary is summary.txt and what `run` prints.
func summary(res *Result) string {
	h := res.History
	var b strings.Builder
	fmt.Fprintf(&b, "family     %s\n", res.Family)
	fmt.Fprintf(&b, "engine     %s, target %s", h.Engine, h.Target)
	if h.Profile != "" {
		fmt.Fprintf(&b, " (lazyfs profile %s)", h.Profile)
	}
	fmt.Fprintf(&b, "\nseed       %d\n", h.Seed)
	if len(res.Used) == 0 {
		b.WriteString("nemeses    none: a fault-free run")
	} else {
		fmt.Fprintf(&b, "nemeses    %s", strings.Join(res.Used, ","))
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(&b, " (unavailable: %s)", strings.Join(res.Skipped, ","))
	}
	fmt.Fprintf(&b, "\nops        %d, faults %d (took effect %d), restarts %d\n", len(h.Ops), res.Faults, res.Struck, res.Crashes)
	if c := h.Coverage; c != nil {
		fmt.Fprintf(&b, "methods    %s\n", countList(c.Methods))
		fmt.Fprintf(&b, "outcomes   %s\n", countList(c.Outcomes))
	}
	fmt.Fprintf(&b, "check      %v in %v over %d partitions\n", res.Check.Verdict, res.Check.Elapsed.Round(time.Microsecond), res.Check.Partitions)
	fmt.Fprintf(&b, "verdict    %v: %s\n", res.Verdict, res.Reason)
	if h.Interrupted {
		b.WriteString("interrupted: the run was cut short\n")
	}
	for _, f := range h.Failures {
		fmt.Fprintf(&b, "failure    %s\n", f)
	}
	fmt.Fprintf(&b, "wall       %v\n", res.Wall.Round(time.Millisecond))
	fmt.Fprintf(&b, "replay     %s\n", res.Command)
	return b.String()
}

// countList prints counts as "a=3 b=1", sorted by name.
func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
