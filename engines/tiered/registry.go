package tiered

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/internal/registry"
)

// RSMFactory opens a RemoteStorageManager. It must recover whatever the
// directory holds.
type RSMFactory func(Options) (RemoteStorageManager, error)

// RLMMFactory opens a RemoteLogMetadataManager. It must recover whatever
// the directory holds.
type RLMMFactory func(Options) (RemoteLogMetadataManager, error)

// family is one registry of the package with the kind of thing it holds,
// used in panics and errors.
type family[F any] struct {
	kind string
	reg  *registry.Registry[F]
}

var (
	rsms  = family[RSMFactory]{kind: "remote storage manager", reg: registry.New[RSMFactory]()}
	rlmms = family[RLMMFactory]{kind: "remote log metadata manager", reg: registry.New[RLMMFactory]()}
)

func (r family[F]) register(name string, f F, isNil bool) {
	if name == "" || isNil {
		panic(fmt.Sprintf("tiered: register of a %s with an empty name or nil factory", r.kind))
	}
	if !r.reg.Register(name, f) {
		panic(fmt.Sprintf("tiered: %s %q registered twice", r.kind, name))
	}
}

func (r family[F]) lookup(name string) (F, error) {
	f, ok := r.reg.Lookup(name)
	if !ok {
		return f, fmt.Errorf("%w: %s %q (registered: %v)", ErrUnknownEngine, r.kind, name, r.reg.Names())
	}
	return f, nil
}

// RegisterRSM makes a RemoteStorageManager available by name to OpenRSM.
// It panics if the name is empty or already taken, as it runs from init
// functions.
func RegisterRSM(name string, f RSMFactory) { rsms.register(name, f, f == nil) }

// RegisterRLMM makes a RemoteLogMetadataManager available by name to
// OpenRLMM. It panics if the name is empty or already taken.
func RegisterRLMM(name string, f RLMMFactory) { rlmms.register(name, f, f == nil) }

// OpenRSM opens the RemoteStorageManager registered under name. An
// unregistered name returns an error wrapping ErrUnknownEngine.
func OpenRSM(name string, o Options) (RemoteStorageManager, error) {
	f, err := rsms.lookup(name)
	if err != nil {
		return nil, err
	}
	return f(o)
}

// OpenRLMM opens the RemoteLogMetadataManager registered under name. An
// unregistered name returns an error wrapping ErrUnknownEngine.
func OpenRLMM(name string, o Options) (RemoteLogMetadataManager, error) {
	f, err := rlmms.lookup(name)
	if err != nil {
		return nil, err
	}
	return f(o)
}

// RSMs lists the registered RemoteStorageManager names, sorted.
func RSMs() []string { return rsms.reg.Names() }

// RLMMs lists the registered RemoteLogMetadataManager names, sorted.
func RLMMs() []string { return rlmms.reg.Names() }

// CheckParams returns an error wrapping ErrBadOption naming the first
// parameter in p that is not in known.
func CheckParams(engine string, p map[string]string, known ...string) error {
	return registry.CheckParams(ErrBadOption, engine, p, known)
}
