package jepsenlite

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/linearizability"
)

// A Family is one storage SPI as jepsen-lite drives it: its engines and
// planted-bug engines, how to open one and run an operation on it, a
// seeded workload, and the porcupine model that checks the history. The
// scheduler, the targets (in process, child process, child on lazyfs),
// the nemeses, the history file, the verdict, the replay command and the
// campaign are the same for every family.
//
// A family is written as a Spec over its own types and registered with
// Register; jepsen-lite sees it through this interface only.
type Family interface {
	// Name is the family's name, the first part of its engines' names
	// ("raftlog" in "raftlog/file") and its histories' model name.
	Name() string
	// Doc says in a line what the family's engines store.
	Doc() string
	// Engines lists the registered engines that are not mutants.
	Engines() []string
	// Mutants lists the planted-bug engines ("mutant/NAME").
	Mutants() []Mutant
	// Declared lists the SPI methods and outcome classes the family's
	// workload sets out to reach: a campaign in which one of them never
	// occurs is inconclusive.
	Declared() (methods, outcomes []string)

	open(engine string, o OpenOptions) (handle, Info, error)
	// server returns how to run engine as a server process, or nil for
	// an engine that runs in a jepsen-lite process.
	server(engine, override string) (*ServerSpec, error)
	// cluster returns how to run engine as a cluster of node processes,
	// or nil for an engine that is not one.
	cluster(engine string, params map[string]string) (*ClusterSpec, error)
	decodeWork(b []byte) (any, error)
	decodeTraits(b []byte) (any, error)
	decodeOutput(b []byte) (any, error)
	newWorkload(seed uint64, clients int, info Info) workload
	unknown(why string) any
	zeroOutput() any
	isUnknown(out any) bool
	crashInput(detail string) any
	isCrash(in any) bool
	input(work any) any
	method(in any) string
	outcome(out any) string
	check(h *History, timeout time.Duration, verbose bool) (*linearizability.Result, error)
	readHistory(path string) (*History, error)
}

// Mutant is a planted-bug engine.
type Mutant struct {
	// Name is its name within the family ("mutant/ack-before-fsync").
	Name string
	// Bug says what it gets wrong.
	Bug string
	// SuiteOnly, when set, says why no run can reach the bug and which
	// conformance case catches it instead; campaigns list it, unrun.
	SuiteOnly string
}

// OpenOptions say where an engine is opened.
type OpenOptions struct {
	// Dir is the engine's directory.
	Dir string
	// FS is the file system it must write through; nil means the
	// operating system's. A family whose engine cannot write through a
	// given FS returns an error wrapping ErrNoFS.
	FS vfs.FS
	// Params are the engine's parameters.
	Params map[string]string
}

// Info is what an opened engine declares.
type Info struct {
	// Persistent engines keep their state across a restart.
	Persistent bool `json:"persistent"`
	// SyncOnWrite engines make each acknowledged mutation durable.
	SyncOnWrite bool `json:"sync_on_write"`
	// UsesFS engines write every file through OpenOptions.FS.
	UsesFS bool `json:"uses_fs"`
	// Traits are the family model's view of the engine's declarations.
	Traits any `json:"traits,omitempty"`
}

// handle is an opened engine.
type handle interface {
	// apply runs one work item and returns its output. It may panic or
	// hang: the caller guards it.
	apply(work any) any
	close() error
}

// workload generates the operations of a run. It is driven by one
// goroutine, the scheduler, so it may keep shared state without locks;
// every choice comes from the seed it was made with.
type workload interface {
	// next returns the next work item of client, which has nothing in
	// flight.
	next(client int) any
	// observe tells the workload what an operation returned (an unknown
	// output for an unknown outcome).
	observe(client int, work, out any)
	// crashed tells the workload the engine restarted: what was not
	// durable may be gone.
	crashed()
	// final returns the next batch of read-back operations once the run
	// is over, nil when there are no more; the outputs of a batch are
	// observed before the next is asked for.
	final() []any
}

