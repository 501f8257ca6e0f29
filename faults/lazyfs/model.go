package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// blockSize is the unit of dirty tracking and of torn writes at a crash.
const blockSize = 4096

// spoolName is the hidden directory at the root of the backing directory
// that holds synced inodes no durable entry names yet. The mount never
// shows it, and Mount empties it: whatever it holds after a crash is an
// orphan.
const spoolName = ".lazyfs-spool"

// loc is one place where the backing directory holds an inode: an entry
// of a durable directory, or a name in the spool when dir is nil.
type loc struct {
	dir  *inode
	name string
}

// inode is one file, directory or symlink. Its volatile state is what the
// mount shows; its durable state is what the backing directory holds.
type inode struct {
	id    uint64
	mode  uint32 // type and permission bits
	dmode uint32 // permission bits of the backing copy
	mtime time.Time
	nlink int // volatile entries naming it
	opens int // open handles

	// Regular files. The volatile content is the first clean bytes of the
	// backing file, zeros up to size, with lost and then dirty blocks laid
	// over them.
	size  int64
	clean int64
	dsize int64
	dirty map[int64][]byte
	lost  map[int64][]byte
	bf    *os.File

	// Directories: volatile and durable entries.
	kids  map[string]*inode
	dkids map[string]*inode

	target string // symlinks

	locs []loc
}

func (n *inode) isDir() bool { return n.mode&syscall.S_IFMT == syscall.S_IFDIR }
func (n *inode) isReg() bool { return n.mode&syscall.S_IFMT == syscall.S_IFREG }

func (n *inode) perm() os.FileMode { return os.FileMode(n.mode & 0o7777) }

func (n *inode) removeLoc(dir *inode, name string) {
	n.locs = slices.DeleteFunc(n.locs, func(l loc) bool { return l.dir == dir && l.name == name })
}

// metaDirty reports whether the size or permissions differ from the
// backing copy.
func (n *inode) metaDirty() bool {
	return n.isReg() && (n.size != n.dsize || n.clean != n.dsize || n.mode&0o7777 != n.dmode)
}

// state is the whole file system: every inode, reached from root, guarded
// by one mutex.
type state struct {
	mu        sync.Mutex
	backing   string
	root      *inode
	inodes    map[uint64]*inode
	nextID    uint64
	failSyncs int
	// syncBacking fsyncs the backing copies a sync writes.
	syncBacking bool
	// ext4 makes a file's fsync also sync the entries naming it (Ext4).
	ext4   bool
	syncs  int64
	failed int64
}

// load builds the state from the backing directory, which it takes as
// fully durable. It empties the spool.
func load(backing string) (*state, error) {
	s := &state{backing: backing, inodes: map[uint64]*inode{}, nextID: 1}
	sp := filepath.Join(backing, spoolName)
	if err := os.RemoveAll(sp); err != nil {
		return nil, fmt.Errorf("%w: clear spool: %w", ErrBacking, err)
	}
	if err := os.Mkdir(sp, 0o700); err != nil {
		return nil, fmt.Errorf("%w: make spool: %w", ErrBacking, err)
	}
	fi, err := os.Stat(backing)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBacking, err)
	}
	s.root = s.newInode(syscall.S_IFDIR | uint32(fi.Mode().Perm()))
	s.root.nlink = 1
	s.root.dkids = map[string]*inode{}
	s.root.dmode = s.root.mode & 0o7777
	seen := map[[2]uint64]*inode{}
	if err := s.loadDir(s.root, backing, seen); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *state) loadDir(d *inode, dir string, seen map[[2]uint64]*inode) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBacking, err)
	}
	for _, e := range ents {
		name := e.Name()
		if d == s.root && name == spoolName {
			continue
		}
		p := filepath.Join(dir, name)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("%w: %w", ErrBacking, err)
		}
		key := [2]uint64{st.Dev, st.Ino}
		n := seen[key]
		switch {
		case n != nil:
		case st.Mode&syscall.S_IFMT == syscall.S_IFDIR:
			n = s.newInode(st.Mode)
			n.dkids = map[string]*inode{}
			n.locs = []loc{{d, name}}
			d.kids[name], d.dkids[name] = n, n
			n.nlink = 1
			if err := s.loadDir(n, p, seen); err != nil {
				return err
			}
			continue
		case st.Mode&syscall.S_IFMT == syscall.S_IFREG:
			n = s.newInode(st.Mode)
			n.size, n.clean, n.dsize = st.Size, st.Size, st.Size
		case st.Mode&syscall.S_IFMT == syscall.S_IFLNK:
			t, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrBacking, err)
			}
			n = s.newInode(st.Mode)
			n.target = t
		default:
			continue // devices, fifos and sockets are not served
		}
		seen[key] = n
		n.mtime = time.Unix(st.Mtim.Unix())
		n.locs = append(n.locs, loc{d, name})
		d.kids[name], d.dkids[name] = n, n
		n.nlink++
	}
	return nil
}

