package adapter

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Factory opens an engine. It must recover whatever the directory holds.
type Factory func(Options) (StorageAdapter, error)

var registry = struct {
	sync.RWMutex
	m map[string]Factory
}{m: map[string]Factory{}}

// Register makes an engine available to Open under a storage type name. It
// panics if the name is empty or already taken, as it runs from init
// functions.
func Register(storageType string, f Factory) {
	registry.Lock()
	defer registry.Unlock()
	if storageType == "" || f == nil {
		panic("adapter: Register with an empty storage type or nil factory")
	}
	if _, dup := registry.m[storageType]; dup {
		panic(fmt.Sprintf("adapter: storage type %q registered twice", storageType))
	}
	registry.m[storageType] = f
}

// Open opens the engine registered under storageType. An unregistered name
// returns an error wrapping ErrUnknownStorageType.
func Open(storageType string, o Options) (StorageAdapter, error) {
	registry.RLock()
	f, ok := registry.m[storageType]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownStorageType, storageType, Engines())
	}
	return f(o)
}

// Engines lists the registered storage types, sorted.
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