// Spec is a family written over its own types: E is an opened engine, W a
// work item (a JSON value a child process can run), In and Out the
// model's operation types and T the model's traits.
type Spec[E, W, In, Out, T any] struct {
	Name string
	Doc  string
	// Engines lists the family's registered engines, mutants included
	// (named "mutant/...").
	Engines func() []string
	// Mutants lists the planted-bug engines with what each gets wrong.
	Mutants func() []Mutant
	// Open opens engine as OpenOptions say and returns its declarations.
	// For a family of servers it opens the client of the server whose URL
	// is in Params["url"].
	Open func(engine string, o OpenOptions) (E, Info, T, error)
	// Server, for a family whose engines are server processes, returns
	// how to run one (override is the --server-cmd template, if any).
	Server func(engine, override string) (*ServerSpec, error)
	// Cluster, for a family whose engines are clusters of node processes
	// (see cluster.go), returns how to run one with the run's parameters;
	// Open, Apply and Close are then never called.
	Cluster func(engine string, params map[string]string) (*ClusterSpec, error)
	// Close closes an engine.
	Close func(E) error
	// Apply runs w on e.
	Apply func(e E, w W) Out
	// Input is the model's input for w.
	Input func(w W) In
	// Workload returns the workload of one run.
	Workload func(seed uint64, clients int, info Info, tr T) TypedWorkload[W, Out]
	// Unknown is the output of an operation whose outcome is not known.
	Unknown func(why string) Out
	// IsUnknown reports whether out is such an output.
	IsUnknown func(out Out) bool
	// Crash is the input recording a crash and restart.
	Crash func(detail string) In
	// IsCrash reports whether in records a crash.
	IsCrash func(in In) bool
	// Method names the SPI method an input calls, and Outcome the class
	// of an output ("ok", "not_found", ...), for the run's coverage.
	Method  func(in In) string
	Outcome func(out Out) string
	// Methods and Outcomes are what the workload sets out to reach
	// across a campaign's seeds (see Family.Declared).
	Methods, Outcomes []string
	// Check checks a history.
	Check func(h *linearizability.History[In, Out, T], timeout time.Duration, verbose bool) *linearizability.Result
}

// TypedWorkload is a workload over a family's own types; see workload.
type TypedWorkload[W, Out any] interface {
	Next(client int) W
	Observe(client int, w W, out Out)
	Crashed()
	Final() []W
}

// History is a recorded run of any family, as the runner holds it: the
// inputs and outputs are the family's own types.
type History = linearizability.History[any, any, any]

// Family returns s as a Family.
func (s Spec[E, W, In, Out, T]) Family() Family { return spec[E, W, In, Out, T]{s} }

type spec[E, W, In, Out, T any] struct{ s Spec[E, W, In, Out, T] }

func (f spec[E, W, In, Out, T]) Name() string { return f.s.Name }
func (f spec[E, W, In, Out, T]) Doc() string  { return f.s.Doc }

func (f spec[E, W, In, Out, T]) Engines() []string {
	var out []string
	for _, e := range f.s.Engines() {
		if !strings.HasPrefix(e, "mutant/") {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

func (f spec[E, W, In, Out, T]) Declared() (methods, outcomes []string) {
	return slices.Clone(f.s.Methods), slices.Clone(f.s.Outcomes)
}

func (f spec[E, W, In, Out, T]) Mutants() []Mutant {
	if f.s.Mutants == nil {
		return nil
	}
	m := f.s.Mutants()
	slices.SortFunc(m, func(a, b Mutant) int { return strings.Compare(a.Name, b.Name) })
	return m
}

func (f spec[E, W, In, Out, T]) open(engine string, o OpenOptions) (handle, Info, error) {
	e, info, tr, err := f.s.Open(engine, o)
	if err != nil {
		return nil, Info{}, err
	}
	info.Traits = tr
	return &specHandle[E, W, Out]{e: e, applyFn: f.s.Apply, closeFn: f.s.Close}, info, nil
}

type specHandle[E, W, Out any] struct {
	e       E
	applyFn func(E, W) Out
	closeFn func(E) error
}

func (h *specHandle[E, W, Out]) apply(w any) any { return h.applyFn(h.e, w.(W)) }
func (h *specHandle[E, W, Out]) close() error    { return h.closeFn(h.e) }

func (f spec[E, W, In, Out, T]) decodeWork(b []byte) (any, error) {
	var w W
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %s work: %w", ErrProtocol, f.s.Name, err)
	}
	return w, nil
}

func (f spec[E, W, In, Out, T]) server(engine, override string) (*ServerSpec, error) {
	if f.s.Server == nil {
		return nil, nil
	}
	return f.s.Server(engine, override)
}

func (f spec[E, W, In, Out, T]) cluster(engine string, params map[string]string) (*ClusterSpec, error) {
	if f.s.Cluster == nil {
		return nil, nil
	}
	return f.s.Cluster(engine, params)
}

func (f spec[E, W, In, Out, T]) decodeOutput(b []byte) (any, error) {
	var o Out
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%w: %s output: %w", ErrProtocol, f.s.Name, err)
	}
	return o, nil
}

func (f spec[E, W, In, Out, T]) decodeTraits(b []byte) (any, error) {
	var t T
	if len(b) > 0 {
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("%w: %s traits: %w", ErrProtocol, f.s.Name, err)
		}
	}
	return t, nil
}