func (s *state) newInode(mode uint32) *inode {
	n := &inode{id: s.nextID, mode: mode, dmode: mode & 0o7777, mtime: time.Now()}
	s.nextID++
	if n.isDir() {
		n.kids = map[string]*inode{}
	}
	s.inodes[n.id] = n
	return n
}

// forget drops an inode nothing can reach any more: no entry, no handle.
func (s *state) forget(n *inode) {
	if n.nlink > 0 || n.opens > 0 {
		return
	}
	delete(s.inodes, n.id)
	n.dirty, n.lost = nil, nil
	if n.bf != nil {
		_ = n.bf.Close() // read-only use from here on; nothing to lose
		n.bf = nil
	}
}

func (s *state) closeAll() {
	for _, n := range s.inodes {
		if n.bf != nil {
			_ = n.bf.Close() // the state is being dropped
			n.bf = nil
		}
	}
}

// path is where the backing directory holds l.
func (s *state) path(l loc) string {
	if l.dir == nil {
		return filepath.Join(s.backing, spoolName, l.name)
	}
	return filepath.Join(s.dirPath(l.dir), l.name)
}

func (s *state) dirPath(d *inode) string {
	if d == s.root {
		return s.backing
	}
	return s.path(d.locs[0])
}

func spoolLoc(n *inode) loc {
	if n.isDir() {
		return loc{nil, fmt.Sprintf("d%d", n.id)}
	}
	return loc{nil, fmt.Sprintf("f%d", n.id)}
}

// ensureDir gives a directory a backing directory, in the spool if no
// durable entry names it yet.
func (s *state) ensureDir(d *inode) error {
	if d == s.root || len(d.locs) > 0 {
		return nil
	}
	l := spoolLoc(d)
	if err := os.Mkdir(s.path(l), d.perm()|0o700); err != nil {
		return err
	}
	d.locs = []loc{l}
	d.dkids = map[string]*inode{}
	d.dmode = d.mode & 0o7777
	return nil
}

