package faults

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a child process driven over its standard input and output,
// for engines crashed from outside: it can be signalled (SIGKILL, SIGSTOP,
// SIGCONT) and its standard error is kept as evidence.
type Process struct {
	argv []string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *tailBuffer
	exited chan struct{}

	mu      sync.Mutex
	waitErr error
}

// StartProcess starts argv[0] with the arguments argv[1:], in the current
// environment plus env ("KEY=value").
func StartProcess(argv []string, env ...string) (*Process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrProcess)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProcess, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProcess, err)
	}
	p := &Process{argv: argv, cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<16), stderr: &tailBuffer{max: 64 << 10}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	// The child dies with this process: a killed harness leaves no
	// orphan behind (and no process holding a mount open). It has a
	// process group of its own, so a Ctrl-C at the terminal reaches the
	// harness, which stops the run, and not the engine under test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrProcess, argv[0], err)
	}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stdin is the child's standard input.
func (p *Process) Stdin() io.Writer { return p.stdin }

// Stdout is the child's standard output, buffered.
func (p *Process) Stdout() *bufio.Reader { return p.stdout }

// Stderr returns the last 64 KiB the child wrote to its standard error.
func (p *Process) Stderr() string { return p.stderr.String() }

// Signal sends sig to the child. Signalling a child that has exited
// returns an error wrapping ErrProcess. SIGSTOP returns once the child is
// stopped, and SIGCONT once it runs again: a signal is delivered
// asynchronously, and a child that answered one more request before it
// stopped would make a run differ from its replay.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.exited:
		return fmt.Errorf("%w: signal %v: process %d has exited", ErrProcess, sig, p.Pid())
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%w: signal %v: %w", ErrProcess, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		return p.waitState(sig, func(st byte) bool { return st == 'T' || st == 't' })
	case syscall.SIGCONT:
		return p.waitState(sig, func(st byte) bool { return st != 'T' && st != 't' })
	}
	return nil
}

// waitState waits, at most 10 s, until the child's scheduler state (the
// third field of /proc/PID/stat) satisfies ok.
func (p *Process) waitState(sig syscall.Signal, ok func(byte) bool) error {
	path := fmt.Sprintf("/proc/%d/stat", p.Pid())
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Microsecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // gone: nothing left to wait for
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || ok(b[i+2]) {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("%w: signal %v: process %d still in state %c after 10s", ErrProcess, sig, p.Pid(), b[i+2])
		}
	}
}

// Exited is closed when the child has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Kill kills the child with SIGKILL (resuming it first, should it be
// stopped) and waits for it to exit, at most timeout.
func (p *Process) Kill(timeout time.Duration) error {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	return p.Wait(timeout)
}

// Wait waits at most timeout for the child to exit and returns its exit
// error, or an error wrapping ErrProcess on timeout. A child killed by a
// signal is not an error here.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.exited:
	case <-time.After(timeout):
		return fmt.Errorf("%w: process %d did not exit within %v", ErrProcess, p.Pid(), timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) && !ee.Exited() {
		return nil // killed by a signal
	}
	return p.waitErr
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
