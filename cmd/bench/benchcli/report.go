package benchcli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ordeal-dev/ordeal/reports"
	"github.com/ordeal-dev/ordeal/results"
)

// expandRuns reads run directories; a directory that holds no results.json
// but run directories is read as a store of runs.
func expandRuns(args []string) ([]*results.Run, error) {
	var runs []*results.Run
	for _, a := range args {
		r, err := results.Read(a)
		if err == nil {
			runs = append(runs, r)
			continue
		}
		if !errors.Is(err, results.ErrNoResults) {
			return nil, err
		}
		entries, rerr := os.ReadDir(a)
		if rerr != nil {
			return nil, err
		}
		found := 0
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			r, err := results.Read(filepath.Join(a, e.Name()))
			if err != nil {
				if errors.Is(err, results.ErrNoResults) {
					continue
				}
				return nil, err
			}
			runs = append(runs, r)
			found++
		}
		if found == 0 {
			return nil, err
		}
	}
	reports.SortRuns(runs)
	return runs, nil
}

func cmdReport(args []string, stdio IO) int {
	fs := flag.NewFlagSet("bench report", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	out := fs.String("out", "", "where to write report.html and charts/ (default the newest run's directory)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if len(pos) == 0 {
		fmt.Fprintln(stdio.Stderr, "usage: bench report [--out DIR] RUN... (run directories, or directories of runs; the newest is reported, all feed the trend)")
		return ExitUsage
	}
	runs, err := expandRuns(pos)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench report: %v\n", err)
		return ExitUsage
	}
	dir := *out
	if dir == "" {
		dir = runs[len(runs)-1].Dir
	}
	page, err := reports.Write(dir, runs, reports.Options{})
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench report: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(stdio.Stdout, "report: %s (%d runs)\n", page, len(runs))
	return ExitOK
}

func cmdTargets(args []string, stdio IO) int {
	fs := flag.NewFlagSet("bench targets", flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	engines := fs.String("engines", "", "comma-separated engine globs to check (default every engine in the run)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stdio.Stderr, "usage: bench targets [--engines GLOB] RUN")
		return ExitUsage
	}
	run, err := results.Read(pos[0])
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "bench targets: %v\n", err)
		return ExitUsage
	}
	checks := reports.CheckTargets(run, reports.DEngineTargets)
	tw := tabwriter.NewWriter(stdio.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tlimit\tengine\tmeasured\theadroom\tverdict")
	missed, measured := 0, 0
	for _, c := range checks {
		if !matchAny(*engines, c.Engine, "") {
			continue
		}
		verdict, head := "not measured", ""
		if c.Measured {
			measured++
			head = fmt.Sprintf("%.2fx", c.Headroom)
			verdict = "met"
			if !c.Met {
				verdict = "MISSED"
				missed++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Target.Name, c.Target.Text, c.Engine, c.ValueText(), head, verdict)
	}
	tw.Flush()
	fmt.Fprintf(stdio.Stdout, "\n%d checked, %d missed (latency targets use the median)\n", measured, missed)
	if measured == 0 {
		fmt.Fprintf(stdio.Stderr, "bench targets: the run measured none of the targets' workloads (%s)\n", targetWorkloads())
		return ExitUsage
	}
	if missed > 0 {
		return ExitRegression
	}
	return ExitOK
}

func targetWorkloads() string {
	seen := map[string]bool{}
	var ws []string
	for _, t := range reports.DEngineTargets {
		if !seen[t.Workload] {
			seen[t.Workload] = true
			ws = append(ws, t.Workload)
		}
	}
	return strings.Join(ws, ", ")
}
