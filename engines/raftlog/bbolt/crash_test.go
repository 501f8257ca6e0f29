package bbolt

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlogtest"
)

// crashChildEnv names the directory a child process appends to; set, the
// test binary runs TestCrashChild as that child.
const crashChildEnv = "RAFTLOG_BBOLT_CRASH_DIR"

// TestCrashChild is the child of TestProcessKill: it appends batches to the
// engine in the directory named by crashChildEnv and prints the last index
// of each batch once PersistEntries has returned, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestProcessKill")
	}
	e, err := Open(raftlog.Options{Dir: dir})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for next := e.LastIndex() + 1; ; next += 8 {
		if err := e.PersistEntries(kvlogtest.Entries(next, next+7, 1)); err != nil {
			fmt.Println("persist:", err)
			os.Exit(2)
		}
		fmt.Println(next + 7)
	}
}

// TestProcessKill kills a child process that is appending with SIGKILL, at
// several points, and checks that every acknowledged batch survives.
func TestProcessKill(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("already the child")
	}
	dir := t.TempDir()
	var acked uint64
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for n := 0; n < 50*(round+1) && sc.Scan(); n++ {
			last, err := strconv.ParseUint(sc.Text(), 10, 64)
			if err != nil {
				_ = cmd.Process.Kill()
				t.Fatalf("child said %q", sc.Text())
			}
			acked = last
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		e := openEngine(t, raftlog.Options{Dir: dir})
		if got := e.LastIndex(); got < acked {
			t.Fatalf("round %d: LastIndex after SIGKILL = %d, acknowledged %d", round, got, acked)
		}
		kvlogtest.CheckLog(t, e, raftlog.LogID{}, e.LastIndex(), 1)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if acked == 0 {
		t.Fatal("the child acknowledged nothing")
	}
}
