package lazyfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
)

// The crash tests run each engine in a child process (this test binary,
// re-run with childEnv set), read its acknowledgements line by line from
// its standard output, kill it with SIGKILL after a seeded number of
// them, crash the mount, and check in a second child (so that a panic on
// a damaged file is a finding, not a test failure) that every
// acknowledged write survived.
const (
	childEnv  = "LAZYFS_TEST_CHILD"
	dirEnv    = "LAZYFS_TEST_DIR"
	ackedEnv  = "LAZYFS_TEST_ACKED"
	childLong = 5000 // operations a writer child attempts before it stops on its own
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode, os.Getenv(dirEnv), os.Getenv(ackedEnv)))
	}
	os.Exit(m.Run())
}

// engine is one engine under crash test: a writer that acknowledges
// operation i on stdout as "ack i", and a check of the first acked
// operations after recovery.
type engine struct {
	write func(dir string, ack func(i int)) error
	check func(dir string, acked int) (lost int, err error)
	// prepare runs in a child before the writer, on the mount.
	prepare func(dir string) error
}

var engines = map[string]engine{
	"bbolt-sync":    {write: boltWrite(false), check: boltCheck, prepare: boltPrepare},
	"bbolt-nosync":  {write: boltWrite(true), check: boltCheck, prepare: boltPrepare},
	"pebble-sync":   {write: pebbleWrite(pebble.Sync), check: pebbleCheck},
	"pebble-nosync": {write: pebbleWrite(pebble.NoSync), check: pebbleCheck},
	"raftlog-bbolt": {write: raftlogWrite, check: raftlogCheck},
}

// runChild is the child's side: "write" modes print acknowledgements,
// "check" modes print "result <lost>".
func runChild(mode, dir, acked string) int {
	if f, ok := childTools[mode]; ok {
		return f(dir, acked)
	}
	name, check := strings.CutSuffix(mode, "/check")
	name, prepare := strings.CutSuffix(name, "/prepare")
	e, ok := engines[name]
	if !ok {
		fmt.Printf("error unknown engine %q\n", name)
		return 2
	}
	if prepare {
		if err := e.prepare(dir); err != nil {
			fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			return 1
		}
		return 0
	}
	if check {
		n, err := strconv.Atoi(acked)
		if err != nil {
			fmt.Printf("error %v\n", err)
			return 2
		}
		lost, err := e.check(dir, n)
		if err != nil {
			fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			return 1
		}
		fmt.Printf("result %d\n", lost)
		return 0
	}
	stop, err := strconv.Atoi(acked)
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 2
	}
	err = e.write(dir, func(i int) {
		fmt.Printf("ack %d\n", i)
		if i+1 == stop {
			// Idle until killed, so that whatever the engine hands the
			// operating system in the background gets there.
			fmt.Println("idle")
			select {}
		}
	})
	if err != nil {
		fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	return 0
}

// child runs this binary as a child in mode on dir.
func child(mode, dir string, acked int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, dirEnv+"="+dir, ackedEnv+"="+strconv.Itoa(acked))
	return cmd
}

// writeAndKill runs the writer of mode until it has acknowledged kill
// operations, kills it after delay, and returns how many it acknowledged
// in all. With idle the writer stops after kill operations and is killed
// delay after it said so.
func writeAndKill(t testing.TB, mode, dir string, kill int, delay time.Duration, idle bool) int {
	t.Helper()
	stop := 0
	if idle {
		stop = kill
	}
	cmd := child(mode, dir, stop)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked, killed := 0, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "ack "); ok {
			i, err := strconv.Atoi(rest)
			if err != nil || i != acked {
				t.Fatalf("child acknowledged %q after %d acks", line, acked)
			}
			acked++
			if acked >= kill && !killed && !idle {
				time.Sleep(delay)
				_ = cmd.Process.Kill() // it may be gone already; Wait reports
				killed = true
			}
			continue
		}
		if line == "idle" && !killed {
			// The engine may still hand buffers to the operating system
			// from a goroutine of its own (pebble's WAL flush loop): wait
			// until the files stop changing for delay, however busy the
			// machine is.
			waitQuiet(t, dir, delay)
			_ = cmd.Process.Kill() // it may be gone already; Wait reports
			killed = true
			continue
		}
		if strings.HasPrefix(line, "error ") {
			t.Fatalf("writer %s: %s", mode, line)
		}
	}
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("writer %s ended after %d acks before the kill at %d: %v\n%s", mode, acked, kill, werr, stderr.String())
	}
	return acked
}

// prepareT runs the engine's prepare step, if any, in a child.
func prepareT(t testing.TB, mode, dir string) {
	t.Helper()
	if engines[mode].prepare == nil {
		return
	}
	if out, err := child(mode+"/prepare", dir, 0).CombinedOutput(); err != nil {
		t.Fatalf("prepare %s: %v: %s", mode, err, out)
	}
}