func (f spec[E, W, In, Out, T]) newWorkload(seed uint64, clients int, info Info) workload {
	tr, _ := info.Traits.(T)
	return erasedWorkload[W, Out]{f.s.Workload(seed, clients, info, tr)}
}

type erasedWorkload[W, Out any] struct{ w TypedWorkload[W, Out] }

func (e erasedWorkload[W, Out]) next(client int) any { return e.w.Next(client) }
func (e erasedWorkload[W, Out]) observe(client int, w, out any) {
	e.w.Observe(client, w.(W), out.(Out))
}
func (e erasedWorkload[W, Out]) crashed() { e.w.Crashed() }
func (e erasedWorkload[W, Out]) final() []any {
	ws := e.w.Final()
	if len(ws) == 0 {
		return nil
	}
	out := make([]any, len(ws))
	for i, w := range ws {
		out[i] = w
	}
	return out
}

func (f spec[E, W, In, Out, T]) unknown(why string) any { return f.s.Unknown(why) }
func (f spec[E, W, In, Out, T]) zeroOutput() any {
	var o Out
	return o
}
func (f spec[E, W, In, Out, T]) isUnknown(out any) bool {
	o, ok := out.(Out)
	return !ok || f.s.IsUnknown(o)
}
func (f spec[E, W, In, Out, T]) crashInput(detail string) any { return f.s.Crash(detail) }
func (f spec[E, W, In, Out, T]) isCrash(in any) bool {
	i, ok := in.(In)
	return ok && f.s.IsCrash(i)
}
func (f spec[E, W, In, Out, T]) input(w any) any { return f.s.Input(w.(W)) }
func (f spec[E, W, In, Out, T]) method(in any) string {
	i, ok := in.(In)
	if !ok {
		return "?"
	}
	return f.s.Method(i)
}
func (f spec[E, W, In, Out, T]) outcome(out any) string {
	o, ok := out.(Out)
	if !ok {
		return "?"
	}
	return f.s.Outcome(o)
}

// typed converts a history of this family to the model's types.
func (f spec[E, W, In, Out, T]) typed(h *History) (*linearizability.History[In, Out, T], error) {
	th := &linearizability.History[In, Out, T]{
		Model: h.Model, Engine: h.Engine, Seed: h.Seed, Nemeses: h.Nemeses, Clock: h.Clock,
		Faults: h.Faults, Failures: h.Failures, Command: h.Command, Target: h.Target,
		Profile: h.Profile, Interrupted: h.Interrupted, Coverage: h.Coverage,
	}
	if h.Traits != nil {
		tr, ok := h.Traits.(T)
		if !ok {
			return nil, fmt.Errorf("%w: %s history has traits of type %T", ErrHistory, f.s.Name, h.Traits)
		}
		th.Traits = tr
	}
	th.Ops = make([]linearizability.Op[In, Out], len(h.Ops))
	for i, op := range h.Ops {
		in, iok := op.Input.(In)
		out, ook := op.Output.(Out)
		if !iok || !ook {
			return nil, fmt.Errorf("%w: %s history op %d has types %T, %T", ErrHistory, f.s.Name, i, op.Input, op.Output)
		}
		th.Ops[i] = linearizability.Op[In, Out]{Client: op.Client, Input: in, Output: out, Call: op.Call, Return: op.Return}
	}
	return th, nil
}

