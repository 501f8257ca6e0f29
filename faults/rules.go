package faults

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// filter selects the operations an injector acts on: one kind (0: every
// kind) on paths matching a pattern ("": every path), each with
// probability p drawn from a generator seeded with seed.
type filter struct {
	kind OpKind
	glob string
	p    float64
	seed uint64

	mu  sync.Mutex
	rng *rand.Rand
}

func newFilter(kind OpKind, p float64, seed uint64) filter {
	if math.IsNaN(p) || p < 0 {
		p = 0
	}
	return filter{kind: kind, p: min(p, 1), seed: seed, rng: newRand(seed)}
}

// matches reports whether op is of the filter's kind and path.
func (f *filter) matches(op Op) bool {
	if f.kind != 0 && op.Kind != f.kind {
		return false
	}
	if f.glob == "" {
		return true
	}
	p := filepath.ToSlash(op.Path)
	if ok, _ := path.Match(f.glob, p); ok {
		return true
	}
	ok, _ := path.Match(f.glob, path.Base(p))
	return ok
}

// draw reports whether an operation the filter matches is chosen. f.mu
// must be held. With p = 1 or p = 0 it draws nothing from the generator.
func (f *filter) draw() bool {
	switch {
	case f.p >= 1:
		return true
	case f.p <= 0:
		return false
	}
	return f.rng.Float64() < f.p
}

// args appends the filter's arguments in text form: path, then p and seed
// when p < 1.
func (f *filter) args(args []string) []string {
	if f.glob != "" {
		args = append(args, "path="+f.glob)
	}
	return f.chanceArgs(args)
}

// chanceArgs appends p (when below 1) and seed (when it is used).
func (f *filter) chanceArgs(args []string) []string {
	if f.p < 1 {
		args = append(args, "p="+strconv.FormatFloat(f.p, 'g', -1, 64))
	}
	if f.p > 0 && f.p < 1 {
		args = append(args, "seed="+strconv.FormatUint(f.seed, 10))
	}
	return args
}

// checkGlob reports whether glob is a valid path pattern with a text form.
func checkGlob(glob string) error {
	if glob == "" {
		return fmt.Errorf("%w: empty path pattern", ErrBadArgument)
	}
	if strings.ContainsAny(glob, ",()= \t\n") {
		return fmt.Errorf("%w: path pattern %q holds one of `,()=` or a space", ErrBadArgument, glob)
	}
	if _, err := path.Match(glob, ""); err != nil {
		return fmt.Errorf("%w: path pattern %q: %v", ErrBadArgument, glob, err)
	}
	return nil
}

// ruleMode says when a Rule fails a matching operation.
type ruleMode uint8

const (
	modeRandom ruleMode = iota // with probability p
	modeIndex                  // the index-th matching operation only
	modeAfter                  // once the matching operations' bytes exceed after
)

// Rule fails operations of one kind (or of every kind) with an errno: each with a probability
// (1 by default), only the n-th one, or every one that does not fit in a
// byte budget. A path pattern narrows it to some files. Its text form is
// the kind and errno, then its arguments:
//
//	sync-eio                       every sync fails with EIO
//	sync-eio(p=0.01,seed=7)        each sync fails with probability 0.01
//	read-eio(path=*.log,p=0.1,seed=3)
//	sync-eio(index=2)              the third sync fails, no other
//	write-enospc(after=1MiB)       writes fail once 1 MiB is written
//	all-eio(p=0.001,seed=1)        any operation may fail
//
// Kind 0 means every kind; its text form is "all".
type Rule struct {
	errno syscall.Errno
	mode  ruleMode
	index int
	after int64
	f     filter

	count int   // matching operations seen, guarded by f.mu
	used  int64 // bytes let through, guarded by f.mu
}

var (
	_ Injector  = (*Rule)(nil)
	_ MayFailer = (*Rule)(nil)
)

// Errors returns a rule failing every operation of kind with errno.
func Errors(kind OpKind, errno syscall.Errno) *Rule {
	return RandomErrors(kind, errno, 1, 0)
}

// RandomErrors returns a rule failing each operation of kind with errno
// with probability p (clamped to [0, 1]), drawn from a generator seeded with
// seed.
func RandomErrors(kind OpKind, errno syscall.Errno, p float64, seed uint64) *Rule {
	return &Rule{errno: errno, mode: modeRandom, f: newFilter(kind, p, seed)}
}

