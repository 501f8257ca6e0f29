package benchcli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ordeal-dev/ordeal/reports"
	"github.com/ordeal-dev/ordeal/results"
)

// lockFile is the file a run holds locked in its directory while it runs.
const lockFile = ".bench.lock"

// ownFiles are what a run (or bench ab) writes into its directory; --force
// removes them (and only them) before a new run.
var ownFiles = []string{results.JSONFile, results.BenchFile, reports.HTMLFile, reports.ChartsDir, lockFile,
	"iterations", "base", "head", "compare.txt"}

// runDir is an output directory held for one run.
type runDir struct {
	path string
	lock *os.File
}

// openRunDir prepares dir for a run before anything is measured: it
// creates it, takes its lock (another run into the same directory fails
// here), refuses it if it holds anything but the lock unless force (then
// it removes the files of the earlier run, and refuses files it did not
// write), and checks that a file can be written there atomically.
func openRunDir(dir string, force bool) (*runDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: --out %s is not writable: %v", errUsage, dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: --out %s is not writable: %v", errUsage, dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: --out %s: another bench run is writing there", errUsage, dir)
		}
		return nil, fmt.Errorf("%w: --out %s: lock: %v", errUsage, dir, err)
	}
	rd := &runDir{path: dir, lock: f}
	fail := func(err error) (*runDir, error) {
		rd.release()
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fail(fmt.Errorf("%w: --out %s: %v", errUsage, dir, err))
	}
	var present, foreign []string
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		present = append(present, e.Name())
		if !slices.Contains(ownFiles, e.Name()) {
			foreign = append(foreign, e.Name())
		}
	}
	switch {
	case len(present) > 0 && !force:
		return fail(fmt.Errorf("%w: --out %s is not empty (%v): give an empty or new directory, or --force to replace an earlier run's files", errUsage, dir, present))
	case len(foreign) > 0:
		return fail(fmt.Errorf("%w: --out %s holds files bench did not write (%v): --force replaces only a run's own files", errUsage, dir, foreign))
	}
	for _, name := range present {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fail(fmt.Errorf("%w: --force: %v", errUsage, err))
		}
	}
	probe := filepath.Join(dir, ".bench-write-probe")
	if err := results.WriteFileAtomic(probe, []byte("probe\n")); err != nil {
		return fail(fmt.Errorf("%w: --out %s is not writable: %v", errUsage, dir, err))
	}
	if err := os.Remove(probe); err != nil {
		return fail(fmt.Errorf("%w: --out %s: %v", errUsage, dir, err))
	}
	return rd, nil
}

// release drops the lock and removes the lock file.
func (rd *runDir) release() {
	if rd.lock == nil {
		return
	}
	os.Remove(rd.lock.Name())
	rd.lock.Close()
	rd.lock = nil
}

// defaultRunDir is where a run goes without --out: results/runs/ID in a
// checkout (or bench-results/ID elsewhere), with a numeric suffix when a
// run of the same second is there already.
func defaultRunDir(id string) string {
	root := "bench-results"
	if st, err := os.Stat("results"); err == nil && st.IsDir() {
		root = filepath.Join("results", "runs")
	}
	dir := filepath.Join(root, id)
	for i := 2; ; i++ {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return dir
		}
		dir = filepath.Join(root, id+"-"+strconv.Itoa(i))
	}
}
