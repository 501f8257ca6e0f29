package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// WriteFileAtomic writes data to path so that a reader sees the old file or
// the whole new one: a temporary file in the same directory, fsync, rename,
// fsync of the directory.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("results: sync %s: %w", dir, err)
	}
	return nil
}

// Write stores run in dir (created if missing) as results.json and
// bench.txt, each written atomically.
func Write(dir string, run *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return err
	}
	run.Schema = SchemaVersion
	js, err := run.MarshalIndent()
	if err != nil {
		return err
	}
	var bench bytes.Buffer
	if err := WriteBench(&bench, run); err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, BenchFile), bench.Bytes()); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, JSONFile), js)
}

// Read loads a run from a directory or a results.json path.
func Read(path string) (*Run, error) {
	p := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		p = filepath.Join(path, JSONFile)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s", ErrNoResults, path)
		}
		return nil, fmt.Errorf("results: %w", err)
	}
	var head struct {
		Schema int `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("results: %s: %w", p, err)
	}
	if head.Schema < 1 || head.Schema > SchemaVersion {
		return nil, fmt.Errorf("%w %d in %s (this build reads 1..%d)", ErrSchema, head.Schema, p, SchemaVersion)
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, fmt.Errorf("results: %s: %w", p, err)
	}
	run.Dir = filepath.Dir(p)
	return &run, nil
}

// Units of bench.txt, with the direction benchstat should read them in.
var benchUnits = []struct{ unit, better string }{
	{"ops/s", "higher"},
	{"p50-ns", "lower"}, {"p90-ns", "lower"}, {"p99-ns", "lower"}, {"p99.9-ns", "lower"}, {"p99.99-ns", "lower"}, {"max-ns", "lower"},
	{"errors", "lower"}, {"of-baseline", "higher"},
}

// ItemsUnit is the bench.txt unit of an item throughput: entries/s.
func ItemsUnit(itemUnit string) string { return itemUnit + "/s" }

// WriteBench writes run in the Go benchmark format: one line per result
// (and per operation of a mixed workload), the units' directions declared,
// so benchstat and golang.org/x/perf/benchfmt read it.
func WriteBench(w io.Writer, run *Run) error {
	var b strings.Builder
	fmt.Fprintf(&b, "goos: %s\ngoarch: %s\npkg: github.com/ordeal-dev/ordeal/cmd/bench\n", run.Machine.OS, run.Machine.Arch)
	if run.Machine.CPU != "" {
		fmt.Fprintf(&b, "cpu: %s\n", run.Machine.CPU)
	}
	// Only what must match for two runs to be compared goes in as
	// configuration: benchstat splits its tables on any key whose value
	// differs, so the commit, the suite and the time stay in results.json.
	fmt.Fprintf(&b, "seed: %d\nfilesystem: %s\n%s%s\n", run.Seed, orNone(run.Machine.FileSystem), MachineKey, run.Machine.Fingerprint())
	units := map[string]bool{}
	for _, r := range run.Results {
		if r.ItemUnit != "" && ItemsUnit(r.ItemUnit) != "ops/s" {
			units[ItemsUnit(r.ItemUnit)] = true
		}
	}
	for _, u := range benchUnits {
		fmt.Fprintf(&b, "Unit %s better=%s\n", u.unit, u.better)
	}
	for _, u := range slices.Sorted(maps.Keys(units)) {
		fmt.Fprintf(&b, "Unit %s better=higher\n", u)
	}
	b.WriteString("\n")
	lines := 0
	for _, r := range run.Results {
		if r.Ops == 0 {
			continue
		}
		name := r.BenchName()
		lines++
		fmt.Fprintf(&b, "%s \t%d\t%s ns/op\t%s ops/s", name, r.Ops, num(float64(r.ElapsedNs)/float64(r.Ops)), num(r.OpsPerSec))
		if r.ItemUnit != "" && r.Items > 0 && ItemsUnit(r.ItemUnit) != "ops/s" {
			fmt.Fprintf(&b, "\t%s %s", num(r.ItemsPerSec), ItemsUnit(r.ItemUnit))
		}
		writeLatency(&b, r.Latency)
		fmt.Fprintf(&b, "\t%d errors", r.ErrorCount())
		if r.OfBaseline > 0 {
			fmt.Fprintf(&b, "\t%s of-baseline", strconv.FormatFloat(r.OfBaseline, 'f', 4, 64))
		}
		b.WriteString("\n")
		if len(r.PerOp) < 2 {
			continue
		}
		for _, op := range r.PerOp {
			if op.Ops == 0 || op.Latency.Count == 0 {
				continue
			}
			lines++
			fmt.Fprintf(&b, "%s/op=%s \t%d\t%s ops/s", name, op.Op, op.Ops, num(op.OpsPerSec))
			writeLatency(&b, op.Latency)
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "%s%d\n", EndMarker, lines)
	_, err := io.WriteString(w, b.String())
	return err
}

// MachineKey is the bench.txt configuration key of the machine's
// fingerprint (Machine.Fingerprint); benchstat keeps runs of different
// machines in separate tables.
const MachineKey = "machine: "

// EndMarker starts the last line of a bench.txt, followed by the number of
// benchmark lines above it: a file cut short lacks it or disagrees with
// it. Readers of the Go benchmark format ignore the line.
const EndMarker = "# end of bench.txt, benchmark lines: "

func writeLatency(b *strings.Builder, l Latency) {
	fmt.Fprintf(b, "\t%d p50-ns\t%d p90-ns\t%d p99-ns\t%d p99.9-ns\t%d p99.99-ns\t%d max-ns", l.P50, l.P90, l.P99, l.P999, l.P9999, l.Max)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
