package jepsenlite

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
	"github.com/ordeal-dev/ordeal/linearizability/raftlogmodel"
	"github.com/ordeal-dev/ordeal/linearizability/streamsmodel"
)

// Exit codes.
const (
	ExitPass         = 0
	ExitViolation    = 1
	ExitUsage        = 2
	ExitInconclusive = 3
)

// Mutant describes a planted-bug engine for `list`.
type Mutant struct {
	// Name is its registered engine name ("mutant/ack-before-fsync").
	Name string
	// Bug says what it gets wrong.
	Bug string
}

// Mutants, when set, lists the planted-bug engines for `list`; package
// mutants sets it when imported.
var Mutants func() []Mutant

const usage = `usage: jepsen-lite <command> [flags]

commands:
  run       run one seeded campaign against an engine and check it
  check     re-check a stored history: jepsen-lite check DIR
  list      list engines, nemeses and mutants
  campaign  run every engine x nemesis x K seeds: --suite quick|release|nightly
  node      serve an engine over stdin/stdout (started by run for process faults)

exit codes: 0 pass, 1 violation, 2 usage or setup error, 3 inconclusive
`

// Main runs the command with args (without the program name) and returns
// its exit code.
func Main(args []string) int {
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
	case "node":
		return nodeMain(args[1:], stdin, stdout, stderr)
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

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{Params: paramFlag{}}
	fs.StringVar(&cfg.Engine, "engine", "", "raftlog engine (see list)")
	nem := fs.String("nemesis", "", "nemeses to mix, comma-separated: crash,fsync,kill,pause")
	fs.StringVar(&cfg.Target, "target", "auto", "where the engine runs: auto, inproc, process, lazyfs")
	fs.IntVar(&cfg.Clients, "clients", 3, "logical clients")
	fs.IntVar(&cfg.Ops, "ops", 1000, "client operations")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop issuing operations after this wall time (the replay line names the ops issued)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed")
	fs.StringVar(&cfg.Out, "out", "", "directory for history.json, verdict.json, timeline.html, summary.txt")
	fs.DurationVar(&cfg.CheckTimeout, "check-timeout", 60*time.Second, "time limit of the check (then: inconclusive)")
	fs.DurationVar(&cfg.OpTimeout, "op-timeout", 10*time.Second, "time after which an operation is a hang")
	fs.Var(paramFlag(cfg.Params), "param", "engine parameter key=value (repeatable)")
	verbose := fs.Bool("v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	cfg.Nemeses = splitList(*nem)
	if *verbose {
		cfg.Log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if IsAdapterEngine(cfg.Engine) {
		return adapterRunMain(ctx, cfg, stdout, stderr)
	}
	if IsStreamsEngine(cfg.Engine) {
		return streamsRunMain(ctx, cfg, stdout, stderr)
	}
	if IsTieredEngine(cfg.Engine) {
		return tieredRunMain(ctx, cfg, stdout, stderr)
	}
	res, err := Run(ctx, cfg)
	return reportRun(stdout, stderr, err, res != nil, func() (string, int) { return summary(res), res.Verdict.ExitCode() })
}

// verdictFile is verdict.json.
type verdictFile struct {
	Verdict    linearizability.Verdict `json:"verdict"`
	Reason     string                  `json:"reason"`
	Engine     string                  `json:"engine"`
	Seed       uint64                  `json:"seed"`
	Ops        int                     `json:"ops"`
	Faults     int                     `json:"faults"`
	Partitions int                     `json:"partitions"`
	CheckMS    float64                 `json:"check_ms"`
	Failures   []string                `json:"failures,omitempty"`
	Command    string                  `json:"command"`
}

// Recheck checks a stored history again (dir holds history.json, or is
// the file itself) and rewrites the verdict, and the timeline if asked,
// beside it.
func Recheck(path string, timeout time.Duration, timeline bool) (*raftlogmodel.Result, *raftlogmodel.History, error) {
	return recheck(path, timeout, timeline, raftlogmodel.ReadFile, raftlogmodel.Check)
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
	if isAdapterHistory(fs.Arg(0)) {
		return adapterCheckMain(fs.Arg(0), *timeout, *timeline, stdout, stderr)
	}
	if streamsmodel.IsHistory(fs.Arg(0)) {
		return streamsCheckMain(fs.Arg(0), *timeout, *timeline, stdout, stderr)
	}
	res, h, err := Recheck(fs.Arg(0), *timeout, *timeline)
	return reportCheck(stdout, stderr, res, h, err)
}

func listMain(stdout io.Writer) int {
	var mutants []Mutant
	if Mutants != nil {
		mutants = Mutants()
	}
	isMutant := map[string]bool{}
	for _, m := range mutants {
		isMutant[m.Name] = true
	}
	fmt.Fprintln(stdout, "engines:")
	for _, e := range ReferenceEngines() {
		fmt.Fprintf(stdout, "  %s\n", e)
	}
	listAdapterEngines(stdout)
	listStreamsEngines(stdout)
	listTieredEngines(stdout)
	fmt.Fprintln(stdout, "nemeses:")
	for _, n := range faults.Nemeses() {
		fmt.Fprintf(stdout, "  %s\n", n.Name())
	}
	writeAvailability(stdout, ReferenceEngines())
	fmt.Fprintln(stdout, "mutants:")
	for _, m := range mutants {
		fmt.Fprintf(stdout, "  %-40s %s\n", m.Name, m.Bug)
	}
	listAdapterMutants(stdout)
	listStreamsMutants(stdout)
	listTieredMutants(stdout)
	return ExitPass
}

// ReferenceEngines lists the registered engines that are not mutants.
func ReferenceEngines() []string {
	var out []string
	for _, e := range raftlog.Engines() {
		if !strings.HasPrefix(e, "mutant/") {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}
