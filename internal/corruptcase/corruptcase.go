// Package corruptcase runs the corruption case that the four conformance
// suites share: the suite writes a store and closes it cleanly, one file is
// damaged with a faults.Corruption, and the engine is opened again on it and
// everything is read back. After a clean close every byte was synced, so the
// engine must answer with its SPI's corruption error (at open, or on the
// read that meets the damage) or with correct data: never with other data,
// never without something it acknowledged, never with something deleted,
// never with an error of another kind, and never by crashing or hanging.
//
// # Children
//
// A crash may come from a goroutine the engine started (bbolt panics in one
// while it rebuilds its free list at open) and a fault on a mapped file may
// kill the process outright: nothing in process can catch either. So each
// trial reopens the engine in a child process, the test binary itself
// re-run on the test that called Run with the environment naming the
// directory: Run sees it, checks, writes its verdict to a file and skips.
// A child that dies is a crash, one that outlives Timeout a hang. A case
// recorded as a known difference inside a test (casetest.RecordIn) checks
// in children too. Under any other testing.TB (a suite's Failures), trials
// run in process and only panics of the checking goroutine are caught.
//
// Code that the test runs before Run also runs in the child; it must be
// cheap and must not depend on state the parent made.
package corruptcase

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/internal/casetest"
)

// Outcome is what an engine did with a damaged store.
type Outcome string

// The outcomes, from the best to the worst. Only Correct and Detected pass.
const (
	// Correct: everything read back as written (the damage missed what
	// matters, or the engine repaired it).
	Correct Outcome = "ok"
	// Detected: the SPI's corruption error, at open or on reads that met
	// the damage; every other read was correct.
	Detected Outcome = "corrupt"
	// Untyped: an error that is not the SPI's corruption error.
	Untyped Outcome = "error"
	// Lost: something acknowledged is missing, with no error.
	Lost Outcome = "lost"
	// Resurrected: something deleted is back.
	Resurrected Outcome = "resurrected"
	// Wrong: a read returned other data than was written.
	Wrong Outcome = "wrong"
	// Panicked: the reading goroutine panicked.
	Panicked Outcome = "panic"
	// Crashed: the child process died.
	Crashed Outcome = "crash"
	// Hung: the child did not finish within Timeout.
	Hung Outcome = "hang"
	// NotRun: the trial could not run (no file to damage, a failed copy);
	// never a pass.
	NotRun Outcome = "not-run"
)

// rank orders outcomes by severity.
var rank = map[Outcome]int{Correct: 0, Detected: 1, Untyped: 2, Lost: 3, Resurrected: 4, Wrong: 5, Panicked: 6, Crashed: 7, Hung: 8, NotRun: 9}

// Outcomes lists every outcome from the best to the worst.
func Outcomes() []Outcome {
	out := make([]Outcome, 0, len(rank))
	for o := range rank {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Outcome) int { return rank[a] - rank[b] })
	return out
}

// Pass reports whether o is an acceptable answer to a damaged store.
func (o Outcome) Pass() bool { return o == Correct || o == Detected }

// Verdict collects what a check saw. Its methods are safe for concurrent
// use.
type Verdict struct {
	isCorrupt func(error) bool

	mu      sync.Mutex
	outcome Outcome
	notes   []string
	count   int
}

// NewVerdict returns an empty verdict; isCorrupt tells the SPI's
// corruption error.
func NewVerdict(isCorrupt func(error) bool) *Verdict {
	return &Verdict{isCorrupt: isCorrupt, outcome: Correct}
}

const maxNotes = 4

func (v *Verdict) add(o Outcome, msg string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.count++
	if rank[o] > rank[v.outcome] {
		v.outcome = o
		// The worst finding leads the notes.
		v.notes = append([]string{msg}, v.notes...)
	} else {
		v.notes = append(v.notes, msg)
	}
	if len(v.notes) > maxNotes {
		v.notes = v.notes[:maxNotes]
	}
}

// Err records err from the operation what: nothing if nil, Detected if it
// is the SPI's corruption error, Untyped otherwise. It reports whether err
// was not nil, so that a check can skip comparing what came with it.
func (v *Verdict) Err(what string, err error) bool {
	if err == nil {
		return false
	}
	if v.isCorrupt(err) {
		v.add(Detected, what+": "+err.Error())
	} else {
		v.add(Untyped, what+": "+err.Error())
	}
	return true
}

