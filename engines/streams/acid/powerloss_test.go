package acid_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
)

// The power-loss test runs the engine in child processes (this test binary
// re-run with childEnv set), on a lazyfs mount the test process serves: a
// Go process faulting on a mapping of its own FUSE mount can deadlock.
const (
	childEnv = "STREAMS_ACID_CHILD" // "write" or "check"
	dirEnv   = "STREAMS_ACID_DIR"
	bugsEnv  = "STREAMS_ACID_BUGS" // "producer" plants ProducerStateOutsideTxn
)

const (
	writers  = 8
	ackGoal  = 120
	producer = "p"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode, os.Getenv(dirEnv), os.Getenv(bugsEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func childOpen(dir, bugs string) (streams.Store, error) {
	return acid.OpenWithBugs(streams.Options{Dir: dir, Params: map[string]string{"shards": "4"}},
		acid.Bugs{ProducerStateOutsideTxn: bugs == "producer"})
}

// checkReport is what the check child finds in each stream.
type checkReport struct {
	Data []string `json:"data"`
	// Next is the error of an append at the sequence after the data, which
	// must be accepted if the producer state was committed with it.
	Next string `json:"next"`
}

// runChild writes until killed ("write", printing "ack <stream> <seq>"
// after each acknowledged append) or reports what the store holds
// ("check", as JSON).
func runChild(mode, dir, bugs string) error {
	s, err := childOpen(dir, bugs)
	if err != nil {
		return err
	}
	defer s.Close()
	switch mode {
	case "write":
		var mu sync.Mutex
		out := bufio.NewWriter(os.Stdout)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprint("s", w)
				if _, err := s.Create(name, streams.Config{}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				for seq := uint64(0); ; seq++ {
					o := streams.AppendOptions{Producer: &streams.Producer{ID: producer, Seq: seq}}
					if _, err := s.Append(name, []byte(fmt.Sprint(seq)), o); err != nil {
						fmt.Fprintln(os.Stderr, err)
						return
					}
					mu.Lock()
					fmt.Fprintf(out, "ack %s %d\n", name, seq)
					_ = out.Flush()
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return errors.New("writers stopped")
	case "check":
		rep := map[string]checkReport{}
		for w := 0; w < writers; w++ {
			name := fmt.Sprint("s", w)
			res, err := s.Read(name, streams.Start)
			if errors.Is(err, streams.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			r := checkReport{Next: "ok"}
			for _, m := range res.Messages {
				r.Data = append(r.Data, string(m.Data))
			}
			o := streams.AppendOptions{Producer: &streams.Producer{ID: producer, Seq: uint64(len(r.Data))}}
			if ar, err := s.Append(name, []byte("next"), o); err != nil {
				r.Next = err.Error()
			} else if ar.Duplicate {
				r.Next = "duplicate"
			}
			rep[name] = r
		}
		return json.NewEncoder(os.Stdout).Encode(rep)
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

func child(t *testing.T, mode, dir, bugs string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, dirEnv+"="+dir, bugsEnv+"="+bugs)
	cmd.Stderr = os.Stderr
	return cmd
}

// crashAndCheck writes in a child until it acknowledged ackGoal appends,
// kills it, drops what was not synced (keeping keep percent of it, torn)
// and returns, per stream, the appends acknowledged and what a second
// child finds.
func crashAndCheck(t *testing.T, f *lazyfs.FS, dir, bugs string, keep int, seed uint64) (map[string]int, map[string]checkReport) {
	t.Helper()
	w := child(t, "write", dir, bugs)
	stdout, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int{}
	sc := bufio.NewScanner(stdout)
	for n := 0; n < ackGoal && sc.Scan(); n++ {
		parts := strings.Fields(sc.Text())
		if len(parts) != 3 || parts[0] != "ack" {
			t.Fatalf("writer said %q", sc.Text())
		}
		seq, err := strconv.Atoi(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		acked[parts[1]] = max(acked[parts[1]], seq+1)
	}
	_ = w.Process.Kill()
	_ = w.Wait()
	total := 0
	for _, n := range acked {
		total += n
	}
	if total < ackGoal {
		t.Fatalf("the writer acknowledged %d appends before it stopped, want %d", total, ackGoal)
	}
	var cerr error
	for i := 0; i < 20; i++ {
		if cerr = f.Crash(keep, seed); !errors.Is(cerr, lazyfs.ErrBusy) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cerr != nil {
		t.Fatalf("crash: %v", cerr)
	}
	c := child(t, "check", dir, bugs)
	out, err := c.Output()
	if err != nil {
		t.Fatalf("check child: %v", err)
	}
	rep := map[string]checkReport{}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("check child said %q: %v", out, err)
	}
	t.Logf("acknowledged %v; found %+v", acked, rep)
	return acked, rep
}

// TestPowerLoss kills a store of concurrent producers and crashes the disk
// under it, keeping none or some of what was not synced, then checks that
// every acknowledged append survived, in order, with the producer state
// that accepted it.
func TestPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if err := lazyfs.Available(); err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		keep int
		seed uint64
	}{{0, 1}, {50, 2}, {90, 3}} {
		t.Run(fmt.Sprintf("keep=%d", c.keep), func(t *testing.T) {
			f, dir := mount(t)
			acked, rep := crashAndCheck(t, f, dir, "", c.keep, c.seed)
			for name, n := range acked {
				r, ok := rep[name]
				if !ok {
					t.Errorf("%s: %d appends acknowledged, stream lost", name, n)
					continue
				}
				if len(r.Data) < n {
					t.Errorf("%s: %d appends acknowledged, %d survived", name, n, len(r.Data))
				}
				for i, d := range r.Data {
					if d != fmt.Sprint(i) {
						t.Errorf("%s: message %d is %q", name, i, d)
						break
					}
				}
				if r.Next != "ok" {
					t.Errorf("%s: append at seq %d after the crash: %s", name, len(r.Data), r.Next)
				}
			}
		})
	}
}

// TestPowerLossCatchesProducerStateOutsideTxn shows the crash test failing
// the engine that keeps producer state beside its data.
func TestPowerLossCatchesProducerStateOutsideTxn(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if err := lazyfs.Available(); err != nil {
		t.Skip(err)
	}
	f, dir := mount(t)
	_, rep := crashAndCheck(t, f, dir, "producer", 0, 1)
	bad := 0
	for _, r := range rep {
		if r.Next != "ok" && len(r.Data) > 0 {
			bad++
		}
	}
	if bad == 0 {
		t.Errorf("no stream lost its producer state: %+v", rep)
	}
}

func mount(t *testing.T) (*lazyfs.FS, string) {
	t.Helper()
	root := t.TempDir()
	backing, mnt := filepath.Join(root, "backing"), filepath.Join(root, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	profile, err := lazyfs.ProfileFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	f, err := lazyfs.Mount(backing, mnt, lazyfs.Options{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			_ = f.ForceUnmount()
		}
	})
	return f, filepath.Join(mnt, "data")
}
