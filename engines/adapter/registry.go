package adapter

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/internal/registry"
)

// Factory opens an engine. It must recover whatever the directory holds.
type Factory func(Options) (StorageAdapter, error)

var engines = registry.New[Factory]()

// Register makes an engine available to Open under a storage type name. It
// panics if the name is empty or already taken, as it runs from init
// functions.
func Register(storageType string, f Factory) {
	if storageType == "" || f == nil {
		panic("adapter: Register with an empty storage type or nil factory")
	}
	if !engines.Register(storageType, f) {
		panic(fmt.Sprintf("adapter: storage type %q registered twice", storageType))
	}
}

// Open opens the engine registered under storageType. An unregistered name
// returns an error wrapping ErrUnknownStorageType.
func Open(storageType string, o Options) (StorageAdapter, error) {
	f, ok := engines.Lookup(storageType)
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownStorageType, storageType, Engines())
	}
	return f(o)
}

// Engines lists the registered storage types, sorted.
func Engines() []string { return engines.Names() }

// CheckParams returns an error wrapping ErrBadOption naming the first
// parameter in p that is not in known.
func CheckParams(engine string, p map[string]string, known ...string) error {
	return registry.CheckParams(ErrBadOption, "engine "+engine, p, known)
}
