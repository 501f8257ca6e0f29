package jepsenlite

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// nsEnv marks a jepsen-lite that already runs in its own mount namespace.
const nsEnv = "ORDEAL_JEPSEN_LITE_MNTNS"

// enterMountNamespace runs `run` and `campaign` again in a private mount
// namespace, when this process may make one (as root): the lazyfs mounts
// of the run then live there, invisible to the rest of the machine, and
// the kernel takes them down with the namespace's last process. The
// child dies with this process (and its nodes with it), so a SIGKILL of
// jepsen-lite leaves no mount and no orphan. done is false when the
// command runs here: in a namespace already, not as root, or another
// command.
func enterMountNamespace(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int, done bool) {
	if len(args) == 0 || (args[0] != "run" && args[0] != "campaign") || os.Getenv(nsEnv) != "" || os.Geteuid() != 0 {
		return 0, false
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, false
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = append(os.Environ(), nsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		// No namespace to be had here: run in this process.
		return 0, false
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), true
	}
	return ExitUsage, true
}