// ensureFile opens the backing copy of a regular file, making an empty one
// in the spool if it has none.
func (s *state) ensureFile(n *inode) error {
	if n.bf != nil {
		return nil
	}
	if len(n.locs) == 0 {
		l := spoolLoc(n)
		f, err := os.OpenFile(s.path(l), os.O_RDWR|os.O_CREATE|os.O_EXCL, n.perm()|0o600)
		if err != nil {
			return err
		}
		n.bf, n.locs, n.dsize, n.dmode = f, []loc{l}, 0, n.mode&0o7777
		return nil
	}
	f, err := os.OpenFile(s.path(n.locs[0]), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	n.bf = f
	return nil
}

// readAt copies the volatile content at off into p and returns how many
// bytes it copied.
func (s *state) readAt(n *inode, p []byte, off int64) (int, error) {
	if off >= n.size {
		return 0, nil
	}
	end := min(off+int64(len(p)), n.size)
	p = p[:end-off]
	clear(p)
	if off < n.clean {
		if err := s.ensureFile(n); err != nil {
			return 0, err
		}
		if _, err := n.bf.ReadAt(p[:min(end, n.clean)-off], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
	}
	for _, m := range []map[int64][]byte{n.lost, n.dirty} {
		if len(m) == 0 {
			continue
		}
		for b := off / blockSize; b*blockSize < end; b++ {
			blk, ok := m[b]
			if !ok {
				continue
			}
			bo := b * blockSize
			lo, hi := max(off, bo), min(end, bo+blockSize)
			copy(p[lo-off:hi-off], blk[lo-bo:hi-bo])
		}
	}
	return len(p), nil
}

// block returns the dirty block b, making it from the volatile view.
func (s *state) block(n *inode, b int64) ([]byte, error) {
	if blk, ok := n.dirty[b]; ok {
		return blk, nil
	}
	blk := make([]byte, blockSize)
	if _, err := s.readAt(n, blk, b*blockSize); err != nil {
		return nil, err
	}
	if n.dirty == nil {
		n.dirty = map[int64][]byte{}
	}
	// Dirty again, as a page would be: the next writeback carries the
	// bytes whose sync failed along with the new ones.
	delete(n.lost, b)
	n.dirty[b] = blk
	return blk, nil
}

func (s *state) writeAt(n *inode, p []byte, off int64) error {
	end := off + int64(len(p))
	for b := off / blockSize; b*blockSize < end; b++ {
		blk, err := s.block(n, b)
		if err != nil {
			return err
		}
		bo := b * blockSize
		lo, hi := max(off, bo), min(end, bo+blockSize)
		copy(blk[lo-bo:hi-bo], p[lo-off:hi-off])
	}
	n.size = max(n.size, end)
	n.mtime = time.Now()
	return nil
}

func (s *state) truncate(n *inode, size int64) {
	if size < n.size {
		for _, m := range []map[int64][]byte{n.dirty, n.lost} {
			for b, blk := range m {
				bo := b * blockSize
				switch {
				case bo >= size:
					delete(m, b)
				case bo+blockSize > size:
					clear(blk[size-bo:])
				}
			}
		}
		n.clean = min(n.clean, size)
	}
	n.size = size
	n.mtime = time.Now()
}

// syncFile makes the volatile content of a regular file durable, or fails
// as Linux does after a writeback error: EIO once, and the dirty blocks
// are no longer dirty, so no later sync writes them.
func (s *state) syncFile(n *inode) error {
	s.syncs++
	if s.failSyncs > 0 {
		s.failSyncs--
		s.failed++
		if n.lost == nil {
			n.lost = map[int64][]byte{}
		}
		for b, blk := range n.dirty {
			n.lost[b] = blk
		}
		n.dirty = nil
		return syscall.EIO
	}
	if len(n.dirty) == 0 && !n.metaDirty() {
		return nil
	}
	if err := s.ensureFile(n); err != nil {
		return err
	}
	if n.clean < n.dsize {
		if err := n.bf.Truncate(n.clean); err != nil {
			return err
		}
	}
	for _, b := range sortedKeys(n.dirty) {
		if err := writeBlock(n, b, n.dirty[b]); err != nil {
			return err
		}
	}
	if err := n.bf.Truncate(n.size); err != nil {
		return err
	}
	if n.mode&0o7777 != n.dmode {
		if err := n.bf.Chmod(n.perm()); err != nil {
			return err
		}
	}
	if s.syncBacking {
		if err := n.bf.Sync(); err != nil {
			return err
		}
	}
	n.dsize, n.clean, n.dmode, n.dirty = n.size, n.size, n.mode&0o7777, nil
	return nil
}

// writeBlock writes the part of block b that lies below the volatile size.
func writeBlock(n *inode, b int64, blk []byte) error {
	bo := b * blockSize
	k := min(int64(blockSize), n.size-bo)
	if k <= 0 {
		return nil
	}
	_, err := n.bf.WriteAt(blk[:k], bo)
	return err
}

// syncNames makes durable, under the Ext4 profile, the volatile entries
// that name the regular file n and the entries of the directories on the
// way to them: what a journalling file system commits with the file.
func (s *state) syncNames(n *inode) error {
	type step struct {
		dir  *inode
		name string
	}
	var paths [][]step
	var walk func(d *inode, path []step)
	walk = func(d *inode, path []step) {
		for _, name := range sortedNames(d.kids) {
			k := d.kids[name]
			p := append(slices.Clip(path), step{d, name})
			switch {
			case k == n:
				paths = append(paths, p)
			case k.isDir():
				walk(k, p)
			}
		}
	}
	walk(s.root, nil)
	for _, p := range paths {
		for _, st := range p {
			if err := s.syncEntry(st.dir, st.name); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedNames(m map[string]*inode) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// syncDir makes every entry of a directory durable.
func (s *state) syncDir(d *inode) error {
	names := changedNames(d)
	for _, name := range names {
		if err := s.syncEntry(d, name); err != nil {
			return err
		}
	}
	if !s.syncBacking || len(names) == 0 {
		return nil
	}
	// Entries may have moved in from, or out to, the spool and other
	// directories too; a sync of the whole backing file system covers them.
	fh, err := os.Open(s.dirPath(d))
	if err != nil {
		return err
	}
	defer fh.Close()
	return unix.Syncfs(int(fh.Fd()))
}

// changedNames lists, sorted, the entries of d whose volatile and durable
// targets differ.
func changedNames(d *inode) []string {
	var names []string
	for name, n := range d.kids {
		if d.dkids[name] != n {
			names = append(names, name)
		}
	}
	for name := range d.dkids {
		if _, ok := d.kids[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// syncEntry makes one entry of d durable: the backing directory then
// names what the volatile directory names.
func (s *state) syncEntry(d *inode, name string) error {
	vol, dur := d.kids[name], d.dkids[name]
	if vol == dur {
		return nil
	}
	if err := s.ensureDir(d); err != nil {
		return err
	}
	if dur != nil {
		if err := s.dropDurable(d, name, dur); err != nil {
			return err
		}
	}
	if vol != nil {
		return s.addDurable(d, name, vol)
	}
	return nil
}

func (s *state) dropDurable(d *inode, name string, n *inode) error {
	p := s.path(loc{d, name})
	n.removeLoc(d, name)
	delete(d.dkids, name)
	switch {
	case n.isDir() && n.nlink > 0:
		// Still in the volatile tree: keep its durable entries.
		l := spoolLoc(n)
		if err := os.Rename(p, s.path(l)); err != nil {
			return err
		}
		n.locs = []loc{l}
		return nil
	case n.isDir():
		if err := s.evacuate(n, p); err != nil {
			return err
		}
		return os.RemoveAll(p)
	case len(n.locs) == 0 && n.isReg() && n.nlink > 0:
		l := spoolLoc(n)
		if err := os.Rename(p, s.path(l)); err != nil {
			return err
		}
		n.locs = []loc{l}
		return nil
	default:
		return os.Remove(p)
	}
}

// evacuate moves into the spool every inode under the durable directory d
// (held at p) that is still in the volatile tree and would lose its only
// backing copy when p is removed.
func (s *state) evacuate(d *inode, p string) error {
	for name, c := range d.dkids {
		cp := filepath.Join(p, name)
		c.removeLoc(d, name)
		switch {
		case c.isDir() && c.nlink > 0:
			l := spoolLoc(c)
			if err := os.Rename(cp, s.path(l)); err != nil {
				return err
			}
			c.locs = []loc{l}
		case c.isDir():
			if err := s.evacuate(c, cp); err != nil {
				return err
			}
		case c.isReg() && c.nlink > 0 && len(c.locs) == 0:
			l := spoolLoc(c)
			if err := os.Rename(cp, s.path(l)); err != nil {
				return err
			}
			c.locs = []loc{l}
		}
	}
	clear(d.dkids)
	return nil
}

func (s *state) addDurable(d *inode, name string, n *inode) error {
	p := s.path(loc{d, name})
	switch {
	case n.isDir():
		if len(n.locs) > 0 {
			// A directory has one backing copy: moving it makes the
			// whole rename durable at once.
			old := n.locs[0]
			if err := os.Rename(s.path(old), p); err != nil {
				return err
			}
			if old.dir != nil {
				delete(old.dir.dkids, old.name)
			}
		} else {
			if err := os.Mkdir(p, n.perm()|0o700); err != nil {
				return err
			}
			n.dkids = map[string]*inode{}
			n.dmode = n.mode & 0o7777
		}
		n.locs = []loc{{d, name}}
	case n.isReg():
		switch {
		case len(n.locs) > 0 && n.locs[0].dir == nil:
			if err := os.Rename(s.path(n.locs[0]), p); err != nil {
				return err
			}
			n.locs = n.locs[1:]
		case len(n.locs) > 0:
			if err := os.Link(s.path(n.locs[0]), p); err != nil {
				return err
			}
		default:
			f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, n.perm()|0o600)
			if err != nil {
				return err
			}
			if n.bf != nil {
				_ = n.bf.Close() // an fd on nothing: the inode had no copy
			}
			n.bf, n.dsize, n.dmode = f, 0, n.mode&0o7777
			n.clean = 0
		}
		n.locs = append(n.locs, loc{d, name})
	default:
		if err := os.Symlink(n.target, p); err != nil {
			return err
		}
		n.locs = append(n.locs, loc{d, name})
	}
	d.dkids[name] = n
	return nil
}

// crashKeep makes a seeded share of what is unsynced durable, as a power
// loss in the middle of writeback would: each changed directory entry and
// then each dirty block is kept with probability keepPercent/100. Sizes
// follow only from the blocks kept; at 100 everything is kept, sizes
// included.
func (s *state) crashKeep(keepPercent int, seed uint64) error {
	if keepPercent == 100 {
		return s.syncAll()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x6c617a796673))
	keep := func() bool { return rng.IntN(100) < keepPercent }
	ids := sortedKeys(s.inodes)
	for _, id := range ids {
		n := s.inodes[id]
		if !n.isDir() || n.nlink == 0 {
			continue
		}
		for _, name := range changedNames(n) {
			if keep() {
				if err := s.syncEntry(n, name); err != nil {
					return err
				}
			}
		}
	}
	for _, id := range ids {
		n := s.inodes[id]
		if !n.isReg() || len(n.dirty) == 0 || len(n.locs) == 0 {
			continue
		}
		if err := s.ensureFile(n); err != nil {
			return err
		}
		for _, b := range sortedKeys(n.dirty) {
			if keep() {
				if err := writeBlock(n, b, n.dirty[b]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// syncAll makes everything durable, as syncs of every file and then every
// directory would, without injected failures.
func (s *state) syncAll() error {
	s.failSyncs = 0
	ids := sortedKeys(s.inodes)
	for _, id := range ids {
		if n := s.inodes[id]; n.isReg() {
			if err := s.syncFile(n); err != nil {
				return err
			}
		}
	}
	for _, id := range ids {
		if n := s.inodes[id]; n.isDir() && n.nlink > 0 {
			if err := s.syncDir(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Unsynced describes what a crash now would lose.
type Unsynced struct {
	// Bytes is the dirty file data, counted in whole 4 KiB blocks.
	Bytes int64
	// Files counts files with dirty data, or a size or mode not yet synced.
	Files int
	// Entries counts directory entries created, removed or replaced since
	// their directory was last synced.
	Entries int
	// LostBytes is data whose fsync failed: still readable until the next
	// crash, never written to the backing directory.
	LostBytes int64
}

func (s *state) unsynced() Unsynced {
	var u Unsynced
	for _, n := range s.inodes {
		switch {
		case n.isReg():
			u.Bytes += int64(len(n.dirty)) * blockSize
			u.LostBytes += int64(len(n.lost)) * blockSize
			if len(n.dirty) > 0 || n.metaDirty() {
				u.Files++
			}
		case n.isDir() && n.nlink > 0:
			u.Entries += len(changedNames(n))
		}
	}
	return u
}

func sortedKeys[K int64 | uint64, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