// checkAfter runs the check of mode in a child. A check that cannot open
// the engine, or panics, counts as losing everything acknowledged.
func checkAfter(t testing.TB, mode, dir string, acked int) (lost int, why string) {
	t.Helper()
	cmd := child(mode+"/check", dir, acked)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "result "); ok && err == nil {
			n, perr := strconv.Atoi(rest)
			if perr != nil {
				t.Fatalf("check %s: %q", mode, line)
			}
			return n, ""
		}
		if rest, ok := strings.CutPrefix(line, "error "); ok {
			return acked, rest
		}
	}
	msg := stderr.String()
	if i := strings.Index(msg, "\n"); i > 0 {
		msg = msg[:i]
	}
	return acked, fmt.Sprintf("check exited: %v: %s", err, msg)
}

// crashRun is one seeded round: a fresh mount, a writer killed after a
// seeded number of acks, a crash keeping a seeded share of the unsynced
// blocks and entries, and the check.
type crashRun struct {
	seed        uint64
	kill, acked int
	keep        int
	unsynced    Unsynced
	lost        int
	why         string
}

func (r crashRun) String() string {
	s := fmt.Sprintf("seed=%d kill@%d acked=%d keep=%d%% unsynced=%dB/%d entries lost=%d",
		r.seed, r.kill, r.acked, r.keep, r.unsynced.Bytes, r.unsynced.Entries, r.lost)
	if r.why != "" {
		s += " (" + r.why + ")"
	}
	return s
}

func runCrash(t testing.TB, mode string, seed uint64) crashRun {
	t.Helper()
	f := mountT(t, Options{})
	dir := f.Mountpoint()
	prepareT(t, mode, dir)
	rng := rand.New(rand.NewPCG(seed, 0x6372617368))
	r := crashRun{seed: seed, kill: 5 + rng.IntN(120), keep: []int{0, 0, 30, 60, 90}[rng.IntN(5)]}
	delay := time.Duration(rng.IntN(3000)) * time.Microsecond
	r.acked = writeAndKill(t, mode, dir, r.kill, delay, false)
	var err error
	if r.unsynced, err = f.Unsynced(); err != nil {
		t.Fatal(err)
	}
	crashT(t, f, r.keep, seed)
	r.lost, r.why = checkAfter(t, mode, dir, r.acked)
	return r
}

func seeds(short, long int) int {
	if os.Getenv("ORDEAL_LONG") == "1" {
		return long
	}
	return short
}

// TestCrashKeepsSyncedEngines: engines that sync before they acknowledge
// lose nothing acknowledged, whatever the seed.
func TestCrashKeepsSyncedEngines(t *testing.T) {
	for _, tc := range []struct {
		mode        string
		short, long int
	}{
		{"bbolt-sync", 5, 50},
		{"raftlog-bbolt", 5, 50},
		{"pebble-sync", 3, 20},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			n := seeds(tc.short, tc.long)
			for seed := range uint64(n) {
				r := runCrash(t, tc.mode, seed+1)
				t.Log(r)
				if r.lost > 0 {
					t.Errorf("%s lost acknowledged writes: %v", tc.mode, r)
				}
			}
		})
	}
}

// TestCrashLosesUnsyncedEngines: engines that acknowledge before they
// sync lose acknowledged writes at a crash within a few seeds; for bbolt, a
// plain kill of the process (no crash of the mount) loses nothing, so the
// loss is the power loss's.
func TestCrashLosesUnsyncedEngines(t *testing.T) {
	const budget = 8
	for _, mode := range []string{"bbolt-nosync", "pebble-nosync"} {
		t.Run(mode, func(t *testing.T) {
			found := false
			for seed := uint64(1); seed <= budget && !found; seed++ {
				r := runCrash(t, mode, seed)
				t.Log(r)
				found = r.lost > 0
			}
			if !found {
				t.Fatalf("%s lost nothing acknowledged in %d crash seeds", mode, budget)
			}
			if mode == "pebble-nosync" {
				// pebble keeps NoSync WAL records in a buffer of its own
				// until a block fills or a sync comes, so a plain kill loses
				// them too: the control below holds for bbolt only, whose
				// commits are write calls.
				return
			}
			f := mountT(t, Options{})
			dir := f.Mountpoint()
			prepareT(t, mode, dir)
			acked := writeAndKill(t, mode, dir, 50, 200*time.Millisecond, true)
			if lost, why := checkAfter(t, mode, dir, acked); lost > 0 {
				t.Errorf("%s lost %d of %d acknowledged writes to a kill without a crash: %s", mode, lost, acked, why)
			}
		})
	}
}

// waitQuiet returns once the sizes of the files in dir have not changed
// for quiet, or after a minute.
func waitQuiet(t testing.TB, dir string, quiet time.Duration) {
	t.Helper()
	sizes := func() string {
		var b strings.Builder
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				fmt.Fprintf(&b, "%s=%d;", e.Name(), fi.Size())
			}
		}
		return b.String()
	}
	last, since := sizes(), time.Now()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		time.Sleep(quiet / 4)
		if now := sizes(); now != last {
			last, since = now, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
	}
	t.Logf("files in %s still changing after a minute", dir)
}

