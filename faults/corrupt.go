package faults

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// CorruptKind is the way a Corruption damages a file.
type CorruptKind uint8

// The kinds of damage.
const (
	// CorruptFlip flips one bit of one non-zero byte.
	CorruptFlip CorruptKind = iota + 1
	// CorruptZero writes zeros over one 4 KiB block (aligned, the last one
	// cut at the end of the file) that holds non-zero bytes.
	CorruptZero
	// CorruptTruncate cuts the file at an offset before its last non-zero
	// byte, so data is lost, not preallocated zeros.
	CorruptTruncate
	// CorruptDelete removes the file.
	CorruptDelete
	// CorruptGarbage appends 1 to 8 KiB of random bytes to the file.
	CorruptGarbage
)

var corruptKindNames = [...]string{
	CorruptFlip:     "flip",
	CorruptZero:     "zero",
	CorruptTruncate: "truncate",
	CorruptDelete:   "delete",
	CorruptGarbage:  "garbage",
}

// CorruptKinds lists every kind, in order.
func CorruptKinds() []CorruptKind {
	out := make([]CorruptKind, 0, len(corruptKindNames)-1)
	for k := CorruptFlip; int(k) < len(corruptKindNames); k++ {
		out = append(out, k)
	}
	return out
}

// String returns the kind's text form ("flip", "zero", ...).
func (k CorruptKind) String() string {
	if k > 0 && int(k) < len(corruptKindNames) {
		return corruptKindNames[k]
	}
	return fmt.Sprintf("corruptkind(%d)", uint8(k))
}

// ParseCorruptKind returns the kind whose String is s.
func ParseCorruptKind(s string) (CorruptKind, error) {
	for _, k := range CorruptKinds() {
		if strings.EqualFold(k.String(), s) {
			return k, nil
		}
	}
	names := make([]string, 0, len(corruptKindNames))
	for _, k := range CorruptKinds() {
		names = append(names, k.String())
	}
	return 0, fmt.Errorf("%w: unknown corruption kind %q (known: %s)", ErrSyntax, s, strings.Join(names, ", "))
}

// Region narrows where in a file a Corruption strikes.
type Region uint8

// The regions.
const (
	// RegionAny is the whole file.
	RegionAny Region = iota
	// RegionHead is the first HeadSize bytes, where formats keep their
	// headers and metadata (bbolt's two meta pages, a segment header).
	RegionHead
)

// HeadSize is the length of RegionHead: two 4 KiB pages.
const HeadSize = 2 * BlockSize

// String returns the region's text form, "any" or "head".
func (r Region) String() string {
	switch r {
	case RegionAny:
		return "any"
	case RegionHead:
		return "head"
	}
	return fmt.Sprintf("region(%d)", uint8(r))
}

// Corruption damages one file of a store at rest: closed, or left by a
// crash. Every choice it makes (the file, the position, the bit, the bytes)
// comes from a generator seeded with Seed, so the same Corruption applied to
// the same files does the same damage. It aims at data: a flip, a zeroed
// block or a cut lands where the file holds non-zero bytes, never in
// preallocated zeros past them. A flip or a zeroed block strikes a byte
// drawn uniformly from the data of every eligible file (a large file is the
// likelier target, as on a damaged medium); a cut, a deletion or garbage
// strikes a file drawn uniformly.
//
// Its text form, which ParseCorruption reads back, is
//
//	corrupt(kind=flip,seed=7)
//	corrupt(kind=truncate,path=*.wal,seed=3)
//	corrupt(kind=zero,path=MANIFEST-*|hardstate,at=head,seed=1)
//
// path is a list of path.Match patterns separated by '|', each tried on the
// file's path relative to the directory and on its last element; at is
// "any" (the default) or "head".
type Corruption struct {
	Kind CorruptKind
	Seed uint64
	// Path narrows the files that may be chosen; empty means every file.
	Path string
	// At narrows where in the file the damage lands. CorruptDelete and
	// CorruptGarbage ignore it.
	At Region
}

// String returns the corruption's text form.
func (c Corruption) String() string {
	args := []string{"kind=" + c.Kind.String()}
	if c.Path != "" {
		args = append(args, "path="+c.Path)
	}
	if c.At != RegionAny {
		args = append(args, "at="+c.At.String())
	}
	args = append(args, "seed="+strconv.FormatUint(c.Seed, 10))
	return "corrupt(" + strings.Join(args, ",") + ")"
}

