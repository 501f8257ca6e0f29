package jepsenlite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/faults"
)

// The node protocol, the same for every family: JSON lines. The node
// first writes a hello (the engine's declarations, or an error), then
// answers each request line with one response line carrying the request's
// id, in order. A request carries a work item of the engine's family, or
// arms a kill: the node then kills itself with SIGKILL at the n-th sync
// its engine makes, inside an operation.
type nodeRequest struct {
	ID     int             `json:"id"`
	Work   json.RawMessage `json:"work,omitempty"`
	KillAt int             `json:"kill_at,omitempty"`
}

type nodeResponse struct {
	ID     int             `json:"id"`
	Out    json.RawMessage `json:"out,omitempty"`
	Info   *nodeInfo       `json:"info,omitempty"`
	Error  string          `json:"error,omitempty"`
	Panic  string          `json:"panic,omitempty"`
	Stack  string          `json:"stack,omitempty"`
	Killer bool            `json:"killer,omitempty"` // the node can kill itself inside an operation
}

// nodeInfo is Info with the model's traits as JSON.
type nodeInfo struct {
	Persistent  bool            `json:"persistent"`
	SyncOnWrite bool            `json:"sync_on_write"`
	UsesFS      bool            `json:"uses_fs"`
	Traits      json.RawMessage `json:"traits,omitempty"`
}

// killer is an injector that kills this process with SIGKILL at the n-th
// sync once armed: a kill that lands inside an operation, at the moment
// the engine makes something durable. It never fails an operation, so a
// file system wrapped with it passes writes straight through.
type killer struct{ left atomic.Int64 }

var (
	_ faults.Injector  = (*killer)(nil)
	_ faults.MayFailer = (*killer)(nil)
)

func (k *killer) String() string             { return fmt.Sprintf("kill-at-sync(%d)", k.left.Load()) }
func (k *killer) MayFail(faults.OpKind) bool { return false }
func (k *killer) MaybeError(op faults.Op) error {
	if op.Kind == faults.OpSync && k.left.Load() > 0 && k.left.Add(-1) == 0 {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	return nil
}

// nodeMain serves an engine of any family over standard input and output.
func nodeMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := fs.String("engine", "", "engine to serve, FAMILY/ENGINE")
	dir := fs.String("dir", "", "directory of the engine's files")
	params := paramFlag{}
	fs.Var(params, "param", "engine parameter key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	send := func(r nodeResponse) {
		_ = enc.Encode(r)
		_ = w.Flush()
	}
	if *engine == "" || *dir == "" {
		fmt.Fprintln(stderr, "node: need --engine and --dir")
		return ExitUsage
	}
	fam, name, err := ResolveEngine(*engine)
	if err != nil {
		send(nodeResponse{Error: err.Error()})
		return ExitUsage
	}
	k := &killer{}
	o := OpenOptions{Dir: *dir, FS: faults.Wrap(vfs.Default, k), Params: params}
	eng, info, err := fam.open(name, o)
	if errors.Is(err, ErrNoFS) {
		o.FS = nil
		eng, info, err = fam.open(name, o)
	}
	if err != nil {
		send(nodeResponse{Error: err.Error()})
		return 1
	}
	defer eng.close()
	ni := nodeInfo{Persistent: info.Persistent, SyncOnWrite: info.SyncOnWrite, UsesFS: info.UsesFS}
	if info.Traits != nil {
		if ni.Traits, err = json.Marshal(info.Traits); err != nil {
			send(nodeResponse{Error: err.Error()})
			return 1
		}
	}
	send(nodeResponse{Info: &ni, Killer: o.FS != nil && info.UsesFS})
	dec := json.NewDecoder(bufio.NewReader(stdin))
	for {
		var req nodeRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(stderr, "node: bad request:", err)
			return ExitUsage
		}
		resp := nodeResponse{ID: req.ID}
		if req.KillAt > 0 {
			k.left.Store(int64(req.KillAt))
			send(resp)
			continue
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					resp.Panic, resp.Stack = fmt.Sprint(p), string(debug.Stack())
				}
			}()
			work, err := fam.decodeWork(req.Work)
			if err != nil {
				resp.Error = err.Error()
				return
			}
			if resp.Out, err = json.Marshal(eng.apply(work)); err != nil {
				resp.Error = err.Error()
			}
		}()
		send(resp)
		if resp.Panic != "" {
			return 1
		}
	}
}

// proc runs the engine in a child process: a node.
type proc struct {
	fam          Family
	argv         []string
	dir          string
	tmp          string // a directory to remove at close, if any
	opTimeout    time.Duration
	pauseTimeout time.Duration

	p      *faults.Process
	resp   chan nodeResponse
	reqs   chan []byte // request lines, written in order by one goroutine
	inf    Info
	killer bool
	nextID int
	// armed is set while a kill inside an operation is armed; died once
	// it struck.
	armed, died bool
}

