// Package memory is the reference tiered.RemoteLogMetadataManager: the
// metadata of remote segments kept in process memory. It keeps nothing
// across Close, enforces the whole lifecycle, and answers lookups by the
// rules written in package tiered, which makes it the executable statement
// of the RemoteLogMetadataManager contract. It registers as "memory".
package memory

import (
	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/internal/metacache"
)

func init() {
	tiered.RegisterRLMM("memory", func(o tiered.Options) (tiered.RemoteLogMetadataManager, error) { return Open(o) })
}

// Bugs plants defects for the mutant catalog; the zero value is correct.
type Bugs struct {
	// AcceptIllegalTransition lets every state change through.
	AcceptIllegalTransition bool
	// ServeCopying lets lookups return a segment still being copied.
	ServeCopying bool
}

// Manager is an in-memory RemoteLogMetadataManager.
type Manager struct {
	*metacache.Manager
}

var _ tiered.RemoteLogMetadataManager = (*Manager)(nil)

// Open returns an empty manager. It takes no parameters.
func Open(o tiered.Options) (*Manager, error) { return OpenWithBugs(o, Bugs{}) }

// OpenWithBugs returns an empty manager with the defects b plants.
func OpenWithBugs(o tiered.Options, b Bugs) (*Manager, error) {
	if err := tiered.CheckParams("memory", o.Params); err != nil {
		return nil, err
	}
	c := metacache.New()
	c.Bugs = metacache.Bugs{AcceptIllegalTransition: b.AcceptIllegalTransition, ServeCopying: b.ServeCopying}
	caps := tiered.Capabilities{Persistent: false, SyncOnWrite: true, UsesFS: false}
	return &Manager{metacache.NewManager(c, nil, caps)}, nil
}
