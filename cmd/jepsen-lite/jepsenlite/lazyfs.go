package jepsenlite

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
)

// lazyAvailable says once per process whether lazyfs can mount here.
var lazyAvailable = sync.OnceValue(lazyfs.Available)

// lazyProc runs the engine in a node whose directory is on a lazyfs mount
// served by this process: the crash and fsync nemeses reach an engine that
// writes around Options.FS (bbolt maps its file) this way. The engine never
// runs in the serving process, where a fault on a mapping of the mount
// could deadlock the garbage collector.
type lazyProc struct {
	*proc
	fs   *lazyfs.FS
	root string // holds backing/ and mnt/
}

var (
	_ faults.MountTarget   = (*lazyProc)(nil)
	_ faults.ProcessTarget = (*lazyProc)(nil)
	_ system               = (*lazyProc)(nil)
)

// startLazy mounts lazyfs over a fresh backing directory in a temporary
// directory and starts a node on it. Where lazyfs cannot mount, the error
// wraps ErrSetup and faults.ErrUnavailable and says why.
func startLazy(fam Family, engine string, cfg Config) (*lazyProc, error) {
	if err := lazyAvailable(); err != nil {
		return nil, fmt.Errorf("%w: engine %s: %w: crash and fsync need lazyfs for an engine that writes around the file system it is given: %w", ErrSetup, cfg.Engine, faults.ErrUnavailable, err)
	}
	root, err := makeRunDir("jepsen-lite-lazyfs-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	fs, mnt, err := mountUnder(root, cfg.Profile)
	if err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	t := &lazyProc{fs: fs, root: root}
	p, err := newProc(fam, engine, cfg, filepath.Join(mnt, "db"))
	if err != nil {
		t.unmount()
		return nil, err
	}
	t.proc = p
	return t, nil
}

func (t *lazyProc) Traits() faults.Traits {
	return faults.Traits{Process: true, Mount: true, Persistent: t.inf.Persistent}
}

func (t *lazyProc) where() string { return "lazyfs" }

// PowerCycle kills the node, crashes the mount and starts a node again.
func (t *lazyProc) PowerCycle(ctx context.Context, seed uint64, pct int) error {
	if err := t.p.Kill(5 * time.Second); err != nil {
		return err
	}
	if err := t.fs.Crash(pct, seed); err != nil {
		return fmt.Errorf("lazyfs crash: %w", err)
	}
	return t.respawn()
}

// mountUnder mounts lazyfs at root/mnt over root/backing with the named
// profile and returns the mount and its mountpoint.
func mountUnder(root, profileName string) (*lazyfs.FS, string, error) {
	profile, err := lazyfs.ParseProfile(profileName)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrUsage, err)
	}
	backing, mnt := filepath.Join(root, "backing"), filepath.Join(root, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	fs, err := lazyfs.Mount(backing, mnt, lazyfs.Options{Profile: profile})
	if err != nil {
		return nil, "", fmt.Errorf("%w: mount lazyfs: %w", ErrSetup, err)
	}
	return fs, mnt, nil
}

// Restart kills the node and starts it again; the mount keeps everything.
func (t *lazyProc) Restart(ctx context.Context) error {
	if err := t.p.Kill(5 * time.Second); err != nil {
		return err
	}
	return t.respawn()
}

func (t *lazyProc) respawn() error {
	if err := t.spawn(); err != nil {
		return &recoveryError{f: &failure{what: "recovery failed: " + err.Error(), evidence: t.p.Stderr()}}
	}
	return nil
}

// FailNextSync fails the next n syncs on the mount.
func (t *lazyProc) FailNextSync(n int) error { return t.fs.FailNextSync(n) }

// FailedSyncs counts the syncs failed since the mount was last crashed.
func (t *lazyProc) FailedSyncs() int64 {
	_, failed := t.fs.SyncCounts()
	return failed
}

func (t *lazyProc) close() error {
	err := t.proc.close()
	t.unmount()
	return err
}

// unmount tears the mount down (forcibly if it is still busy) and removes
// the temporary directory.
func (t *lazyProc) unmount() {
	if err := t.fs.Unmount(); err != nil {
		_ = t.fs.ForceUnmount()
	}
	_ = os.RemoveAll(t.root)
}

// nemesisPlan is where a nemesis would act on an engine.
type nemesisPlan struct {
	// where says where, or why not.
	where string
	// applicable is false when the nemesis has nothing to test on the
	// engine (a restart of an engine that keeps nothing).
	applicable bool
	// err, for an applicable nemesis, says why it cannot act here.
	err error
}

