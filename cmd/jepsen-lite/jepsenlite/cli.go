package jepsenlite

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Exit codes.
const (
	ExitPass         = 0
	ExitViolation    = 1
	ExitUsage        = 2
	ExitInconclusive = 3
)

const usage = `usage: jepsen-lite <command> [flags]

commands:
  run       run one seeded workload against an engine under faults and check it
  check     re-check a stored history: jepsen-lite check DIR
  list      list families, engines, mutants and where each nemesis acts
  campaign  every reference engine x nemesis x seeds, and every mutant: --suite quick|release|nightly
  merge     merge the campaign.json files of a campaign's shards
  node      serve an engine over stdin/stdout (started by run for process faults)

engines are named FAMILY/ENGINE (raftlog/file, adapter/segment, streams/acid,
tiered/durable) and FAMILY/mutant/NAME; a bare name is a raftlog engine.

exit codes: 0 pass, 1 violation, 2 usage or setup error, 3 inconclusive
`

// Main runs the command with args (without the program name) and returns
// its exit code.
func Main(args []string) int {
	if code, done := enterMountNamespace(args, os.Stdin, os.Stdout, os.Stderr); done {
		return code
	}
	return MainIO(args, os.Stdin, os.Stdout, os.Stderr)
}

// MainIO is Main with explicit standard streams.
func MainIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch args[0] {
	case "run":
		return runMain(ctx, args[1:], stdout, stderr)
	case "check":
		return checkMain(args[1:], stdout, stderr)
	case "list":
		return listMain(stdout)
	case "campaign":
		return campaignMain(ctx, args[1:], stdout, stderr)
	case "merge":
		return mergeMain(args[1:], stdout, stderr)
	case "node":
		return nodeMain(args[1:], stdin, stdout, stderr)
	case "streams-server":
		return streamsServerMain(args[1:], stderr)
	case "raftkv-node":
		return raftkvNodeMain(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitPass
	}
	fmt.Fprintf(stderr, "jepsen-lite: unknown command %q\n%s", args[0], usage)
	return ExitUsage
}

// paramFlag collects repeated key=value flags.
type paramFlag map[string]string

func (p paramFlag) String() string { return fmt.Sprint(map[string]string(p)) }

func (p paramFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%w: param %q is not key=value", ErrUsage, s)
	}
	p[k] = v
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// positive checks that the named integer flags are positive.
func positive(flags map[string]int) error {
	for name, v := range flags {
		if v <= 0 {
			return fmt.Errorf("%w: --%s %d: must be positive", ErrUsage, name, v)
		}
	}
	return nil
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{Params: paramFlag{}}
	fs.StringVar(&cfg.Engine, "engine", "", "engine, FAMILY/ENGINE (see below)")
	nem := fs.String("nemesis", "", "nemeses to mix, comma-separated (see below); none for a fault-free run")
	fs.StringVar(&cfg.Target, "target", "auto", "where the engine runs: auto, inproc, process, lazyfs")
	fs.StringVar(&cfg.Profile, "profile", "strict", "lazyfs semantics: strict (only a directory fsync makes an entry durable) or ext4")
	fs.IntVar(&cfg.Clients, "clients", 3, "logical clients")
	fs.IntVar(&cfg.Ops, "ops", 1000, "client operations")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop issuing operations after this wall time (the replay line names the ops issued)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed")
	fs.StringVar(&cfg.Out, "out", "", "directory for history.json, verdict.json, timeline.html, summary.txt")
	fs.DurationVar(&cfg.CheckTimeout, "check-timeout", 60*time.Second, "time limit of the check (then: inconclusive)")
	fs.DurationVar(&cfg.OpTimeout, "op-timeout", 10*time.Second, "time after which an operation is a hang")
	fs.Var(paramFlag(cfg.Params), "param", "engine parameter key=value (repeatable)")
	fs.StringVar(&cfg.ServerCmd, "server-cmd", "", "for a streams-http engine: the command that starts the server, with {port} and {dir}")
	verbose := fs.Bool("v", false, "log progress")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: jepsen-lite run --engine FAMILY/ENGINE [--nemesis N,...] [flags]")
		fs.PrintDefaults()
		fmt.Fprintln(stderr)
		writeList(stderr, true)
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "jepsen-lite run: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	if err := positive(map[string]int{"ops": cfg.Ops, "clients": cfg.Clients}); err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	for name, d := range map[string]time.Duration{"duration": cfg.Duration, "check-timeout": cfg.CheckTimeout, "op-timeout": cfg.OpTimeout} {
		if d < 0 || (d == 0 && name != "duration") {
			fmt.Fprintf(stderr, "%v: --%s %v: must be positive\n", ErrUsage, name, d)
			return ExitUsage
		}
	}
	cfg.Nemeses = splitList(*nem)
	cfg.Progress = stderr
	if *verbose {
		cfg.Log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if res == nil {
			return ExitUsage
		}
	}
	fmt.Fprint(stdout, summary(res))
	return res.Verdict.ExitCode()
}

func checkMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("check-timeout", 60*time.Second, "time limit of the check (then: inconclusive)")
	timeline := fs.Bool("timeline", true, "also write timeline.html (the check then keeps partial linearizations, which is slower)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: jepsen-lite check [--check-timeout D] [--timeline=false] DIR")
		return ExitUsage
	}
	res, err := Recheck(fs.Arg(0), *timeout, *timeline)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if res == nil {
			return ExitUsage
		}
	}
	h := res.History
	fmt.Fprintf(stdout, "%s: %v in %v (%d ops, %d partitions): %s\n", h.Engine, res.Verdict, res.Check.Elapsed.Round(time.Microsecond), len(h.Ops), res.Check.Partitions, res.Reason)
	if h.Command != "" {
		fmt.Fprintf(stdout, "replay: %s\n", h.Command)
	}
	return res.Verdict.ExitCode()
}

// Recheck checks a stored history again (path is its run directory or the
// history file itself), taking the family and model from the file, and
// rewrites verdict.json and summary.txt (and timeline.html if asked)
// beside it.
func Recheck(path string, timeout time.Duration, timeline bool) (*Result, error) {
	file, dir := historyPaths(path)
	var head struct {
		Model string `json:"model"`
	}
	if err := readJSON(file, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistory, err)
	}
	if head.Model == "" {
		return nil, fmt.Errorf("%w: %s names no model (a history written by an older jepsen-lite?)", ErrHistory, file)
	}
	fam, err := LookupFamily(head.Model)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: model %q is not a registered family", ErrHistory, file, head.Model)
	}
	h, err := fam.readHistory(file)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	chk, err := fam.check(h, timeout, timeline)
	if err != nil {
		return nil, err
	}
	res := resultOf(fam, h, chk)
	res.Wall = time.Since(start)
	if err := writeVerdictAndSummary(dir, res); err != nil {
		return res, err
	}
	if timeline {
		return res, writeTimeline(dir, res)
	}
	return res, nil
}

// resultOf rebuilds a run's result from its history and a check.
func resultOf(fam Family, h *History, chk *linearizability.Result) *Result {
	res := &Result{Family: fam.Name(), History: h, Check: chk, Used: h.Nemeses, Faults: len(h.Faults), Command: h.Command}
	res.Crashes, res.Struck = struckOf(fam, h)
	res.Verdict, res.Reason = judge(fam, h, chk, len(h.Nemeses) > 0, res.Struck)
	return res
}

// struckOf counts a history's restarts, and the faults that took effect:
// the restarts and the pauses.
func struckOf(fam Family, h *History) (crashes, struck int) {
	for _, op := range h.Ops {
		if fam.isCrash(op.Input) {
			crashes++
		}
	}
	struck = crashes
	for _, w := range h.Faults {
		if w.Nemesis == "pause" || w.Nemesis == "partition" {
			struck++
		}
	}
	return crashes, struck
}

func listMain(stdout io.Writer) int {
	writeList(stdout, true)
	return ExitPass
}

// writeList prints every family's engines, mutants and nemeses; with
// where it also says where each nemesis acts on each engine (which opens
// every engine once).
func writeList(w io.Writer, where bool) {
	var names []string
	for _, n := range faults.Nemeses() {
		names = append(names, n.Name())
	}
	fmt.Fprintf(w, "nemeses: %s\n", strings.Join(names, ", "))
	for _, f := range Families() {
		fmt.Fprintf(w, "\nfamily %s: %s\n", f.Name(), f.Doc())
		fmt.Fprintln(w, "  engines:")
		var full []string
		for _, e := range f.Engines() {
			fmt.Fprintf(w, "    %s/%s\n", f.Name(), e)
			full = append(full, f.Name()+"/"+e)
		}
		if where {
			fmt.Fprintln(w, "  nemeses by engine (--target auto):")
			writeAvailability(w, full)
		}
		fmt.Fprintln(w, "  mutants:")
		for _, m := range f.Mutants() {
			fmt.Fprintf(w, "    %-44s %s\n", f.Name()+"/"+m.Name, m.Bug)
			if m.SuiteOnly != "" {
				fmt.Fprintf(w, "    %-44s (suite only: %s)\n", "", m.SuiteOnly)
			}
		}
	}
}
