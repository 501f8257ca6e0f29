package lazyfs

import (
	"context"
	"errors"
	"sort"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node serves one inode of a state through go-fuse.
type node struct {
	fs.Inode
	s         *state
	n         *inode
	openFlags uint32 // FOPEN_* flags returned from Open and Create
}

// renameNoReplace is RENAME_NOREPLACE of renameat2(2).
const renameNoReplace = 1

// handle is the file handle of one open; it only marks that Release must
// count the open down.
type handle struct{}

var (
	_ fs.NodeLookuper   = (*node)(nil)
	_ fs.NodeGetattrer  = (*node)(nil)
	_ fs.NodeSetattrer  = (*node)(nil)
	_ fs.NodeOpener     = (*node)(nil)
	_ fs.NodeCreater    = (*node)(nil)
	_ fs.NodeReader     = (*node)(nil)
	_ fs.NodeWriter     = (*node)(nil)
	_ fs.NodeFsyncer    = (*node)(nil)
	_ fs.NodeFlusher    = (*node)(nil)
	_ fs.NodeReleaser   = (*node)(nil)
	_ fs.NodeMkdirer    = (*node)(nil)
	_ fs.NodeUnlinker   = (*node)(nil)
	_ fs.NodeRmdirer    = (*node)(nil)
	_ fs.NodeRenamer    = (*node)(nil)
	_ fs.NodeLinker     = (*node)(nil)
	_ fs.NodeSymlinker  = (*node)(nil)
	_ fs.NodeReadlinker = (*node)(nil)
	_ fs.NodeReaddirer  = (*node)(nil)
	_ fs.NodeStatfser   = (*node)(nil)
	_ fs.NodeAllocater  = (*node)(nil)
)

// errno maps a backing-directory error to the errno the caller sees.
func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

func (x *node) attr(n *inode, out *fuse.Attr) {
	out.Ino = n.id
	out.Mode = n.mode
	out.Nlink = uint32(max(n.nlink, 1))
	if n.isDir() {
		out.Nlink++
	}
	switch {
	case n.isReg():
		out.Size = uint64(n.size)
	case n.target != "":
		out.Size = uint64(len(n.target))
	}
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = blockSize
	out.SetTimes(nil, &n.mtime, &n.mtime)
}

func (x *node) child(ctx context.Context, c *inode, out *fuse.EntryOut) *fs.Inode {
	x.attr(c, &out.Attr)
	return x.NewInode(ctx, &node{s: x.s, n: c, openFlags: x.openFlags}, fs.StableAttr{Mode: c.mode & syscall.S_IFMT, Ino: c.id})
}

// Lookup implements fs.NodeLookuper.
func (x *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	c, ok := x.n.kids[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return x.child(ctx, c, out), 0
}

// Getattr implements fs.NodeGetattrer.
func (x *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.attr(x.n, &out.Attr)
	return 0
}

// Setattr implements fs.NodeSetattrer: size, mode and times.
func (x *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if sz, ok := in.GetSize(); ok {
		if !x.n.isReg() {
			return syscall.EINVAL
		}
		x.s.truncate(x.n, int64(sz))
	}
	if m, ok := in.GetMode(); ok {
		x.n.mode = x.n.mode&syscall.S_IFMT | m&0o7777
	}
	if mt, ok := in.GetMTime(); ok {
		x.n.mtime = mt
	}
	x.attr(x.n, &out.Attr)
	return 0
}

// Open implements fs.NodeOpener.
func (x *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.n.opens++
	return &handle{}, x.openFlags, 0
}

// Create implements fs.NodeCreater.
func (x *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if e := x.checkName(name); e != 0 {
		return nil, nil, 0, e
	}
	if _, ok := x.n.kids[name]; ok {
		return nil, nil, 0, syscall.EEXIST
	}
	c := x.s.newInode(syscall.S_IFREG | mode&0o7777)
	c.nlink, c.opens = 1, 1
	x.n.kids[name] = c
	return x.child(ctx, c, out), &handle{}, x.openFlags, 0
}

// checkName refuses the spool's name at the root.
func (x *node) checkName(name string) syscall.Errno {
	if x.n == x.s.root && name == spoolName {
		return syscall.EPERM
	}
	return 0
}

// Read implements fs.NodeReader.
func (x *node) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	k, err := x.s.readAt(x.n, dest, off)
	if err != nil {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// Write implements fs.NodeWriter.
func (x *node) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if err := x.s.writeAt(x.n, data, off); err != nil {
		return 0, errno(err)
	}
	return uint32(len(data)), 0
}

// Fsync implements fs.NodeFsyncer for files (fsync and fdatasync alike)
// and directories.
func (x *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	switch {
	case x.n.isDir():
		return errno(x.s.syncDir(x.n))
	case x.n.isReg():
		if err := x.s.syncFile(x.n); err != nil {
			return errno(err)
		}
		if x.s.ext4 {
			return errno(x.s.syncNames(x.n))
		}
	}
	return 0
}

// Flush implements fs.NodeFlusher: close makes nothing durable.
func (x *node) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return 0 }

// Release implements fs.NodeReleaser.
func (x *node) Release(ctx context.Context, f fs.FileHandle) syscall.Errno {
	if _, ok := f.(*handle); !ok {
		return 0
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.n.opens--
	x.s.forget(x.n)
	return 0
}

// Mkdir implements fs.NodeMkdirer.
func (x *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if e := x.checkName(name); e != 0 {
		return nil, e
	}
	if _, ok := x.n.kids[name]; ok {
		return nil, syscall.EEXIST
	}
	c := x.s.newInode(syscall.S_IFDIR | mode&0o7777)
	c.nlink = 1
	x.n.kids[name] = c
	return x.child(ctx, c, out), 0
}

// Symlink implements fs.NodeSymlinker.
func (x *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if e := x.checkName(name); e != 0 {
		return nil, e
	}
	if _, ok := x.n.kids[name]; ok {
		return nil, syscall.EEXIST
	}
	c := x.s.newInode(syscall.S_IFLNK | 0o777)
	c.target, c.nlink = target, 1
	x.n.kids[name] = c
	return x.child(ctx, c, out), 0
}

// Readlink implements fs.NodeReadlinker.
func (x *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	return []byte(x.n.target), 0
}

// Link implements fs.NodeLinker for regular files.
func (x *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*node)
	if !ok || !t.n.isReg() {
		return nil, syscall.EPERM
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if e := x.checkName(name); e != 0 {
		return nil, e
	}
	if _, ok := x.n.kids[name]; ok {
		return nil, syscall.EEXIST
	}
	t.n.nlink++
	x.n.kids[name] = t.n
	return x.child(ctx, t.n, out), 0
}

// Unlink implements fs.NodeUnlinker.
func (x *node) Unlink(ctx context.Context, name string) syscall.Errno {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	c, ok := x.n.kids[name]
	switch {
	case !ok:
		return syscall.ENOENT
	case c.isDir():
		return syscall.EISDIR
	}
	delete(x.n.kids, name)
	c.nlink--
	x.s.forget(c)
	return 0
}

// Rmdir implements fs.NodeRmdirer.
func (x *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	c, ok := x.n.kids[name]
	switch {
	case !ok:
		return syscall.ENOENT
	case !c.isDir():
		return syscall.ENOTDIR
	case len(c.kids) > 0:
		return syscall.ENOTEMPTY
	}
	delete(x.n.kids, name)
	c.nlink--
	x.s.forget(c)
	return 0
}

// Rename implements fs.NodeRenamer, replacing the target if it exists.
func (x *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	if flags&^uint32(renameNoReplace) != 0 {
		return syscall.EINVAL
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if e := np.checkName(newName); e != 0 {
		return e
	}
	c, ok := x.n.kids[name]
	if !ok {
		return syscall.ENOENT
	}
	old, exists := np.n.kids[newName]
	switch {
	case exists && old == c:
		return 0
	case exists && flags&uint32(renameNoReplace) != 0:
		return syscall.EEXIST
	case exists && old.isDir() && !c.isDir():
		return syscall.EISDIR
	case exists && !old.isDir() && c.isDir():
		return syscall.ENOTDIR
	case exists && old.isDir() && len(old.kids) > 0:
		return syscall.ENOTEMPTY
	}
	delete(x.n.kids, name)
	np.n.kids[newName] = c
	if exists {
		old.nlink--
		x.s.forget(old)
	}
	return 0
}

// Readdir implements fs.NodeReaddirer.
func (x *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	ents := make([]fuse.DirEntry, 0, len(x.n.kids))
	for name, c := range x.n.kids {
		ents = append(ents, fuse.DirEntry{Name: name, Mode: c.mode & syscall.S_IFMT, Ino: c.id})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	return fs.NewListDirStream(ents), 0
}

// Statfs implements fs.NodeStatfser with the backing file system's figures.
func (x *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Statfs(x.s.backing, &st); err != nil {
		return errno(err)
	}
	out.FromStatfsT(&st)
	return 0
}

// Allocate implements fs.NodeAllocater: plain fallocate extends the size;
// FALLOC_FL_KEEP_SIZE is accepted and reserves nothing.
func (x *node) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	const keepSize = 1
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	switch mode {
	case 0:
		if end := int64(off + size); end > x.n.size {
			x.s.truncate(x.n, end)
		}
		return 0
	case keepSize:
		return 0
	}
	return syscall.EOPNOTSUPP
}

var (
	_ fs.NodeGetxattrer  = (*node)(nil)
	_ fs.NodeListxattrer = (*node)(nil)
	_ fs.NodeSetxattrer  = (*node)(nil)
)

// Getxattr implements fs.NodeGetxattrer: lazyfs keeps no extended
// attributes. ENOSYS tells the kernel so once, which stops it asking for
// security.capability before every write.
func (x *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// Listxattr implements fs.NodeListxattrer; see Getxattr.
func (x *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// Setxattr implements fs.NodeSetxattrer; see Getxattr.
func (x *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOSYS
}