func (f spec[E, W, In, Out, T]) check(h *History, timeout time.Duration, verbose bool) (*linearizability.Result, error) {
	th, err := f.typed(h)
	if err != nil {
		return nil, err
	}
	return f.s.Check(th, timeout, verbose), nil
}

// readHistory reads a history file of this family into the runner's
// erased form.
func (f spec[E, W, In, Out, T]) readHistory(path string) (*History, error) {
	th, err := linearizability.ReadHistory[In, Out, T](path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistory, err)
	}
	if th.Model != f.s.Name {
		return nil, fmt.Errorf("%w: %s is a %q history, not %q", ErrHistory, path, th.Model, f.s.Name)
	}
	h := &History{
		Model: th.Model, Engine: th.Engine, Traits: th.Traits, Seed: th.Seed, Nemeses: th.Nemeses,
		Clock: th.Clock, Faults: th.Faults, Failures: th.Failures, Command: th.Command,
		Target: th.Target, Profile: th.Profile, Interrupted: th.Interrupted, Coverage: th.Coverage,
	}
	h.Ops = make([]linearizability.Op[any, any], len(th.Ops))
	for i, op := range th.Ops {
		h.Ops[i] = linearizability.Op[any, any]{Client: op.Client, Input: op.Input, Output: op.Output, Call: op.Call, Return: op.Return}
	}
	return h, nil
}

var families = struct {
	sync.RWMutex
	m map[string]Family
}{m: map[string]Family{}}

// Register makes a family available to jepsen-lite by its name. It
// panics on a duplicate name, as it runs from init functions.
func Register(f Family) {
	families.Lock()
	defer families.Unlock()
	if _, dup := families.m[f.Name()]; dup {
		panic(fmt.Sprintf("jepsenlite: family %q registered twice", f.Name()))
	}
	families.m[f.Name()] = f
}

// Families lists the registered families, sorted by name.
func Families() []Family {
	families.RLock()
	defer families.RUnlock()
	out := make([]Family, 0, len(families.m))
	for _, f := range families.m {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Family) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// LookupFamily returns the family registered under name.
func LookupFamily(name string) (Family, error) {
	families.RLock()
	defer families.RUnlock()
	f, ok := families.m[name]
	if !ok {
		names := make([]string, 0, len(families.m))
		for n := range families.m {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w: unknown family %q (registered: %v)", ErrUsage, name, names)
	}
	return f, nil
}

// ResolveEngine splits a jepsen-lite engine name, FAMILY/ENGINE, into its
// family and the engine's name within it. A bare name is a raftlog
// engine, as in earlier releases ("file" is "raftlog/file").
func ResolveEngine(name string) (Family, string, error) {
	if name == "" {
		return nil, "", fmt.Errorf("%w: --engine is required (see jepsen-lite list)", ErrUsage)
	}
	fam, rest, ok := strings.Cut(name, "/")
	if ok {
		if f, err := LookupFamily(fam); err == nil {
			return f, rest, nil
		}
	}
	f, err := LookupFamily("raftlog")
	if err != nil {
		return nil, "", err
	}
	return f, name, nil
}

// checkEngine reports whether engine is registered in f, mutants
// included.
func checkEngine(f Family, engine string) error {
	if slices.Contains(f.Engines(), engine) || slices.ContainsFunc(f.Mutants(), func(m Mutant) bool { return m.Name == engine }) {
		return nil
	}
	var names []string
	names = append(names, f.Engines()...)
	for _, m := range f.Mutants() {
		names = append(names, m.Name)
	}
	return fmt.Errorf("%w: unknown %s engine %q (registered: %s)", ErrUsage, f.Name(), engine, strings.Join(names, ", "))
}