// Wrong records a read that returned other data than was written.
func (v *Verdict) Wrong(format string, args ...any) { v.add(Wrong, fmt.Sprintf(format, args...)) }

// Lost records something acknowledged that is missing without an error.
func (v *Verdict) Lost(format string, args ...any) { v.add(Lost, fmt.Sprintf(format, args...)) }

// Resurrected records something deleted that is back.
func (v *Verdict) Resurrected(format string, args ...any) {
	v.add(Resurrected, fmt.Sprintf(format, args...))
}

// Outcome returns the worst finding so far.
func (v *Verdict) Outcome() Outcome {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.outcome
}

// Detail returns the findings, the worst first.
func (v *Verdict) Detail() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := strings.Join(v.notes, "; ")
	if more := v.count - len(v.notes); more > 0 {
		s += fmt.Sprintf("; and %d more", more)
	}
	return s
}

// Subject is an engine as a suite sees it for the case.
type Subject struct {
	// Name labels the engine in messages.
	Name string
	// Write makes the store of seed in dir, an empty directory of the
	// operating system's file system, and closes it cleanly. It reports
	// false, having skipped or failed t, when the engine keeps nothing.
	Write func(t testing.TB, dir string, seed uint64) bool
	// Check opens the engine on the damaged store in dir, reads
	// everything back, compares it with what Write of seed wrote, and
	// closes the engine. It runs in the child, with no testing.TB.
	Check func(dir string, seed uint64, v *Verdict)
	// IsCorrupt tells the SPI's corruption error.
	IsCorrupt func(error) bool
	// Meta lists the patterns (see faults.Corruption.Path) of the files
	// that hold the engine's metadata, damaged in their first HeadSize
	// bytes by the metadata trials.
	Meta string
}

// Column names a column of the table: a kind of damage, or metadata.
type Column string

// MetaColumn is the column of damage to metadata: a flip, a zeroed block or
// a cut, in turn, in the first faults.HeadSize bytes of a file that Meta
// names.
const MetaColumn Column = "meta"

// ControlColumn is the trial without damage: an engine that fails it
// fails the history, not the damage, and its other results say nothing.
const ControlColumn Column = "none"

// Columns are the table's columns: ControlColumn, every
// faults.CorruptKind, then MetaColumn.
func Columns() []Column {
	out := []Column{ControlColumn}
	for _, k := range faults.CorruptKinds() {
		out = append(out, Column(k.String()))
	}
	return append(out, MetaColumn)
}

// Trial is one damage to apply.
type Trial struct {
	Column Column
	Seed   uint64
}

// Corruption is the damage of the trial for an engine whose metadata
// files match meta.
func (tr Trial) Corruption(meta string) faults.Corruption {
	if tr.Column != MetaColumn {
		k, _ := faults.ParseCorruptKind(string(tr.Column))
		return faults.Corruption{Kind: k, Seed: tr.Seed}
	}
	kinds := []faults.CorruptKind{faults.CorruptFlip, faults.CorruptZero, faults.CorruptTruncate}
	return faults.Corruption{Kind: kinds[tr.Seed%uint64(len(kinds))], Seed: tr.Seed, Path: meta, At: faults.RegionHead}
}

// Trials returns one control trial and perColumn trials of every other
// column, seeds 1 to perColumn.
func Trials(perColumn int) []Trial {
	out := []Trial{{Column: ControlColumn}}
	for _, c := range Columns()[1:] {
		for s := 1; s <= perColumn; s++ {
			out = append(out, Trial{Column: c, Seed: uint64(s)})
		}
	}
	return out
}

// Long reports whether ORDEAL_LONG=1 asks for the long forms of tests.
func Long() bool { return os.Getenv("ORDEAL_LONG") == "1" }

// Scale is how many times the suites' histories are longer in the long
// form: 1, or 3 with ORDEAL_LONG=1 (some 2.5 MB per store instead of
// 0.8 MB).
func Scale() int {
	if Long() {
		return 3
	}
	return 1
}

// Default is the trials a suite runs: the control and two per column, or
// twenty with ORDEAL_LONG=1.
func Default() []Trial {
	if Long() {
		return Trials(20)
	}
	return Trials(2)
}

