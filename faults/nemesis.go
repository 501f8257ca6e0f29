package faults

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// Traits say what a Target offers a nemesis.
type Traits struct {
	// UsesFS means the engine's files live on a crashable in-memory Disk
	// the target controls (see DiskTarget).
	UsesFS bool
	// Persistent means the engine keeps its state across a restart.
	Persistent bool
	// Process means the engine runs in a child process the target can
	// signal and start again (see ProcessTarget).
	Process bool
	// Mount means the engine's child process keeps its files on a file
	// system that can lose power and fail syncs, such as faults/lazyfs
	// (see MountTarget).
	Mount bool
}

// Target is the system a nemesis acts on. A nemesis asks for the optional
// interface it needs (DiskTarget, ProcessTarget) and reports ErrUnavailable
// when the target lacks it.
type Target interface {
	Traits() Traits
}

// DiskTarget is a target whose engine works in process on a Disk.
type DiskTarget interface {
	Target
	// Disk returns the disk the engine works on now.
	Disk() *Disk
	// Slot returns the injector slot every file-system operation of the
	// engine goes through; nemeses put their injectors in it.
	Slot() *Slot
	// Reopen abandons the engine (closing it without a flush, as a crash
	// would) and opens it again on d, which recovers what d holds.
	Reopen(ctx context.Context, d *Disk) error
}

// ProcessTarget is a target whose engine runs in a child process.
type ProcessTarget interface {
	Target
	// Signal sends sig to the child process.
	Signal(sig syscall.Signal) error
	// Respawn waits for the child to be gone (killing it if need be) and
	// starts it again; the new child recovers the engine's files.
	Respawn(ctx context.Context) error
}

// KillArmer is a ProcessTarget whose child can kill itself inside an
// operation: at the n-th sync its engine makes, the moment something
// becomes durable.
type KillArmer interface {
	ProcessTarget
	// CanArmKill reports whether the child can do it (its engine writes
	// through a file system the child wraps).
	CanArmKill() bool
	// ArmKill makes the child kill itself at its n-th sync from now.
	ArmKill(n int) error
	// Died reports whether the armed kill struck since the last start.
	Died() bool
}

// MountTarget is a target whose engine runs in a child process on a file
// system the target can crash: engines that write around Options.FS (bbolt
// maps its file) are crashed this way.
type MountTarget interface {
	Target
	// PowerCycle kills the child with SIGKILL, cuts the power of its file
	// system, keeping a seeded share pct (0 to 100) of what was not
	// synced, and starts the child again, which recovers what survived.
	PowerCycle(ctx context.Context, seed uint64, pct int) error
	// Restart kills the child and starts it again without a power loss:
	// what the engine wrote and did not sync survives, as in a page cache.
	Restart(ctx context.Context) error
	// FailNextSync makes the next n syncs of a file fail with EIO, with
	// Linux semantics (the unsynced data is never written); n <= 0 clears
	// failures not yet used.
	FailNextSync(n int) error
	// FailedSyncs counts the syncs failed so far.
	FailedSyncs() int64
}

// Nemesis injects one kind of fault. Implementations are stateless: every
// fault's parameters come from the generator passed to Inject, so a seed
// replays the same faults.
type Nemesis interface {
	// Name is the nemesis's registered name ("crash", "kill", ...).
	Name() string
	// Available returns nil if the nemesis can act on t, else an error
	// wrapping ErrUnavailable that says why.
	Available(t Target) error
	// Inject starts one fault on t, drawing its parameters from rng. The
	// fault may be over on return, or armed (see Fault.Await).
	Inject(ctx context.Context, log *slog.Logger, t Target, rng *rand.Rand) (*Fault, error)
}

// Fault is one fault a nemesis started.
type Fault struct {
	// Nemesis names the nemesis.
	Nemesis string
	// Detail says what was done, for the history and the timeline.
	Detail string
	// Restarted is set once the fault took the engine down and brought it
	// back: the operations in flight lost their responses.
	Restarted bool
	// CutLast is set when the fault struck inside the last operation run,
	// whose response (if any) came from an engine already dead.
	CutLast bool

	await func(ctx context.Context, f *Fault) (bool, error)
	done  bool
}

// Done reports whether the fault is over.
func (f *Fault) Done() bool { return f.done || f.await == nil }

// Await is called after every operation while the fault is not Done; it
// lets an armed fault fire, or end, and reports whether it is over. It
// returns an error if the target could not be brought back.
func (f *Fault) Await(ctx context.Context) (bool, error) {
	if f.Done() {
		return true, nil
	}
	done, err := f.await(ctx, f)
	f.done = done
	return done, err
}

var nemesisRegistry = struct {
	sync.RWMutex
	m map[string]Nemesis
}{m: map[string]Nemesis{}}

// RegisterNemesis makes a nemesis available by name. It panics on an empty
// or duplicate name, as it runs from init functions.
func RegisterNemesis(n Nemesis) {
	nemesisRegistry.Lock()
	defer nemesisRegistry.Unlock()
	if n == nil || n.Name() == "" {
		panic("faults: RegisterNemesis with a nil nemesis or an empty name")
	}
	if _, dup := nemesisRegistry.m[n.Name()]; dup {
		panic(fmt.Sprintf("faults: nemesis %q registered twice", n.Name()))
	}
	nemesisRegistry.m[n.Name()] = n
}

// LookupNemesis returns the nemesis registered under name.
func LookupNemesis(name string) (Nemesis, error) {
	nemesisRegistry.RLock()
	defer nemesisRegistry.RUnlock()
	n, ok := nemesisRegistry.m[name]
	if !ok {
		names := make([]string, 0, len(nemesisRegistry.m))
		for k := range nemesisRegistry.m {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w %q (registered: %v)", ErrUnknownNemesis, name, names)
	}
	return n, nil
}

// Nemeses lists the registered nemeses, sorted by name.
func Nemeses() []Nemesis {
	nemesisRegistry.RLock()
	defer nemesisRegistry.RUnlock()
	out := make([]Nemesis, 0, len(nemesisRegistry.m))
	for _, n := range nemesisRegistry.m {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Nemesis) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

func init() {
	RegisterNemesis(crashNemesis{})
	RegisterNemesis(fsyncNemesis{})
	RegisterNemesis(killNemesis{})
	RegisterNemesis(pauseNemesis{})
}

// Slot is an injector that delegates to whichever injector was last Set
// (none at first). A target routes its engine's file system through one
// slot so that nemeses can come and go. Its sync operations may fail, so a
// file system wrapped around it holds unsynced writes in memory (see FS).
type Slot struct {
	mu  sync.Mutex
	inj Injector
}

var (
	_ Injector  = (*Slot)(nil)
	_ MayFailer = (*Slot)(nil)
)

// Set routes every later operation to inj; nil fails nothing.
func (s *Slot) Set(inj Injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inj = inj
}

func (s *Slot) current() Injector {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inj == nil {
		return None
	}
	return s.inj
}

// String implements Injector.
func (s *Slot) String() string { return "slot(" + s.current().String() + ")" }

// MaybeError implements Injector.
func (s *Slot) MaybeError(op Op) error { return s.current().MaybeError(op) }

// MayFail implements MayFailer: any operation may fail once a nemesis sets
// an injector.
func (s *Slot) MayFail(OpKind) bool { return true }