// Validate reports what is wrong with c, if anything.
func (c Corruption) Validate() error {
	if c.Kind == 0 || int(c.Kind) >= len(corruptKindNames) {
		return fmt.Errorf("%w: corruption kind %d is not one of %v", ErrBadArgument, c.Kind, CorruptKinds())
	}
	if c.At > RegionHead {
		return fmt.Errorf("%w: corruption region %d is not any or head", ErrBadArgument, c.At)
	}
	for _, p := range c.patterns() {
		if err := checkGlob(p); err != nil {
			return err
		}
	}
	return nil
}

func (c Corruption) patterns() []string {
	if c.Path == "" {
		return nil
	}
	return strings.Split(c.Path, "|")
}

// ParseCorruption returns the corruption whose text form is s (see
// Corruption). Parse refuses these lines: a corruption damages files at
// rest and is no Injector.
func ParseCorruption(s string) (Corruption, error) {
	c, err := parseCorruption(strings.TrimSpace(s))
	if err != nil {
		return Corruption{}, fmt.Errorf("parse %q: %w", s, err)
	}
	return c, nil
}

func parseCorruption(s string) (Corruption, error) {
	name, args, err := splitCall(s)
	if err != nil {
		return Corruption{}, err
	}
	if name != "corrupt" {
		return Corruption{}, fmt.Errorf("%w: %q is not a corruption (want corrupt(kind=...,seed=...))", ErrSyntax, name)
	}
	kv, err := keyValues("corrupt", args, "kind", "path", "at", "seed")
	if err != nil {
		return Corruption{}, err
	}
	var c Corruption
	v, ok := kv["kind"]
	if !ok {
		return Corruption{}, fmt.Errorf("%w: corrupt needs a kind, as in corrupt(kind=flip,seed=1)", ErrSyntax)
	}
	if c.Kind, err = ParseCorruptKind(v); err != nil {
		return Corruption{}, err
	}
	v, ok = kv["seed"]
	if !ok {
		return Corruption{}, fmt.Errorf("%w: corrupt needs a seed, as in corrupt(kind=flip,seed=1)", ErrSyntax)
	}
	if c.Seed, err = strconv.ParseUint(v, 10, 64); err != nil {
		return Corruption{}, fmt.Errorf("%w: corrupt: seed must be an unsigned integer, got %q", ErrSyntax, v)
	}
	c.Path = kv["path"]
	switch kv["at"] {
	case "", "any":
	case "head":
		c.At = RegionHead
	default:
		return Corruption{}, fmt.Errorf("%w: corrupt: at must be any or head, got %q", ErrSyntax, kv["at"])
	}
	if err := c.Validate(); err != nil {
		return Corruption{}, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	return c, nil
}

// Damage says what a Corruption did.
type Damage struct {
	// By is the corruption's text form.
	By string
	// Kind is the kind of damage.
	Kind CorruptKind
	// Path is the damaged file, relative to the directory given to Apply.
	Path string
	// Off and Len are the damaged range: the flipped byte (Len 1), the
	// zeroed block, the part cut off, the whole deleted file, or the
	// garbage appended.
	Off, Len int64
	// Size is the file's size before the damage.
	Size int64
	// Bit is the flipped bit (0 to 7) of a flip.
	Bit int
}

// String describes the damage: "flip bit 3 of byte 1234 of 000001.wal".
func (d Damage) String() string {
	switch d.Kind {
	case CorruptFlip:
		return fmt.Sprintf("flip bit %d of byte %d of %s (%d bytes)", d.Bit, d.Off, d.Path, d.Size)
	case CorruptZero:
		return fmt.Sprintf("zero bytes %d..%d of %s (%d bytes)", d.Off, d.Off+d.Len, d.Path, d.Size)
	case CorruptTruncate:
		return fmt.Sprintf("truncate %s from %d to %d bytes", d.Path, d.Size, d.Off)
	case CorruptDelete:
		return fmt.Sprintf("delete %s (%d bytes)", d.Path, d.Size)
	case CorruptGarbage:
		return fmt.Sprintf("append %d bytes of garbage to %s (%d bytes)", d.Len, d.Path, d.Size)
	}
	return fmt.Sprintf("%s of %s", d.Kind, d.Path)
}

// ApplyDir applies c to the store in dir on the operating system's file
// system, for engines that write around a vfs.FS (bbolt maps its file).
func (c Corruption) ApplyDir(dir string) (Damage, error) { return c.Apply(vfs.Default, dir) }

// Apply damages one file under dir on fs, which holds a store at rest (its
// engine closed, or crashed and not reopened). It chooses among the
// non-empty regular files under dir, in every subdirectory, that match
// Path and, for the kinds that aim at data, hold non-zero bytes in the
// region At. The change is synced, and so is the directory of a file
// deleted or replaced, so that a later power loss on a crashable MemFS
// keeps it. It returns an error wrapping ErrNoTarget when no file is
// eligible.
func (c Corruption) Apply(fs vfs.FS, dir string) (Damage, error) {
	if err := c.Validate(); err != nil {
		return Damage{}, err
	}
	files, err := listFiles(fs, dir, "")
	if err != nil {
		return Damage{}, fmt.Errorf("faults: corrupt: list %s: %w", dir, err)
	}
	// The kind and region take part in the seed, so that corruptions of
	// different kinds with one seed strike different places.
	rng := rand.New(rand.NewPCG(c.Seed, 0xC0AA<<16|uint64(c.Kind)<<8|uint64(c.At)))
	var eligible []fileScan
	for _, f := range files {
		if f.size == 0 || !c.matches(f.rel) {
			continue
		}
		sc, err := scanFile(fs, fs.PathJoin(dir, f.rel), f.size, c.regionEnd(f.size))
		if err != nil {
			return Damage{}, fmt.Errorf("faults: corrupt: read %s: %w", f.rel, err)
		}
		sc.rel = f.rel
		if c.Kind == CorruptDelete || c.Kind == CorruptGarbage || sc.nonZero > 0 {
			eligible = append(eligible, sc)
		}
	}
	if len(eligible) == 0 {
		return Damage{}, fmt.Errorf("%w: %s finds no file under %s", ErrNoTarget, c, dir)
	}
	// A flip or a zeroed block strikes a byte of data drawn uniformly from
	// all the eligible files, as damage to the medium would: the larger
	// file is the likelier. A cut, a deletion or garbage strikes a file
	// drawn uniformly, as an operator's mistake would.
	var sc fileScan
	var nth int64
	if c.Kind == CorruptFlip || c.Kind == CorruptZero {
		var total int64
		for _, e := range eligible {
			total += e.nonZero
		}
		nth = rng.Int64N(total)
		for _, e := range eligible {
			if nth < e.nonZero {
				sc = e
				break
			}
			nth -= e.nonZero
		}
	} else {
		sc = eligible[rng.IntN(len(eligible))]
	}
	d := Damage{By: c.String(), Kind: c.Kind, Path: sc.rel, Size: sc.size}
	full := fs.PathJoin(dir, sc.rel)
	switch c.Kind {
	case CorruptFlip:
		off, b, err := nthNonZero(fs, full, sc.regionEnd, nth)
		if err != nil {
			return d, err
		}
		d.Off, d.Len, d.Bit = off, 1, rng.IntN(8)
		err = writeAt(fs, full, []byte{b ^ 1<<d.Bit}, off)
		return d, err
	case CorruptZero:
		off, _, err := nthNonZero(fs, full, sc.regionEnd, nth)
		if err != nil {
			return d, err
		}
		d.Off = off / BlockSize * BlockSize
		d.Len = min(BlockSize, sc.size-d.Off)
		return d, writeAt(fs, full, make([]byte, d.Len), d.Off)
	case CorruptTruncate:
		d.Off = rng.Int64N(sc.dataEnd)
		d.Len = sc.size - d.Off
		return d, truncateFile(fs, full, d.Off)
	case CorruptDelete:
		d.Len = sc.size
		if err := fs.Remove(full); err != nil {
			return d, fmt.Errorf("faults: corrupt: remove %s: %w", sc.rel, err)
		}
		return d, syncParent(fs, full)
	case CorruptGarbage:
		d.Off, d.Len = sc.size, 1+rng.Int64N(2*BlockSize)
		junk := make([]byte, d.Len)
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		return d, writeAt(fs, full, junk, d.Off)
	}
	return d, fmt.Errorf("%w: corruption kind %s", ErrBadArgument, c.Kind)
}

// matches reports whether the file at rel may be chosen.
func (c Corruption) matches(rel string) bool {
	pats := c.patterns()
	if len(pats) == 0 {
		return true
	}
	base := path.Base(rel)
	for _, p := range pats {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	return false
}

// regionEnd is where the region At ends in a file of size bytes.
func (c Corruption) regionEnd(size int64) int64 {
	if c.At == RegionHead {
		return min(size, HeadSize)
	}
	return size
}

type listedFile struct {
	rel  string
	size int64
}

// listFiles lists the regular files under dir, recursively, sorted by
// relative path.
func listFiles(fs vfs.FS, dir, rel string) ([]listedFile, error) {
	names, err := fs.List(fs.PathJoin(dir, rel))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []listedFile
	for _, n := range names {
		if n == "." || n == ".." {
			continue
		}
		r := n
		if rel != "" {
			r = rel + "/" + n
		}
		info, err := fs.Stat(fs.PathJoin(dir, r))
		if err != nil {
			return nil, err
		}
		if info.IsDir() {
			sub, err := listFiles(fs, dir, r)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		if info.Mode().IsRegular() {
			out = append(out, listedFile{rel: r, size: info.Size()})
		}
	}
	return out, nil
}

// fileScan is what Apply learns of a file before choosing.
type fileScan struct {
	rel       string
	size      int64
	regionEnd int64 // the region is [0, regionEnd)
	nonZero   int64 // non-zero bytes in the region
	dataEnd   int64 // one past the last non-zero byte in the region
}

const scanChunk = 64 << 10

// scanFile counts the non-zero bytes of the file's first regionEnd bytes.
func scanFile(fs vfs.FS, name string, size, regionEnd int64) (fileScan, error) {
	sc := fileScan{size: size, regionEnd: regionEnd}
	err := eachChunk(fs, name, regionEnd, func(off int64, p []byte) bool {
		for i, b := range p {
			if b != 0 {
				sc.nonZero++
				sc.dataEnd = off + int64(i) + 1
			}
		}
		return true
	})
	return sc, err
}

// nthNonZero returns the offset and value of the n-th (from 0) non-zero
// byte before end.
func nthNonZero(fs vfs.FS, name string, end, n int64) (int64, byte, error) {
	var (
		found bool
		at    int64
		val   byte
	)
	err := eachChunk(fs, name, end, func(off int64, p []byte) bool {
		for i, b := range p {
			if b == 0 {
				continue
			}
			if n == 0 {
				found, at, val = true, off+int64(i), b
				return false
			}
			n--
		}
		return true
	})
	if err == nil && !found {
		err = fmt.Errorf("faults: corrupt: %s changed while it was read", name)
	}
	return at, val, err
}

// eachChunk calls fn on the file's first end bytes, in order, a chunk at a
// time, until fn returns false.
func eachChunk(fs vfs.FS, name string, end int64, fn func(off int64, p []byte) bool) error {
	f, err := fs.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, scanChunk)
	for off := int64(0); off < end; {
		n := int(min(int64(len(buf)), end-off))
		got, err := f.ReadAt(buf[:n], off)
		if got > 0 && !fn(off, buf[:got]) {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if got < n {
			return nil
		}
		off += int64(got)
	}
	return nil
}

// writeAt writes p at off in the existing file name and syncs it.
func writeAt(fs vfs.FS, name string, p []byte, off int64) error {
	f, err := fs.OpenReadWrite(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("faults: corrupt: open %s: %w", name, err)
	}
	_, err = f.WriteAt(p, off)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("faults: corrupt: write %s: %w", name, err)
	}
	return nil
}

// truncateFile replaces name by its first n bytes: vfs.File cannot
// truncate, so the prefix is copied to a new file renamed over it.
func truncateFile(fs vfs.FS, name string, n int64) error {
	tmp := name + ".corrupt-tmp"
	w, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("faults: corrupt: create %s: %w", tmp, err)
	}
	var werr error
	err = eachChunk(fs, name, n, func(_ int64, p []byte) bool {
		_, werr = w.Write(p)
		return werr == nil
	})
	if err == nil {
		err = werr
	}
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, name)
	}
	if err != nil {
		_ = fs.Remove(tmp)
		return fmt.Errorf("faults: corrupt: truncate %s: %w", name, err)
	}
	return syncParent(fs, name)
}

// syncParent syncs the directory holding name.
func syncParent(fs vfs.FS, name string) error {
	d, err := fs.OpenDir(fs.PathDir(name))
	if err != nil {
		return fmt.Errorf("faults: corrupt: open the directory of %s: %w", name, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("faults: corrupt: sync the directory of %s: %w", name, err)
	}
	return nil
}

// RandomCorruption draws a corruption of any kind, anywhere, from rng: a
// nemesis that damages a store at rest picks its fault this way.
func RandomCorruption(rng *rand.Rand) Corruption {
	kinds := CorruptKinds()
	c := Corruption{Kind: kinds[rng.IntN(len(kinds))], Seed: rng.Uint64()}
	if rng.IntN(4) == 0 {
		c.At = RegionHead
	}
	return c
}