// Result is what one trial did.
type Result struct {
	Trial   Trial
	Damage  string
	Outcome Outcome
	Detail  string
}

// String describes the result in one line.
func (r Result) String() string {
	s := fmt.Sprintf("%s seed %d: %s: %s", r.Trial.Column, r.Trial.Seed, r.Damage, r.Outcome)
	if r.Detail != "" {
		s += " (" + r.Detail + ")"
	}
	return s
}

// WriteSeed is the seed of the store every trial damages.
const WriteSeed = 1

// Timeout bounds a child's open and read back.
var Timeout = 2 * time.Minute

// Environment of a child.
const (
	envTest = "ORDEAL_CORRUPTCASE_TEST"
	envDir  = "ORDEAL_CORRUPTCASE_DIR"
	envOut  = "ORDEAL_CORRUPTCASE_OUT"
	envSeed = "ORDEAL_CORRUPTCASE_SEED"
	envName = "ORDEAL_CORRUPTCASE_SUBJECT"
)

// childVerdict is what a child writes to its output file.
type childVerdict struct {
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
}

// Run writes the store of s once, then runs each trial on a copy of it and
// returns the results in order. Under a child started for t it checks
// instead, writes the verdict and skips t, returning nil.
func Run(t testing.TB, s Subject, trials []Trial) []Result {
	t.Helper()
	switch child(t, s) {
	case childOther:
		// A child started for another subject of the same test.
		return nil
	case childThis:
		t.SkipNow()
		return nil
	}
	root := t.TempDir()
	pristine := filepath.Join(root, "pristine")
	if err := os.Mkdir(pristine, 0o755); err != nil {
		t.Fatalf("corruptcase: %v", err)
	}
	if !s.Write(t, pristine, WriteSeed) {
		return nil
	}
	test := childTest(t)
	results := make([]Result, 0, len(trials))
	for i, tr := range trials {
		dir := filepath.Join(root, fmt.Sprintf("trial-%03d", i))
		r := Result{Trial: tr, Damage: "no damage"}
		if err := copyDir(pristine, dir); err != nil {
			r.Outcome, r.Detail = NotRun, "copy the store: "+err.Error()
			results = append(results, r)
			continue
		}
		if tr.Column != ControlColumn {
			c := tr.Corruption(s.Meta)
			d, err := c.ApplyDir(dir)
			if err != nil {
				r.Outcome, r.Detail = NotRun, c.String()+": "+err.Error()
				results = append(results, r)
				continue
			}
			r.Damage = c.String() + ": " + d.String()
		}
		if test != "" {
			r.Outcome, r.Detail = inChild(test, s.Name, dir)
		} else {
			r.Outcome, r.Detail = inProcess(s, dir)
		}
		results = append(results, r)
		_ = os.RemoveAll(dir)
	}
	return results
}

// Report fails t for every result that does not pass, and logs the
// others. A trial that could not run fails too: nothing passes unseen. A
// failed control trial is reported alone: the other results then say
// nothing of the damage.
func Report(t testing.TB, name string, results []Result) {
	t.Helper()
	for _, r := range results {
		if r.Trial.Column == ControlColumn && !r.Outcome.Pass() {
			t.Errorf("%s: the store reads back wrong with no damage at all: %s", name, r)
			return
		}
	}
	for _, r := range results {
		if r.Outcome.Pass() {
			t.Logf("%s: %s", name, r)
			continue
		}
		t.Errorf("%s: %s", name, r)
	}
}

// InChild reports whether this process is a child started to check a
// damaged store: a test that reports on results (a table) must then write
// nothing.
func InChild() bool { return os.Getenv(envTest) != "" }

type childRole int

const (
	notChild   childRole = iota
	childThis            // a child started for this subject: it checked
	childOther           // a child started for another test or subject
)

// childTest is the name of the test a child re-runs to check for t: t's
// own if it is a *testing.T, the test a recorder records in
// (casetest.ChildTester), else "" and trials run in process.
func childTest(t testing.TB) string {
	switch tt := t.(type) {
	case *testing.T:
		return tt.Name()
	case casetest.ChildTester:
		return tt.ChildTest()
	}
	return ""
}