var (
	_ faults.ProcessTarget = (*proc)(nil)
	_ faults.KillArmer     = (*proc)(nil)
	_ system               = (*proc)(nil)
)

func startProc(fam Family, engine string, cfg Config) (*proc, error) {
	dir, err := makeRunDir("jepsen-lite-node-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	t, err := newProc(fam, engine, cfg, filepath.Join(dir, "db"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	t.tmp = dir
	return t, nil
}

// newProc starts a node serving the engine in dir.
func newProc(fam Family, engine string, cfg Config, dir string) (*proc, error) {
	base := cfg.NodeCommand
	if len(base) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
		base = []string{exe, "node"}
	}
	argv := append(append([]string(nil), base...), "--engine", fam.Name()+"/"+engine, "--dir", dir)
	for k, v := range cfg.Params {
		argv = append(argv, "--param", k+"="+v)
	}
	t := &proc{fam: fam, argv: argv, dir: dir, opTimeout: cfg.OpTimeout, pauseTimeout: cfg.PauseTimeout}
	if err := t.spawn(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	return t, nil
}

// spawn starts a node and waits for its hello.
func (t *proc) spawn() error {
	p, err := faults.StartProcess(t.argv)
	if err != nil {
		return err
	}
	ch := make(chan nodeResponse, 16)
	go func() {
		defer close(ch)
		for {
			line, err := p.Stdout().ReadBytes('\n')
			if err != nil {
				return
			}
			var r nodeResponse
			if json.Unmarshal(line, &r) != nil {
				r = nodeResponse{ID: -1, Error: fmt.Sprintf("%v: %q", ErrProtocol, line)}
			}
			ch <- r
		}
	}()
	// Requests are written by a goroutine of their own: a write to a
	// stopped node whose pipe is full must not block the scheduler.
	reqs := make(chan []byte, 4096)
	go func() {
		for b := range reqs {
			if _, err := p.Stdin().Write(b); err != nil {
				_ = p.Kill(5 * time.Second)
				for range reqs {
				}
				return
			}
		}
	}()
	if t.reqs != nil {
		close(t.reqs)
	}
	t.p, t.resp, t.reqs, t.armed, t.died = p, ch, reqs, false, false
	select {
	case hello, ok := <-ch:
		switch {
		case !ok:
			_ = p.Wait(time.Second) // its standard error is complete once it has exited
			return fmt.Errorf("node exited before its hello: %s", p.Stderr())
		case hello.Error != "":
			_ = p.Kill(5 * time.Second)
			return fmt.Errorf("node: %s", hello.Error)
		case hello.Info == nil:
			_ = p.Kill(5 * time.Second)
			return fmt.Errorf("%w: no declarations in the hello", ErrProtocol)
		}
		tr, err := t.fam.decodeTraits(hello.Info.Traits)
		if err != nil {
			_ = p.Kill(5 * time.Second)
			return err
		}
		t.inf = Info{Persistent: hello.Info.Persistent, SyncOnWrite: hello.Info.SyncOnWrite, UsesFS: hello.Info.UsesFS, Traits: tr}
		t.killer = hello.Killer
		return nil
	case <-time.After(t.opTimeout):
		_ = p.Kill(5 * time.Second)
		return fmt.Errorf("node did not say hello within %v", t.opTimeout)
	}
}

func (t *proc) Traits() faults.Traits {
	return faults.Traits{Process: true, Persistent: t.inf.Persistent}
}

func (t *proc) info() Info                      { return t.inf }
func (t *proc) where() string                   { return "process" }
func (t *proc) Signal(sig syscall.Signal) error { return t.p.Signal(sig) }

// CanArmKill reports whether the node can kill itself inside an
// operation: its engine writes through the file system the node wraps.
func (t *proc) CanArmKill() bool { return t.killer }

// ArmKill makes the node kill itself at its n-th sync from now.
func (t *proc) ArmKill(n int) error {
	if _, err := t.roundTrip(nodeRequest{KillAt: n}, t.opTimeout); err != nil {
		return err
	}
	t.armed = true
	return nil
}

// Died reports whether an armed kill struck.
func (t *proc) Died() bool { return t.died }

func (t *proc) Respawn(ctx context.Context) error {
	if err := t.p.Kill(5 * time.Second); err != nil {
		return err
	}
	if err := t.spawn(); err != nil {
		return &recoveryError{f: &failure{what: "recovery failed: " + err.Error(), evidence: t.p.Stderr()}}
	}
	return nil
}

// roundTrip sends req and waits for its answer.
func (t *proc) roundTrip(req nodeRequest, limit time.Duration) (nodeResponse, error) {
	t.nextID++
	req.ID = t.nextID
	b, err := json.Marshal(req)
	if err != nil {
		return nodeResponse{}, err
	}
	select {
	case t.reqs <- append(b, '\n'):
	default:
		return nodeResponse{}, errNodeSilent // thousands of requests unanswered
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case r, ok := <-t.resp:
			switch {
			case !ok:
				return nodeResponse{}, errNodeGone
			case r.ID == req.ID || r.Panic != "" || r.ID == -1:
				return r, nil
			}
			// A late answer to an operation that timed out: dropped.
		case <-timer.C:
			return nodeResponse{}, errNodeSilent
		}
	}
}