// availability says, for each registered nemesis, where it would act on
// the engine under the auto target, or why it cannot: the in-memory disk
// of an engine that writes through the FS it is given, a lazyfs mount for
// one that writes around it (and whether lazyfs can mount here), a child
// process for kill and pause. The engine is opened once, in a temporary
// directory, to read its declarations.
func availability(engine string, params map[string]string) (map[string]nemesisPlan, error) {
	fam, name, err := ResolveEngine(engine)
	if err != nil {
		return nil, err
	}
	if err := checkEngine(fam, name); err != nil {
		return nil, err
	}
	if cs, err := fam.cluster(name, params); cs != nil || err != nil {
		return clusterAvailability(err), nil
	}
	if srv, err := fam.server(name, ""); srv != nil || err != nil {
		return serverAvailability(err), nil
	}
	t, err := openInproc(fam, name, params, 10*time.Second)
	if err != nil {
		return nil, err
	}
	inf := t.inf
	if err := t.close(); err != nil {
		return nil, fmt.Errorf("%w: close %s: %w", ErrSetup, engine, err)
	}
	out := map[string]nemesisPlan{}
	if inf.UsesFS && inf.Persistent {
		// An engine that writes through the FS it is given also runs on
		// lazyfs, whose failed fsync leaves the lost data readable until a
		// power loss, as Linux's page cache does: an engine that trusts
		// what it reads back then is caught there, not on the in-memory
		// disk.
		p := nemesisPlan{where: "child process on lazyfs (--target lazyfs)", applicable: true}
		if err := lazyAvailable(); err != nil {
			p.err = fmt.Errorf("%w: needs lazyfs: %w", faults.ErrUnavailable, err)
			p.where = "unavailable here: " + p.err.Error()
		}
		out["fsync@lazyfs"] = p
	}
	for _, n := range faults.Nemeses() {
		switch name := n.Name(); {
		case name == "pause":
			out[name] = nemesisPlan{where: "child process", applicable: true}
		case name == "partition":
			out[name] = nemesisPlan{where: "not applicable: one process, no network between nodes"}
		case !inf.Persistent:
			out[name] = nemesisPlan{where: "not applicable: not persistent, nothing to recover"}
		case name == "kill" && inf.UsesFS:
			out[name] = nemesisPlan{where: "child process, inside operations (at a sync) and between them", applicable: true}
		case name == "kill":
			out[name] = nemesisPlan{where: "child process, between operations", applicable: true}
		case inf.UsesFS:
			out[name] = nemesisPlan{where: "in process, on a crashable in-memory disk", applicable: true}
		default:
			p := nemesisPlan{where: "child process on lazyfs (writes around the FS it is given)", applicable: true}
			if err := lazyAvailable(); err != nil {
				p.err = fmt.Errorf("%w: needs lazyfs: %w", faults.ErrUnavailable, err)
				p.where = "unavailable here: " + p.err.Error()
			}
			out[name] = p
		}
	}
	return out, nil
}

// serverAvailability is where the nemeses act on a server process: kill
// and pause on the process, crash and fsync on the lazyfs mount under its
// data directory. err says why the server cannot be started here.
func serverAvailability(err error) map[string]nemesisPlan {
	out := map[string]nemesisPlan{}
	for _, n := range faults.Nemeses() {
		if n.Name() == "partition" {
			out[n.Name()] = nemesisPlan{where: "not applicable: one process, no network between nodes"}
			continue
		}
		p := nemesisPlan{where: "server process", applicable: true}
		if n.Name() == "crash" || n.Name() == "fsync" {
			p.where = "server process, its data directory on lazyfs"
			if lerr := lazyAvailable(); lerr != nil {
				p.err = fmt.Errorf("%w: needs lazyfs: %w", faults.ErrUnavailable, lerr)
			}
		}
		if err != nil {
			p.err = err
		}
		if p.err != nil {
			p.where = "unavailable here: " + p.err.Error()
		}
		out[n.Name()] = p
	}
	return out
}

// Availability is availability as text, by nemesis.
func Availability(engine string, params map[string]string) (map[string]string, error) {
	plans, err := availability(engine, params)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for n, p := range plans {
		out[n] = p.where
	}
	return out, nil
}

// writeAvailability prints Availability for every engine, nemeses with
// the same answer on one line.
func writeAvailability(w io.Writer, engines []string) {
	for _, e := range engines {
		av, err := Availability(e, nil)
		if err != nil {
			fmt.Fprintf(w, "    %-24s cannot open: %v\n", e, err)
			continue
		}
		var whys []string
		names := map[string][]string{}
		for _, n := range faults.Nemeses() {
			why := av[n.Name()]
			if len(names[why]) == 0 {
				whys = append(whys, why)
			}
			names[why] = append(names[why], n.Name())
		}
		for i, why := range whys {
			label := ""
			if i == 0 {
				label = e
			}
			fmt.Fprintf(w, "    %-24s %-18s %s\n", label, strings.Join(names[why], ","), why)
		}
	}
}
