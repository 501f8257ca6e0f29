package workloads

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// OpInfo describes one operation of a family.
type OpInfo struct {
	Name string
	Doc  string
	// Primary marks the operations whose items make the workload's item
	// throughput (raftlog: append, whose items are entries written).
	Primary bool
}

// Param is a family parameter a spec may set under params.
type Param struct {
	Name    string
	Default string
	Doc     string
	// Check validates a value; nil accepts anything.
	Check func(string) error
}

// Env is what a family opens an engine with.
type Env struct {
	// Dir is an empty scratch directory for the engine's files.
	Dir string
	// Seed seeds whatever the family generates outside the workers.
	Seed uint64
	// EngineParams are passed to the engine (raftlog.Options.Params).
	EngineParams map[string]string
}

// Family drives one storage SPI: it knows the SPI's operations, opens its
// engines and runs operations against them. Families register with
// RegisterFamily from init functions; adding the message-queue adapter,
// tiered storage or streams means writing one Family each.
type Family interface {
	// Name is the family's name, the prefix of its engines' names
	// ("raftlog" for "raftlog/file").
	Name() string
	Doc() string
	// Ops lists the operations a mix may name; a Worker's Do receives an
	// index into this list.
	Ops() []OpInfo
	// Params lists the parameters a spec may set.
	Params() []Param
	// ItemUnit names what a primary operation's items are ("entries").
	ItemUnit() string
	// Engines lists the engine names (without the family prefix), the
	// baseline included.
	Engines() []string
	// Baseline names the engine every other one is reported against as a
	// fraction of its item throughput, or "".
	Baseline() string
	// Supports reports whether an engine can run a workload (the baseline
	// may run only part of a family's operations).
	Supports(engine string, s *Spec) bool
	// Validate checks what only the family knows: impossible mixes,
	// parameters that contradict each other. It is called after the generic
	// checks passed.
	Validate(s *Spec) []FieldError
	// Open opens an engine for a workload.
	Open(ctx context.Context, engine string, s *Spec, env Env) (Target, error)
	// ErrorKind names the kind of an error an operation returned, for the
	// per-kind error counts ("compacted", "io", "other").
	ErrorKind(err error) string
}

// Target is an engine opened for one workload run.
type Target interface {
	// Preload writes the spec's preload items, using g for sizes and data.
	Preload(ctx context.Context, g *Gen) error
	// NewWorker returns the state of one driver worker. Workers run
	// concurrently; each is used by one goroutine.
	NewWorker(id int) Worker
	// Close releases the engine.
	Close() error
}

// Worker runs operations for one driver goroutine.
type Worker interface {
	// Do runs operation op (an index into Family.Ops) and reports the work
	// done.
	Do(op int, g *Gen) (Work, error)
}

// Work is what one operation did.
type Work struct {
	Items        int64
	BytesRead    int64
	BytesWritten int64
}

var families = struct {
	sync.RWMutex
	m map[string]Family
}{m: map[string]Family{}}

// RegisterFamily makes a family available by name. It panics on a duplicate
// or empty name, as it runs from init functions.
func RegisterFamily(f Family) {
	families.Lock()
	defer families.Unlock()
	if f == nil || f.Name() == "" {
		panic("workloads: RegisterFamily with a nil family or an empty name")
	}
	if _, dup := families.m[f.Name()]; dup {
		panic(fmt.Sprintf("workloads: family %q registered twice", f.Name()))
	}
	families.m[f.Name()] = f
}

// LookupFamily returns the family registered under name.
func LookupFamily(name string) (Family, error) {
	families.RLock()
	defer families.RUnlock()
	f, ok := families.m[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownFamily, name)
	}
	return f, nil
}

// FamilyNames lists the registered families, sorted.
func FamilyNames() []string {
	families.RLock()
	defer families.RUnlock()
	names := make([]string, 0, len(families.m))
	for n := range families.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// EngineNames lists every engine of every family as "family/name", sorted.
func EngineNames() []string {
	var out []string
	for _, fn := range FamilyNames() {
		f, err := LookupFamily(fn)
		if err != nil {
			continue
		}
		for _, e := range f.Engines() {
			out = append(out, fn+"/"+e)
		}
	}
	sort.Strings(out)
	return out
}

func opNames(f Family) []string {
	ops := f.Ops()
	names := make([]string, len(ops))
	for i, o := range ops {
		names[i] = o.Name
	}
	return names
}

func opIndex(f Family, name string) int { return slices.Index(opNames(f), name) }

// ErrorName names a sentinel error for Family.ErrorKind.
type ErrorName struct {
	Err  error
	Name string
}

// KindOf returns the name of the first sentinel in names that err wraps, or
// "other": the usual Family.ErrorKind.
func KindOf(err error, names ...ErrorName) string {
	for _, n := range names {
		if errors.Is(err, n.Err) {
			return n.Name
		}
	}
	return "other"
}
