package tiered

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// RSMFactory opens a RemoteStorageManager. It must recover whatever the
// directory holds.
type RSMFactory func(Options) (RemoteStorageManager, error)

// RLMMFactory opens a RemoteLogMetadataManager. It must recover whatever
// the directory holds.
type RLMMFactory func(Options) (RemoteLogMetadataManager, error)

type registry[F any] struct {
	kind string
	mu   sync.RWMutex
	m    map[string]F
}

var (
	rsms  = &registry[RSMFactory]{kind: "remote storage manager", m: map[string]RSMFactory{}}
	rlmms = &registry[RLMMFactory]{kind: "remote log metadata manager", m: map[string]RLMMFactory{}}
)

func (r *registry[F]) register(name string, f F, isNil bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" || isNil {
		panic(fmt.Sprintf("tiered: register of a %s with an empty name or nil factory", r.kind))
	}
	if _, dup := r.m[name]; dup {
		panic(fmt.Sprintf("tiered: %s %q registered twice", r.kind, name))
	}
	r.m[name] = f
}

func (r *registry[F]) lookup(name string) (F, error) {
	r.mu.RLock()
	f, ok := r.m[name]
	r.mu.RUnlock()
	if !ok {
		return f, fmt.Errorf("%w: %s %q (registered: %v)", ErrUnknownEngine, r.kind, name, r.names())
	}
	return f, nil
}

func (r *registry[F]) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
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
func RSMs() []string { return rsms.names() }

// RLMMs lists the registered RemoteLogMetadataManager names, sorted.
func RLMMs() []string { return rlmms.names() }

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