var (
	errNodeGone   = errors.New("node gone")
	errNodeSilent = errors.New("no answer")
)

func (t *proc) exec(w any, paused bool) (any, bool, *failure) {
	b, err := json.Marshal(w)
	if err != nil {
		return t.fam.unknown(err.Error()), false, &failure{what: "encode request: " + err.Error()}
	}
	limit := t.opTimeout
	if paused {
		limit = t.pauseTimeout
	}
	in := t.fam.input(w)
	r, err := t.roundTrip(nodeRequest{Work: b}, limit)
	switch {
	case errors.Is(err, errNodeGone) && t.armed:
		// The armed kill struck inside this operation.
		_ = t.p.Wait(5 * time.Second)
		t.armed, t.died = false, true
		return t.fam.unknown("killed during the operation"), false, nil
	case errors.Is(err, errNodeGone):
		_ = t.p.Wait(time.Second)
		return t.fam.unknown("node gone"), false, &failure{what: fmt.Sprintf("node exited during %v", in), evidence: t.p.Stderr()}
	case errors.Is(err, errNodeSilent) && paused:
		return t.fam.unknown(fmt.Sprintf("no answer within %v from the paused node", limit)), true, nil
	case errors.Is(err, errNodeSilent):
		_ = t.p.Signal(syscall.SIGQUIT) // a Go node dumps its goroutines
		_ = t.p.Wait(2 * time.Second)
		return t.fam.unknown("hang"), true, &failure{what: fmt.Sprintf("engine hung for %v during %v", limit, in), evidence: t.p.Stderr()}
	case err != nil:
		return t.fam.unknown(err.Error()), false, &failure{what: err.Error()}
	case r.Panic != "":
		return t.fam.unknown("panic"), false, &failure{what: fmt.Sprintf("engine panicked during %v: %s", in, r.Panic), evidence: r.Stack}
	case r.Error != "":
		return t.fam.unknown("protocol"), false, &failure{what: r.Error}
	}
	out, err := t.fam.decodeOutput(r.Out)
	if err != nil {
		return t.fam.unknown("protocol"), false, &failure{what: err.Error()}
	}
	return out, false, nil
}

func (t *proc) close() error {
	if t.tmp != "" {
		defer os.RemoveAll(t.tmp)
	}
	_ = t.p.Signal(syscall.SIGCONT)
	err := t.p.Kill(5 * time.Second)
	close(t.reqs)
	t.reqs = nil
	return err
}

// runDirs are the temporary directories this process made; makeRunDir
// names them after the process so that a later run can remove those of
// a process that was killed.
var runDirs sync.Mutex

// makeRunDir makes a temporary directory for a run, named after this
// process, after removing those left by jepsen-lite processes that are
// gone (a SIGKILL leaves its directories behind).
func makeRunDir(prefix string) (string, error) {
	runDirs.Lock()
	defer runDirs.Unlock()
	sweepRunDirs()
	return os.MkdirTemp("", fmt.Sprintf("%s%d-", prefix, os.Getpid()))
}

// sweepRunDirs removes the temporary directories of jepsen-lite
// processes that no longer exist, unless something is still mounted
// under them.
func sweepRunDirs() {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, e := range entries {
		pid, ok := runDirOwner(e.Name())
		if !ok || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		if bytes.Contains(mounts, []byte(" "+dir+"/")) || bytes.Contains(mounts, []byte(" "+dir+" ")) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// runDirOwner parses the process id out of a run directory's name,
// jepsen-lite-[KIND-]PID-RANDOM.
func runDirOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "jepsen-lite-")
	if !ok {
		return 0, false
	}
	for _, kind := range []string{"node-", "lazyfs-"} {
		rest = strings.TrimPrefix(rest, kind)
	}
	num, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(num)
	return pid, err == nil && pid > 0
}
