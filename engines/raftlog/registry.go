package raftlog

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Factory opens an engine. It must recover whatever the directory holds.
type Factory func(Options) (Engine, error)

var registry = struct {
	sync.RWMutex
	m map[string]Factory
}{m: map[string]Factory{}}

// Register makes an engine available by name to Open. It panics if the name
// is empty or already taken, as it runs from init functions.
func Register(name string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	if name == "" || f == nil {
		panic("raftlog: Register with an empty name or nil factory")
	}
	if _, dup := registry.m[name]; dup {
		panic(fmt.Sprintf("raftlog: engine %q registered twice", name))
	}
	registry.m[name] = f
}

// Open opens the engine registered under name.
func Open(name string, o Options) (Engine, error) {
	registry.RLock()
	f, ok := registry.m[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownEngine, name, Engines())
	}
	return f(o)
}

// Engines lists the registered names, sorted.
func Engines() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckParams returns an error wrapping ErrBadOption naming the first
// parameter in p that is not in known.
func CheckParams(engine string, p map[string]string, known ...string) error {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return fmt.Errorf("%w: engine %s has no parameter %q (known: %v)", ErrBadOption, engine, k, known)
		}
	}
	return nil
}
