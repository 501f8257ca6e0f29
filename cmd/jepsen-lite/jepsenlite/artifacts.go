package jepsenlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// reportRun ends `run` for every family: the run's error goes to stderr,
// its summary to stdout, and its verdict becomes the exit code; with no
// run at all (ran false) the exit code is ExitUsage. outcome is called
// only when there was a run.
func reportRun(stdout, stderr io.Writer, err error, ran bool, outcome func() (summary string, exit int)) int {
	if err != nil {
		fmt.Fprintln(stderr, err)
		if !ran {
			return ExitUsage
		}
	}
	s, exit := outcome()
	fmt.Fprint(stdout, s)
	return exit
}

// historyPaths resolves the argument of `check`: a run directory holding
// history.json, or the history file itself. dir is where the verdict and
// timeline are rewritten.
func historyPaths(path string) (file, dir string) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return filepath.Join(path, "history.json"), path
	}
	return path, filepath.Dir(path)
}

// writeJSON writes v as indented JSON with a final newline.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeTimelineFile creates dir/timeline.html and fills it with write.
func writeTimelineFile(dir string, write func(io.Writer) error) error {
	tl, err := os.Create(filepath.Join(dir, "timeline.html"))
	if err != nil {
		return err
	}
	err = write(tl)
	return errors.Join(err, tl.Close())
}

// newVerdictFile is verdict.json of a checked linearizability history
// that saw faults fault windows.
func newVerdictFile[In, Out, Traits any](res *linearizability.Result, h *linearizability.History[In, Out, Traits], faults int) verdictFile {
	return verdictFile{
		Verdict: res.Verdict, Reason: res.Reason, Engine: h.Engine, Seed: h.Seed, Ops: res.Ops,
		Faults: faults, Partitions: res.Partitions, CheckMS: float64(res.Elapsed.Microseconds()) / 1000,
		Failures: h.Failures, Command: h.Command,
	}
}

// writeVerdict writes dir/verdict.json of a checked history.
func writeVerdict[In, Out, Traits any](dir string, res *linearizability.Result, h *linearizability.History[In, Out, Traits]) error {
	return writeJSON(filepath.Join(dir, "verdict.json"), newVerdictFile(res, h, len(h.Faults)))
}

// writeLinearizabilityRun writes the evidence of a run into dir:
// history.json, verdict.json (faults fault windows), the extra files
// named in extra, timeline.html and summary.txt.
func writeLinearizabilityRun[In, Out, Traits any](dir string, res *linearizability.Result, h *linearizability.History[In, Out, Traits], faults int, extra map[string]string, summary string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := h.WriteFile(filepath.Join(dir, "history.json")); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "verdict.json"), newVerdictFile(res, h, faults)); err != nil {
		return err
	}
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := writeTimelineFile(dir, res.WriteTimeline); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(summary), 0o644)
}

// recheck checks a stored history again (path is its run directory or
// the file itself) and rewrites the verdict, and the timeline if asked,
// beside it.
func recheck[In, Out, Traits any](path string, timeout time.Duration, timeline bool,
	read func(string) (*linearizability.History[In, Out, Traits], error),
	check func(*linearizability.History[In, Out, Traits], time.Duration, bool) *linearizability.Result,
) (*linearizability.Result, *linearizability.History[In, Out, Traits], error) {
	file, dir := historyPaths(path)
	h, err := read(file)
	if err != nil {
		return nil, nil, err
	}
	res := check(h, timeout, timeline)
	if err := writeVerdict(dir, res, h); err != nil {
		return res, h, err
	}
	if !timeline {
		return res, h, nil
	}
	return res, h, writeTimelineFile(dir, res.WriteTimeline)
}

// reportCheck ends `check` for every linearizability family: the error
// goes to stderr, the verdict line and replay command to stdout, and the
// verdict becomes the exit code (ExitUsage when nothing was checked).
func reportCheck[In, Out, Traits any](stdout, stderr io.Writer, res *linearizability.Result, h *linearizability.History[In, Out, Traits], err error) int {
	if err != nil {
		fmt.Fprintln(stderr, err)
		if res == nil {
			return ExitUsage
		}
	}
	fmt.Fprintf(stdout, "%s: %v in %v (%d ops, %d partitions): %s\n", h.Engine, res.Verdict, res.Elapsed.Round(time.Microsecond), res.Ops, res.Partitions, res.Reason)
	if h.Command != "" {
		fmt.Fprintf(stdout, "replay: %s\n", h.Command)
	}
	return res.Verdict.ExitCode()
}

// writeSummaryTail ends summary.txt of a linearizability run: the check,
// the verdict, the failures, the wall time and the replay command.
func writeSummaryTail(b *strings.Builder, check *linearizability.Result, verdict linearizability.Verdict, failures []string, wall time.Duration, command string) {
	fmt.Fprintf(b, "check      %v in %v over %d partitions\n", check.Verdict, check.Elapsed.Round(time.Microsecond), check.Partitions)
	fmt.Fprintf(b, "verdict    %v: %s\n", verdict, check.Reason)
	for _, f := range failures {
		fmt.Fprintf(b, "failure    %s\n", f)
	}
	fmt.Fprintf(b, "wall       %v\n", wall.Round(time.Millisecond))
	fmt.Fprintf(b, "replay     %s\n", command)
}
