// Package registry holds the name-to-factory tables that the engine families
// (raftlog, adapter, streams, tiered) use to make their implementations
// available by name.
package registry

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Registry maps names to factories of type F. It is safe for concurrent use.
// The zero value is not ready; use New.
type Registry[F any] struct {
	mu sync.RWMutex
	m  map[string]F
}

// New returns an empty Registry.
func New[F any]() *Registry[F] {
	return &Registry[F]{m: map[string]F{}}
}

// Register stores f under name. It returns false, storing nothing, if the
// name is already taken. Callers check for empty names and nil factories
// themselves, since F says nothing about nil.
func (r *Registry[F]) Register(name string, f F) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		return false
	}
	r.m[name] = f
	return true
}

// Lookup returns the factory stored under name and whether there is one.
func (r *Registry[F]) Lookup(name string) (F, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.m[name]
	return f, ok
}

// Names lists the registered names, sorted.
func (r *Registry[F]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnknownParam returns the first key of p, in sorted order, that is not in
// known, or "" and false if every key is known.
func UnknownParam(p map[string]string, known []string) (string, bool) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return k, true
		}
	}
	return "", false
}

// CheckParams returns an error wrapping sentinel naming the first parameter
// in p that is not in known, or nil. label names the engine in the message
// ("engine memory" or "memory"), so each family keeps its wording.
func CheckParams(sentinel error, label string, p map[string]string, known []string) error {
	if k, bad := UnknownParam(p, known); bad {
		return fmt.Errorf("%w: %s has no parameter %q (known: %v)", sentinel, label, k, known)
	}
	return nil
}
