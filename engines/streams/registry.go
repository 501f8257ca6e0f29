package streams

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/internal/registry"
)

// Factory opens a Store. It must recover whatever the directory holds.
type Factory func(Options) (Store, error)

var stores = registry.New[Factory]()

// Register makes a Store available by name to Open. It panics if the name
// is empty or taken or f is nil, as it runs from init functions.
func Register(name string, f Factory) {
	if name == "" || f == nil {
		panic("streams: register with an empty name or nil factory")
	}
	if !stores.Register(name, f) {
		panic(fmt.Sprintf("streams: store %q registered twice", name))
	}
}

// Open opens the Store registered under name. An unregistered name returns
// an error wrapping ErrUnknownEngine.
func Open(name string, o Options) (Store, error) {
	f, ok := stores.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q (registered: %v)", ErrUnknownEngine, name, Names())
	}
	return f(o)
}

// Names lists the registered names, sorted.
func Names() []string { return stores.Names() }

// CheckParams returns an error wrapping ErrBadOption naming the first
// parameter in p that is not in known.
func CheckParams(engine string, p map[string]string, known ...string) error {
	return registry.CheckParams(ErrBadOption, engine, p, known)
}