// child checks, in a child started for t and s, the store it names.
func child(t testing.TB, s Subject) childRole {
	switch {
	case os.Getenv(envTest) == "":
		return notChild
	case os.Getenv(envTest) != childTest(t) || os.Getenv(envName) != s.Name:
		// -test.run also runs the tests whose names are prefixes of the
		// one wanted; a child never acts as a parent.
		return childOther
	}
	var seed uint64
	if _, err := fmt.Sscan(os.Getenv(envSeed), &seed); err != nil {
		t.Fatalf("corruptcase: bad %s: %v", envSeed, err)
	}
	o, detail := check(s, os.Getenv(envDir), seed)
	raw, err := json.Marshal(childVerdict{Outcome: o, Detail: detail})
	if err == nil {
		// Whole or absent: the parent reads it only after the child exits.
		tmp := os.Getenv(envOut) + ".tmp"
		if err = os.WriteFile(tmp, raw, 0o644); err == nil {
			err = os.Rename(tmp, os.Getenv(envOut))
		}
	}
	if err != nil {
		t.Fatalf("corruptcase: write the verdict: %v", err)
	}
	return childThis
}

// check runs s.Check on dir, turning a panic of this goroutine, or a
// fault on a mapped file, into Panicked.
func check(s Subject, dir string, seed uint64) (o Outcome, detail string) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	v := NewVerdict(s.IsCorrupt)
	defer func() {
		if r := recover(); r != nil {
			o, detail = Panicked, fmt.Sprintf("panic: %v", r)
			if d := v.Detail(); d != "" {
				detail += "; before it: " + d
			}
		}
	}()
	s.Check(dir, seed, v)
	return v.Outcome(), v.Detail()
}

func inProcess(s Subject, dir string) (Outcome, string) {
	return check(s, dir, WriteSeed)
}

// inChild runs the check of dir in a child process re-running the test
// named test.
func inChild(test, name, dir string) (Outcome, string) {
	exe, err := os.Executable()
	if err != nil {
		return NotRun, "find the test binary: " + err.Error()
	}
	out := dir + ".verdict"
	defer os.Remove(out)
	cmd := exec.Command(exe, "-test.run="+pattern(test), "-test.count=1")
	cmd.Env = append(os.Environ(), envTest+"="+test, envDir+"="+dir, envOut+"="+out, envName+"="+name, fmt.Sprintf("%s=%d", envSeed, WriteSeed))
	var stderr tail
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return NotRun, "start the child: " + err.Error()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(Timeout):
		_ = cmd.Process.Kill()
		<-done
		return Hung, fmt.Sprintf("no verdict after %v: %s", Timeout, lastLines(stderr.String(), 3))
	}
	if werr != nil {
		// Whatever the verdict said, something in the child died: a
		// goroutine the engine started may panic after the check is done.
		return Crashed, fmt.Sprintf("child exited (%v): %s", werr, crashLine(stderr.String()))
	}
	raw, rerr := os.ReadFile(out)
	if rerr != nil {
		return Crashed, fmt.Sprintf("child exited without a verdict: %s", lastLines(stderr.String(), 3))
	}
	var v childVerdict
	if err := json.Unmarshal(raw, &v); err != nil {
		return NotRun, fmt.Sprintf("unreadable verdict %q: %v", raw, err)
	}
	if _, ok := rank[v.Outcome]; !ok {
		return NotRun, fmt.Sprintf("unknown outcome %q", v.Outcome)
	}
	return v.Outcome, v.Detail
}

// pattern is the -test.run pattern that selects exactly the test named
// name.
func pattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// crashLine picks the line that says why a child died.
func crashLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		for _, p := range []string{"panic:", "fatal error:", "unexpected fault address", "SIGBUS", "SIGSEGV"} {
			if strings.Contains(l, p) {
				return strings.TrimSpace(l)
			}
		}
	}
	return lastLines(s, 3)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// tail keeps the last 64 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if n := len(b.buf) - 64<<10; n > 0 {
		b.buf = b.buf[n:]
	}
	return len(p), nil
}

func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// copyDir copies the tree at src to dst. A file or directory that
// vanishes while it is copied (an engine may still remove what it
// abandoned after Close returns) is not copied.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if err := copyFile(p, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
