package streams

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Factory opens a Store. It must recover whatever the directory holds.
type Factory func(Options) (Store, error)

var (
	regMu sync.RWMutex
	reg   = map[string]Factory{}
)

// Register makes a Store available by name to Open. It panics if the name
// is empty or taken or f is nil, as it runs from init functions.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if name == "" || f == nil {
		panic("streams: register with an empty name or nil factory")
	}
	if _, dup := reg[name]; dup {
		panic(fmt.Sprintf("streams: store %q registered twice", name))
	}
	reg[name] = f
}

// Open opens the Store registered under name. An unregistered name returns
// an error wrapping ErrUnknownEngine.
func Open(name string, o Options) (Store, error) {
	regMu.RLock()
	f, ok := reg[name]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q (registered: %v)", ErrUnknownEngine, name, Names())
	}
	return f(o)
}

// Names lists the registered names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(reg))
	for n := range reg {
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
			return fmt.Errorf("%w: %s has no parameter %q (known: %v)", ErrBadOption, engine, k, known)
		}
	}
	return nil
}