// ReadEIO returns a rule failing each read with EIO with probability p.
func ReadEIO(p float64, seed uint64) *Rule { return RandomErrors(OpRead, syscall.EIO, p, seed) }

// WriteEIO returns a rule failing each write with EIO with probability p.
func WriteEIO(p float64, seed uint64) *Rule { return RandomErrors(OpWrite, syscall.EIO, p, seed) }

// SyncEIO returns a rule failing each sync with EIO with probability p.
func SyncEIO(p float64, seed uint64) *Rule { return RandomErrors(OpSync, syscall.EIO, p, seed) }

// OnIndex returns a rule failing only the n-th operation of kind, counting
// from 0 (a negative n counts as 0), with errno.
func OnIndex(kind OpKind, errno syscall.Errno, n int) *Rule {
	return &Rule{errno: errno, mode: modeIndex, index: max(n, 0), f: newFilter(kind, 1, 0)}
}

// AfterBytes returns a rule that lets operations of kind through while the
// bytes they carry (Op.Len: reads and writes carry bytes, other kinds none)
// add up to at most n. The operation that would go beyond n transfers the
// bytes that fit and fails with errno, as a write to a nearly full disk
// does, and every later one that carries bytes fails at once.
func AfterBytes(kind OpKind, errno syscall.Errno, n int64) *Rule {
	return &Rule{errno: errno, mode: modeAfter, after: max(n, 0), f: newFilter(kind, 1, 0)}
}

// DiskFull returns a rule for a disk with room for n more bytes: writes pass
// until n bytes are written, the write that crosses n writes what fits and
// fails with ENOSPC, and later writes fail: write-enospc(after=n).
func DiskFull(n int64) *Rule { return AfterBytes(OpWrite, syscall.ENOSPC, n) }

// OnPath returns a copy of r, in its initial state, that acts only on paths
// matching glob (path.Match syntax, tried on the whole path and on its last
// element). glob may not hold `,()=` or spaces.
func (r *Rule) OnPath(glob string) (*Rule, error) {
	if err := checkGlob(glob); err != nil {
		return nil, err
	}
	c := r.fresh()
	c.f.glob = glob
	return c, nil
}

// fresh returns a copy of r in its initial state.
func (r *Rule) fresh() *Rule {
	c := &Rule{errno: r.errno, mode: r.mode, index: r.index, after: r.after}
	c.f = newFilter(r.f.kind, r.f.p, r.f.seed)
	c.f.glob = r.f.glob
	return c
}

// String implements Injector.
func (r *Rule) String() string {
	name := kindName(r.f.kind) + "-" + strings.ToLower(ErrnoName(r.errno))
	args := r.f.args(nil)
	switch r.mode {
	case modeIndex:
		args = append(args, "index="+strconv.Itoa(r.index))
	case modeAfter:
		args = append(args, "after="+FormatSize(r.after))
	}
	if len(args) == 0 {
		return name
	}
	return name + "(" + strings.Join(args, ",") + ")"
}

// MayFail implements MayFailer.
func (r *Rule) MayFail(kind OpKind) bool {
	return (r.f.kind == 0 || kind == r.f.kind) && r.f.p > 0
}

// MaybeError implements Injector.
func (r *Rule) MaybeError(op Op) error {
	if !r.f.matches(op) {
		return nil
	}
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	fail, done := false, 0
	switch r.mode {
	case modeRandom:
		fail = r.f.draw()
	case modeIndex:
		fail = r.count == r.index
		r.count++
	case modeAfter:
		if r.used+int64(op.Len) > r.after {
			fail, done = true, int(r.after-r.used)
			r.used = r.after
		} else {
			r.used += int64(op.Len)
		}
	}
	if !fail {
		return nil
	}
	return InjectPartial(op, r.errno, r.String(), done)
}

// Latency delays operations of one kind (or of every kind) by a fixed
// duration, each with a probability (1 by default); it fails nothing. Its
// text form is
//
//	latency(op=sync,d=5ms)
//	latency(op=write,path=*.log,d=1ms,p=0.5,seed=9)
//	latency(d=100us)               every operation
type Latency struct {
	d     time.Duration
	f     filter
	sleep func(time.Duration) // time.Sleep; tests count the calls
}

