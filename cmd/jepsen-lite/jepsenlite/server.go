package jepsenlite

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/httpserver"
	"github.com/ordeal-dev/ordeal/engines/streams/httpstore"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
)

// ServerSpec says how to run an engine that is a server process nobody
// here drives in process: a command template ({port} and {dir} are
// substituted, see httpstore.ProcessOptions) and its working directory.
type ServerSpec struct {
	Command string
	WorkDir string
}

// serverTarget is an external server the harness owns: its process, its
// data directory (on lazyfs when a disk nemesis needs it), and a client
// in this process through which the operations go. kill SIGKILLs and
// restarts it, pause stops it, crash cuts the power of its mount.
type serverTarget struct {
	fam          Family
	engine       string
	params       map[string]string
	opTimeout    time.Duration
	pauseTimeout time.Duration

	p    *httpstore.Process
	eng  handle
	inf  Info
	root string
	fs   *lazyfs.FS // nil unless on lazyfs
}

var (
	_ system               = (*serverTarget)(nil)
	_ faults.ProcessTarget = (*serverTarget)(nil)
	_ faults.MountTarget   = (*serverTarget)(nil)
)

// startServer starts the server of engine, on a lazyfs mount if mount,
// and opens its client.
func startServer(fam Family, engine string, spec ServerSpec, cfg Config, mount bool) (*serverTarget, error) {
	root, err := makeRunDir("jepsen-lite-server-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	t := &serverTarget{fam: fam, engine: engine, params: cfg.Params, opTimeout: cfg.OpTimeout, pauseTimeout: cfg.PauseTimeout, root: root}
	dir := filepath.Join(root, "data")
	if mount {
		if err := lazyAvailable(); err != nil {
			_ = os.RemoveAll(root)
			return nil, fmt.Errorf("%w: engine %s: %w: crash and fsync need lazyfs under the server: %w", ErrSetup, cfg.Engine, faults.ErrUnavailable, err)
		}
		var mnt string
		if t.fs, mnt, err = mountUnder(root, cfg.Profile); err != nil {
			_ = os.RemoveAll(root)
			return nil, err
		}
		dir = filepath.Join(mnt, "data")
	}
	var stderr tailWriter
	t.p, err = httpstore.StartProcess(context.Background(), httpstore.ProcessOptions{
		Command: spec.Command, Dir: dir, WorkDir: spec.WorkDir, Stderr: &stderr, ReadyTimeout: max(cfg.OpTimeout, 30*time.Second),
	})
	if err != nil {
		t.teardown()
		return nil, fmt.Errorf("%w: start %s: %w", ErrSetup, cfg.Engine, err)
	}
	if err := t.openClient(); err != nil {
		t.teardown()
		return nil, fmt.Errorf("%w: open %s: %w", ErrSetup, cfg.Engine, err)
	}
	return t, nil
}

// tailWriter keeps the last 16 KiB written to it.
type tailWriter struct{ b []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b) > 16<<10 {
		w.b = w.b[len(w.b)-16<<10:]
	}
	return len(p), nil
}

func (t *serverTarget) openClient() error {
	params := map[string]string{"url": t.p.URL(), "timeout": t.opTimeout.String()}
	eng, inf, err := t.fam.open(t.engine, OpenOptions{Params: params})
	if err != nil {
		return err
	}
	t.eng, t.inf = eng, inf
	return nil
}

func (t *serverTarget) Traits() faults.Traits {
	return faults.Traits{Process: true, Mount: t.fs != nil, Persistent: t.inf.Persistent}
}

func (t *serverTarget) info() Info { return t.inf }

func (t *serverTarget) where() string {
	if t.fs != nil {
		return "lazyfs"
	}
	return "server"
}

func (t *serverTarget) Signal(sig syscall.Signal) error {
	switch sig {
	case syscall.SIGSTOP:
		return t.p.Stop()
	case syscall.SIGCONT:
		return t.p.Cont()
	case syscall.SIGKILL:
		return t.p.Kill()
	}
	return fmt.Errorf("%w: signal %v to a server", faults.ErrProcess, sig)
}

// Respawn kills the server if need be and starts it again on its data.
func (t *serverTarget) Respawn(ctx context.Context) error {
	if t.p.Running() {
		if err := t.p.Kill(); err != nil {
			return err
		}
	}
	return t.restart(ctx)
}

func (t *serverTarget) restart(ctx context.Context) error {
	if err := t.p.Restart(ctx); err != nil {
		return &recoveryError{f: &failure{what: "recovery failed: the server did not come back: " + err.Error()}}
	}
	return nil
}

// PowerCycle kills the server, cuts the power of its mount and starts it
// again.
func (t *serverTarget) PowerCycle(ctx context.Context, seed uint64, pct int) error {
	if err := t.p.Kill(); err != nil {
		return err
	}
	if err := t.fs.Crash(pct, seed); err != nil {
		return fmt.Errorf("lazyfs crash: %w", err)
	}
	return t.restart(ctx)
}

// Restart kills the server and starts it again; the mount keeps all.
func (t *serverTarget) Restart(ctx context.Context) error {
	if err := t.p.Kill(); err != nil {
		return err
	}
	return t.restart(ctx)
}

func (t *serverTarget) FailNextSync(n int) error { return t.fs.FailNextSync(n) }

func (t *serverTarget) FailedSyncs() int64 {
	_, failed := t.fs.SyncCounts()
	return failed
}

// exec runs one operation through the client. An operation on a paused
// server gets no answer within the pause timeout: its outcome is unknown
// and unbounded. One on a running server that takes longer than the
// operation timeout is a hang.
func (t *serverTarget) exec(w any, paused bool) (any, bool, *failure) {
	limit := t.opTimeout
	if paused {
		limit = t.pauseTimeout
	}
	done := make(chan any, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- &failure{what: fmt.Sprintf("client panicked: %v", p)}
			}
		}()
		done <- t.eng.apply(w)
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case out := <-done:
		if f, ok := out.(*failure); ok {
			return t.fam.unknown(f.what), false, f
		}
		return out, false, nil
	case <-timer.C:
		if paused {
			return t.fam.unknown(fmt.Sprintf("no answer within %v from the paused server", limit)), true, nil
		}
		return t.fam.unknown("hang"), true, &failure{what: fmt.Sprintf("server hung for %v during %v", limit, t.fam.input(w))}
	}
}

func (t *serverTarget) close() error {
	err := t.eng.close()
	t.teardown()
	return err
}

func (t *serverTarget) teardown() {
	if t.p != nil {
		_ = t.p.Cont()
		_ = t.p.Kill()
	}
	if t.fs != nil {
		if err := t.fs.Unmount(); err != nil {
			_ = t.fs.ForceUnmount()
		}
	}
	_ = os.RemoveAll(t.root)
}

// streamsServerMain is `jepsen-lite streams-server`: ordeal's Durable
// Streams server over a streams engine, run by the streams-http family as
// its "ordeal" engine (cmd/streams-server is the same server as a command
// of its own).
func streamsServerMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("streams-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := fs.String("engine", "acid", "streams engine")
	dir := fs.String("dir", "", "data directory")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "streams-server: need --dir")
		return ExitUsage
	}
	s, err := streams.Open(*engine, streams.Options{Dir: *dir})
	if err != nil {
		fmt.Fprintln(stderr, "streams-server:", err)
		return 1
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "streams-server:", err)
		return 1
	}
	srv := &http.Server{Handler: httpserver.New(s, httpserver.Options{Logger: slog.New(slog.DiscardHandler)})}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sigs
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "streams-server:", err)
		return 1
	}
	return 0
}
