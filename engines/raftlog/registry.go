package raftlog

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/internal/registry"
)

// Factory opens an engine. It must recover whatever the directory holds.
type Factory func(Options) (Engine, error)

var engines = registry.New[Factory]()

// Register makes an engine available by name to Open. It panics if the name
// is empty or already taken, as it runs from init functions.
func Register(name string, f Factory) {
	if name == "" || f == nil {
		panic("raftlog: Register with an empty name or nil factory")
	}
	if !engines.Register(name, f) {
		panic(fmt.Sprintf("raftlog: engine %q registered twice", name))
	}
}

// Open opens the engine registered under name.
func Open(name string, o Options) (Engine, error) {
	f, ok := engines.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownEngine, name, Engines())
	}
	return f(o)
}

// Engines lists the registered names, sorted.
func Engines() []string { return engines.Names() }

// CheckParams returns an error wrapping ErrBadOption naming the first
// parameter in p that is not in known.
func CheckParams(engine string, p map[string]string, known ...string) error {
	return registry.CheckParams(ErrBadOption, "engine "+engine, p, known)
}