var (
	_ Injector  = (*Latency)(nil)
	_ MayFailer = (*Latency)(nil)
)

// NewLatency returns an injector delaying every operation of kind by d; a
// kind of 0 delays every operation. A negative d counts as 0.
func NewLatency(kind OpKind, d time.Duration) *Latency {
	return RandomLatency(kind, d, 1, 0)
}

// RandomLatency returns an injector delaying each operation of kind by d
// with probability p, drawn from a generator seeded with seed.
func RandomLatency(kind OpKind, d time.Duration, p float64, seed uint64) *Latency {
	return &Latency{d: max(d, 0), f: newFilter(kind, p, seed), sleep: time.Sleep}
}

// OnPath returns a copy of l, in its initial state, that acts only on paths
// matching glob, as Rule.OnPath.
func (l *Latency) OnPath(glob string) (*Latency, error) {
	if err := checkGlob(glob); err != nil {
		return nil, err
	}
	c := RandomLatency(l.f.kind, l.d, l.f.p, l.f.seed)
	c.f.glob = glob
	return c, nil
}

// String implements Injector.
func (l *Latency) String() string {
	var args []string
	if l.f.kind != 0 {
		args = append(args, "op="+kindName(l.f.kind))
	}
	if l.f.glob != "" {
		args = append(args, "path="+l.f.glob)
	}
	args = append(args, "d="+l.d.String())
	args = l.f.chanceArgs(args)
	return "latency(" + strings.Join(args, ",") + ")"
}

// MayFail implements MayFailer: a Latency fails nothing.
func (l *Latency) MayFail(OpKind) bool { return false }

// MaybeError implements Injector: it sleeps and returns nil.
func (l *Latency) MaybeError(op Op) error {
	if !l.f.matches(op) {
		return nil
	}
	l.f.mu.Lock()
	delay := l.f.draw()
	l.f.mu.Unlock()
	if delay && l.d > 0 {
		l.sleep(l.d)
	}
	return nil
}

// anyOf is the composition Any returns.
type anyOf []Injector

// Any returns an injector that shows every operation to each of injs in
// order and returns the first error any of them returns. Every one sees
// every operation, so each draws from its own generator as it would alone.
// Its text form is any(a,b,...). Nil entries are skipped.
func Any(injs ...Injector) Injector {
	a := make(anyOf, 0, len(injs))
	for _, inj := range injs {
		if inj != nil {
			a = append(a, inj)
		}
	}
	return a
}

// String implements Injector.
func (a anyOf) String() string {
	parts := make([]string, len(a))
	for i, inj := range a {
		parts[i] = inj.String()
	}
	return "any(" + strings.Join(parts, ",") + ")"
}

// MayFail implements MayFailer.
func (a anyOf) MayFail(kind OpKind) bool {
	for _, inj := range a {
		if mayFail(inj, kind) {
			return true
		}
	}
	return false
}

// MaybeError implements Injector.
func (a anyOf) MaybeError(op Op) error {
	var first error
	for _, inj := range a {
		if err := inj.MaybeError(op); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sizeUnits are the suffixes FormatSize and ParseSize use, largest first.
var sizeUnits = []struct {
	suffix string
	n      int64
}{
	{"TiB", 1 << 40},
	{"GiB", 1 << 30},
	{"MiB", 1 << 20},
	{"KiB", 1 << 10},
}

// FormatSize formats a byte count with the largest binary unit that divides
// it: 1048576 is "1MiB", 1536 is "1536".
func FormatSize(n int64) string {
	for _, u := range sizeUnits {
		if n != 0 && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// ParseSize parses a byte count: a whole number, optionally followed by B,
// KiB, MiB, GiB or TiB.
func ParseSize(s string) (int64, error) {
	num, mult := strings.TrimSuffix(s, "B"), int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = rest, u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' {
		return 0, fmt.Errorf("%w: bad size %q (want a count of bytes such as 4096, 64KiB or 1MiB)", ErrSyntax, s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w: size %q overflows", ErrSyntax, s)
	}
	return n * mult, nil
}
