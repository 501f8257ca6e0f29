package jepsenlite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability/raftlogmodel"
)

// The node protocol: JSON lines. The node first writes a hello (the
// engine's capabilities, or an error), then answers each request line
// with one response line carrying the request's id, in order.
type nodeRequest struct {
	ID    int                `json:"id"`
	In    raftlogmodel.Input `json:"in"`
	Batch []raftlog.Entry    `json:"batch,omitempty"`
}

type nodeResponse struct {
	ID    int                   `json:"id"`
	Out   raftlogmodel.Output   `json:"out"`
	Caps  *raftlog.Capabilities `json:"caps,omitempty"`
	Error string                `json:"error,omitempty"`
	Panic string                `json:"panic,omitempty"`
	Stack string                `json:"stack,omitempty"`
}

// nodeMain serves an engine over standard input and output.
func nodeMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if isStreamsNode(args) {
		return streamsNodeMain(args, stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := fs.String("engine", "", "raftlog engine to serve")
	dir := fs.String("dir", "", "directory of the engine's files")
	params := paramFlag{}
	fs.Var(params, "param", "engine parameter key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	send := func(r nodeResponse) {
		_ = enc.Encode(r)
		_ = w.Flush()
	}
	if *engine == "" || *dir == "" {
		fmt.Fprintln(stderr, "node: need --engine and --dir")
		return 2
	}
	eng, err := raftlog.Open(*engine, raftlog.Options{Dir: *dir, Params: params})
	if err != nil {
		send(nodeResponse{Error: err.Error()})
		return 1
	}
	defer eng.Close()
	caps := eng.Capabilities()
	send(nodeResponse{Caps: &caps})
	dec := json.NewDecoder(bufio.NewReader(stdin))
	for {
		var req nodeRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(stderr, "node: bad request:", err)
			return 2
		}
		resp := nodeResponse{ID: req.ID}
		func() {
			defer func() {
				if p := recover(); p != nil {
					resp.Panic, resp.Stack = fmt.Sprint(p), string(debug.Stack())
				}
			}()
			w := work{in: req.In, batch: req.Batch}
			resp.Out = raftlogmodel.Apply(eng, w.in, w.payload)
		}()
		send(resp)
		if resp.Panic != "" {
			return 1
		}
	}
}

// proc runs the engine in a child process: a node.
type proc struct {
	argv         []string
	dir          string
	tmp          string // a directory to remove at close, if any
	opTimeout    time.Duration
	pauseTimeout time.Duration

	p      *faults.Process
	resp   chan nodeResponse
	caps   raftlog.Capabilities
	nextID int
}

var (
	_ faults.ProcessTarget = (*proc)(nil)
	_ system               = (*proc)(nil)
)

func startProc(cfg Config) (*proc, error) {
	dir, err := os.MkdirTemp("", "jepsen-lite-node-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	t, err := newProc(cfg, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	t.tmp = dir
	return t, nil
}

// newProc starts a node serving the engine in dir.
func newProc(cfg Config, dir string) (*proc, error) {
	base := cfg.NodeCommand
	if len(base) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSetup, err)
		}
		base = []string{exe, "node"}
	}
	argv := append(append([]string(nil), base...), "--engine", cfg.Engine, "--dir", dir)
	for k, v := range cfg.Params {
		argv = append(argv, "--param", k+"="+v)
	}
	t := &proc{argv: argv, dir: dir, opTimeout: cfg.OpTimeout, pauseTimeout: cfg.PauseTimeout}
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
	t.p, t.resp = p, ch
	select {
	case hello, ok := <-ch:
		switch {
		case !ok:
			_ = p.Wait(time.Second) // its standard error is complete once it has exited
			return fmt.Errorf("node exited before its hello: %s", p.Stderr())
		case hello.Error != "":
			_ = p.Kill(5 * time.Second)
			return fmt.Errorf("node: %s", hello.Error)
		case hello.Caps == nil:
			_ = p.Kill(5 * time.Second)
			return fmt.Errorf("%w: no capabilities in the hello", ErrProtocol)
		}
		t.caps = *hello.Caps
		return nil
	case <-time.After(t.opTimeout):
		_ = p.Kill(5 * time.Second)
		return fmt.Errorf("node did not say hello within %v", t.opTimeout)
	}
}

func (t *proc) Traits() faults.Traits {
	return faults.Traits{Process: true, Persistent: t.caps.Persistent}
}

func (t *proc) capabilities() raftlog.Capabilities { return t.caps }

func (t *proc) Signal(sig syscall.Signal) error { return t.p.Signal(sig) }

func (t *proc) Respawn(ctx context.Context) error {
	if err := t.p.Kill(5 * time.Second); err != nil {
		return err
	}
	if err := t.spawn(); err != nil {
		return &recoveryError{f: &failure{what: "recovery failed: " + err.Error(), evidence: t.p.Stderr()}}
	}
	return nil
}

func (t *proc) exec(w work, paused bool) (raftlogmodel.Output, bool, *failure) {
	t.nextID++
	id := t.nextID
	b, err := json.Marshal(nodeRequest{ID: id, In: w.in, Batch: w.batch})
	if err != nil {
		return raftlogmodel.Unknown(err.Error()), false, &failure{what: "encode request: " + err.Error()}
	}
	if _, err := t.p.Stdin().Write(append(b, '\n')); err != nil {
		return raftlogmodel.Unknown("node gone"), false, &failure{what: "node exited unexpectedly", evidence: t.p.Stderr()}
	}
	limit := t.opTimeout
	if paused {
		limit = t.pauseTimeout
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case r, ok := <-t.resp:
			switch {
			case !ok:
				return raftlogmodel.Unknown("node gone"), false, &failure{what: fmt.Sprintf("node exited during %s", w.in), evidence: t.p.Stderr()}
			case r.Panic != "":
				return raftlogmodel.Unknown("panic"), false, &failure{what: fmt.Sprintf("engine panicked during %s: %s", w.in, r.Panic), evidence: r.Stack}
			case r.Error != "":
				return raftlogmodel.Unknown("protocol"), false, &failure{what: r.Error}
			case r.ID == id:
				return r.Out, false, nil
			}
			// A late answer to an operation that timed out: dropped.
		case <-timer.C:
			if paused {
				return raftlogmodel.Unknown(fmt.Sprintf("no answer within %v from the paused node", limit)), true, nil
			}
			_ = t.p.Signal(syscall.SIGQUIT) // a Go node dumps its goroutines
			_ = t.p.Wait(2 * time.Second)
			return raftlogmodel.Unknown("hang"), true, &failure{what: fmt.Sprintf("engine hung for %v during %s", limit, w.in), evidence: t.p.Stderr()}
		}
	}
}

func (t *proc) close() error {
	if t.tmp != "" {
		defer os.RemoveAll(t.tmp)
	}
	_ = t.p.Signal(syscall.SIGCONT)
	return t.p.Kill(5 * time.Second)
}
