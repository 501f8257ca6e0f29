package httpstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/internal/durable"
)

// ProcessOptions describe a server to run.
type ProcessOptions struct {
	// Command is the command template, run by /bin/sh: {port} becomes the
	// port to listen on and {dir} the data directory, each shell-quoted.
	// It must name {port}.
	Command string
	// Dir is the data directory; it is created if missing, durably (the
	// parent of every directory created is synced, as a directory an
	// operator made long before the server started): a power loss then
	// loses only what the server wrote in it. The process owns its
	// contents.
	Dir string
	// Port is the port to listen on; 0 picks a free one at Start and keeps
	// it across restarts.
	Port int
	// WorkDir is the process's working directory ("" for the caller's).
	WorkDir string
	// Env is added to the caller's environment.
	Env []string
	// Stdout and Stderr receive the process's output; nil discards it.
	Stdout, Stderr io.Writer
	// ReadyTimeout bounds the wait for the server to answer (default 30s).
	ReadyTimeout time.Duration
}

// Process is a Durable Streams server run from a command template, with
// the hooks a fault injector needs: Kill (SIGKILL), Stop (SIGSTOP), Cont
// (SIGCONT), Restart, Terminate (SIGTERM). Signals go to the process group,
// so a server that starts children loses them too. Its methods are safe
// for concurrent use.
type Process struct {
	o ProcessOptions

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
	err  error         // cmd's exit
}

// StartProcess starts the server and waits until it answers HTTP.
func StartProcess(ctx context.Context, o ProcessOptions) (*Process, error) {
	if !strings.Contains(o.Command, "{port}") {
		return nil, fmt.Errorf("%w: %q does not name {port}", ErrBadTemplate, o.Command)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.Dir != "" {
		if err := durable.MkdirAll(vfs.Default, o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("httpstore: data directory: %w", err)
		}
	}
	if o.Port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("httpstore: pick a port: %w", err)
		}
		o.Port = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
	}
	p := &Process{o: o}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// CommandLine returns the template with {port} and {dir} substituted.
func (p *Process) CommandLine() string {
	r := strings.NewReplacer("{port}", strconv.Itoa(p.o.Port), "{dir}", shellQuote(p.o.Dir))
	return r.Replace(p.o.Command)
}

// URL is the server's base URL.
func (p *Process) URL() string { return "http://127.0.0.1:" + strconv.Itoa(p.o.Port) }

// Dir is the server's data directory.
func (p *Process) Dir() string { return p.o.Dir }

// PID is the process id of the running server, or 0.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *Process) start(ctx context.Context) error {
	cmd := exec.Command("/bin/sh", "-c", "exec "+p.CommandLine())
	cmd.Dir = p.o.WorkDir
	cmd.Env = append(os.Environ(), p.o.Env...)
	cmd.Stdout, cmd.Stderr = p.o.Stdout, p.o.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("httpstore: start %q: %w", p.CommandLine(), err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	if err := p.waitReady(ctx, done); err != nil {
		_ = p.signal(syscall.SIGKILL)
		<-done
		return err
	}
	return nil
}

// waitReady polls the server until it answers any HTTP status.
func (p *Process) waitReady(ctx context.Context, done <-chan struct{}) error {
	deadline := time.Now().Add(p.o.ReadyTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			p.mu.Lock()
			err := p.err
			p.mu.Unlock()
			return fmt.Errorf("%w: %q: %v", ErrServerExited, p.CommandLine(), err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get(p.URL() + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %q did not answer on port %d within %v", ErrNotReady, p.CommandLine(), p.o.Port, p.o.ReadyTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *Process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return errors.New("httpstore: no server process")
	}
	select {
	case <-p.done:
		return fmt.Errorf("%w: %v", ErrServerExited, p.err)
	default:
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

func (p *Process) wait(d time.Duration) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("httpstore: server did not exit within %v", d)
	}
}

// Kill kills the server with SIGKILL and waits for it to exit.
func (p *Process) Kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.wait(30 * time.Second)
}

// Stop pauses the server with SIGSTOP and returns once it is stopped: a
// signal is delivered asynchronously, and a server that answered one more
// request first would make a run differ from its replay.
func (p *Process) Stop() error {
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return p.waitState(func(st byte) bool { return st == 'T' || st == 't' })
}

// Cont resumes a paused server with SIGCONT and returns once it runs.
func (p *Process) Cont() error {
	if err := p.signal(syscall.SIGCONT); err != nil {
		return err
	}
	return p.waitState(func(st byte) bool { return st != 'T' && st != 't' })
}

// waitState waits, at most 10 s, until the scheduler state of the
// server's process (the third field of /proc/PID/stat) satisfies ok.
func (p *Process) waitState(ok func(byte) bool) error {
	pid := p.PID()
	if pid == 0 {
		return nil
	}
	path := fmt.Sprintf("/proc/%d/stat", pid)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Microsecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // gone: nothing to wait for
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || ok(b[i+2]) {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("httpstore: server %d still in state %c after 10s", pid, b[i+2])
		}
	}
}

// Terminate asks the server to stop with SIGTERM and waits for it, up to
// grace, then kills it.
func (p *Process) Terminate(grace time.Duration) error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := p.wait(grace); err != nil {
		return p.Kill()
	}
	return nil
}

// Restart starts the server again, with the same port and directory,
// after it was killed or exited; a running server is killed first.
func (p *Process) Restart(ctx context.Context) error {
	if p.Running() {
		if err := p.Kill(); err != nil {
			return err
		}
	}
	return p.start(ctx)
}

// Running reports whether the server process is alive.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitErr is how the last server process ended (nil while it runs or after
// a clean exit).
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
