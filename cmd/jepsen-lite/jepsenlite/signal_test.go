package jepsenlite

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// selfCommand is this test binary acting as jepsen-lite (see TestMain).
func selfCommand(t testing.TB, tmp string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ORDEAL_TEST_JEPSEN_LITE=1", "TMPDIR="+tmp)
	return cmd
}

// processesUnder lists the live processes whose command line or
// environment names dir.
func processesUnder(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && bytes.HasPrefix(stat[i:], []byte(") Z")) {
			continue // a zombie holds nothing
		}
		if err == nil && (bytes.Contains(b, []byte(dir)) || bytes.Contains(env, []byte(dir))) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// waitFor polls cond every 20ms up to limit.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestSIGKILLLeavesNoDebris kills jepsen-lite with SIGKILL while a node
// runs bbolt on a lazyfs mount: no node survives it, no mount is left
// behind, and the next run removes the dead run's directories.
func TestSIGKILLLeavesNoDebris(t *testing.T) {
	needLazyfs(t)
	tmp := t.TempDir()
	cmd := selfCommand(t, tmp, "run", "--engine", "raftlog/bbolt", "--nemesis", "crash", "--ops", "200000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool {
		for _, p := range processesUnder(tmp) {
			if strings.Contains(p, " node ") {
				return true
			}
		}
		return false
	}) {
		_ = cmd.Process.Kill()
		t.Fatalf("no node started; processes: %v", processesUnder(tmp))
	}
	time.Sleep(300 * time.Millisecond) // let it run a few crashes
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !waitFor(5*time.Second, func() bool { return len(processesUnder(tmp)) == 0 }) {
		t.Errorf("orphans after SIGKILL: %v", processesUnder(tmp))
	}
	if !waitFor(5*time.Second, func() bool {
		m, _ := os.ReadFile("/proc/self/mountinfo")
		return !bytes.Contains(m, []byte(tmp))
	}) {
		t.Errorf("a mount under %s is left", tmp)
	}
	done := make(chan error, 1)
	go func() { _, err := os.ReadDir(tmp); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listing the run's directory hangs")
	}
	t.Setenv("TMPDIR", tmp)
	if !waitFor(5*time.Second, func() bool {
		sweepRunDirs()
		ents, _ := os.ReadDir(tmp)
		return len(ents) == 0
	}) {
		ents, _ := os.ReadDir(tmp)
		t.Errorf("the dead run's directories are still there after a sweep: %v", ents)
	}
}

// TestSIGINTStopsStreamsRun interrupts a long streams/acid run under kill:
// it stops promptly, checks what it recorded, says it was interrupted and
// is never a pass.
func TestSIGINTStopsStreamsRun(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	cmd := selfCommand(t, tmp, "run", "--engine", "streams/acid", "--nemesis", "kill", "--ops", "200000", "--out", out)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = cmd.Process.Kill()
	}()
	err := cmd.Wait()
	took := time.Since(sent)
	code := cmd.ProcessState.ExitCode()
	if code != ExitInconclusive {
		t.Fatalf("exit %d (%v), want %d\n%s", code, err, ExitInconclusive, stdout.String())
	}
	if took > 10*time.Second {
		t.Errorf("stopped %v after SIGINT", took)
	}
	v := readVerdict(t, out)
	if !v.Interrupted || v.Ops == 0 || v.Ops >= 200000 {
		t.Errorf("verdict.json: interrupted %v, %d ops", v.Interrupted, v.Ops)
	}
	if !strings.Contains(stdout.String(), "interrupted") {
		t.Errorf("summary does not say the run was interrupted:\n%s", stdout.String())
	}
}

// TestTimelineHeader: timeline.html opens with the run's family, engine,
// seed, nemeses, verdict, replay command and fault windows; with
// ORDEAL_CHROMIUM=1 headless Chromium draws it (ORDEAL_SCREENSHOT=path
// keeps the picture).
func TestTimelineHeader(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	res := run(t, Config{Engine: "raftlog/mutant/stale-last-index", Nemeses: []string{"crash"}, Seed: 1, Ops: 300, Out: out})
	page, err := os.ReadFile(filepath.Join(out, "timeline.html"))
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Index(page, []byte("<body>"))
	head := bytes.Index(page, []byte(`id="ordeal-run"`))
	if body < 0 || head < body {
		t.Fatalf("the header is not at the top of the body")
	}
	for _, want := range []string{"Illegal", "raftlog/mutant/stale-last-index", "seed 1", "family <b>raftlog</b>", "nemeses crash", "fault windows", "power loss", "jepsen-lite run --engine raftlog/mutant/stale-last-index"} {
		if !bytes.Contains(page[head:], []byte(want)) {
			t.Errorf("timeline header lacks %q", want)
		}
	}
	if res.Faults == 0 {
		t.Fatal("no fault windows to show")
	}
	if os.Getenv("ORDEAL_CHROMIUM") == "" {
		t.Skip("set ORDEAL_CHROMIUM=1 to screenshot the timeline in headless Chromium")
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	shot := os.Getenv("ORDEAL_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(out, "shot.png")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "../../../reports/testdata/screenshot.sh", filepath.Join(out, "timeline.html"), shot).CombinedOutput(); err != nil {
		t.Fatalf("screenshot: %v\n%s", err, b)
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// The header's verdict is drawn in red near the top left.
	red := 0
	for y := 0; y < 120; y++ {
		for x := 0; x < 400; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r > 0xa000 && g < 0x6000 && b < 0x6000 {
				red++
			}
		}
	}
	if red == 0 {
		t.Errorf("no red verdict in the top of the screenshot %s", shot)
	}
}