func key(i int) []byte { return fmt.Appendf(nil, "key-%08d", i) }

// value is operation i's value: 64 B to about 6 KiB, so that bbolt splits
// pages and spills to overflow pages and writes span 4 KiB blocks.
func value(i int) []byte {
	n := 64 + (i*7919)%6000
	return bytes.Repeat(fmt.Appendf(nil, "v%d.", i), n/3+1)[:n]
}

var boltBucket = []byte("b")

// boltPrepare makes the database file and its bucket durable, entry
// included: bbolt never syncs the directory of the file it creates.
func boltPrepare(dir string) error {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o644, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(boltBucket)
		return err
	})
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func boltWrite(noSync bool) func(string, func(int)) error {
	return func(dir string, ack func(int)) error {
		db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o644, &bolt.Options{Timeout: time.Second, NoSync: noSync})
		if err != nil {
			return err
		}
		for i := range childLong {
			err := db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(boltBucket).Put(key(i), value(i))
			})
			if err != nil {
				return err
			}
			ack(i)
		}
		return db.Close()
	}
}

func boltCheck(dir string, acked int) (int, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o644, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	lost := 0
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		if b == nil {
			return errors.New("bucket gone")
		}
		for i := range acked {
			if !bytes.Equal(b.Get(key(i)), value(i)) {
				lost++
			}
		}
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		return nil
	})
	return lost, err
}

func pebbleWrite(wo *pebble.WriteOptions) func(string, func(int)) error {
	return func(dir string, ack func(int)) error {
		db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{})
		if err != nil {
			return err
		}
		for i := range childLong {
			if err := db.Set(key(i), value(i), wo); err != nil {
				return err
			}
			ack(i)
		}
		return db.Close()
	}
}

func pebbleCheck(dir string, acked int) (int, error) {
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	lost := 0
	for i := range acked {
		v, closer, err := db.Get(key(i))
		switch {
		case errors.Is(err, pebble.ErrNotFound):
			lost++
			continue
		case err != nil:
			return 0, err
		}
		if !bytes.Equal(v, value(i)) {
			lost++
		}
		if err := closer.Close(); err != nil {
			return 0, err
		}
	}
	return lost, nil
}

// raftBatch is the batch a raftlog writer appends at step i, after the
// entries of steps 0..i-1: 1 to 4 entries, each with a value() payload.
func raftBatch(i int) (first uint64, ents []raftlog.Entry) {
	first = 1
	for j := range i {
		first += uint64(1 + j%4)
	}
	for k := range 1 + i%4 {
		idx := first + uint64(k)
		ents = append(ents, raftlog.Entry{Index: idx, Term: 1 + uint64(i/40), Data: value(int(idx))})
	}
	return first, ents
}

// raftHardState is the hard state saved at step i.
func raftHardState(i int) raftlog.HardState {
	first, ents := raftBatch(i)
	return raftlog.HardState{
		Term:   1 + uint64(i/40),
		Vote:   raftlog.Vote{Term: 1 + uint64(i/40), Candidate: strconv.Itoa(1 + i%3)},
		Commit: first + uint64(len(ents)) - 1,
	}
}

// raftlogWrite drives ordeal's bbolt raftlog engine with its default
// (syncing) options in the mount's root: each step appends a batch and
// saves a hard state, and is acknowledged once both returned.
func raftlogWrite(dir string, ack func(int)) error {
	e, err := raftlog.Open("bbolt", raftlog.Options{Dir: dir})
	if err != nil {
		return err
	}
	for i := range childLong {
		_, ents := raftBatch(i)
		if err := e.Log().PersistEntries(ents); err != nil {
			return err
		}
		if err := e.Meta().SaveHardState(raftHardState(i)); err != nil {
			return err
		}
		ack(i)
	}
	return e.Close()
}

// raftlogCheck counts acknowledged steps whose entries or hard state did
// not survive. The hard state may be a later, unacknowledged step's.
func raftlogCheck(dir string, acked int) (int, error) {
	e, err := raftlog.Open("bbolt", raftlog.Options{Dir: dir})
	if err != nil {
		return 0, err
	}
	defer e.Close()
	lost := 0
	for i := range acked {
		first, ents := raftBatch(i)
		got, err := e.Log().Entries(first, first+uint64(len(ents))-1)
		if err != nil || len(got) != len(ents) {
			lost++
			continue
		}
		for k := range ents {
			if got[k].Index != ents[k].Index || got[k].Term != ents[k].Term || !bytes.Equal(got[k].Data, ents[k].Data) {
				lost++
				break
			}
		}
	}
	if acked > 0 {
		hs, ok, err := e.Meta().LoadHardState()
		if err != nil {
			return 0, err
		}
		last := raftHardState(acked - 1)
		if !ok || hs.Commit < last.Commit {
			lost++
		}
	}
	return lost, nil
}
