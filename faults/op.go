package faults

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// OpKind classifies a file-system operation.
type OpKind uint8

// The operation kinds an injector sees. Each covers several vfs methods.
const (
	OpCreate      OpKind = iota + 1 // Create, ReuseForWrite
	OpOpen                          // Open, OpenReadWrite, OpenDir
	OpRead                          // Read, ReadAt
	OpWrite                         // Write, WriteAt
	OpSync                          // Sync, SyncData, SyncTo (files and directories)
	OpRemove                        // Remove, RemoveAll
	OpRename                        // Rename
	OpLink                          // Link
	OpMkdir                         // MkdirAll
	OpList                          // List
	OpStat                          // Stat (FS and File)
	OpLock                          // Lock
	OpPreallocate                   // Preallocate
)

// opKindNames is indexed by OpKind; its entries are the text form of each
// kind.
var opKindNames = [...]string{
	OpCreate:      "create",
	OpOpen:        "open",
	OpRead:        "read",
	OpWrite:       "write",
	OpSync:        "sync",
	OpRemove:      "remove",
	OpRename:      "rename",
	OpLink:        "link",
	OpMkdir:       "mkdir",
	OpList:        "list",
	OpStat:        "stat",
	OpLock:        "lock",
	OpPreallocate: "preallocate",
}

// OpKinds lists every operation kind in order.
func OpKinds() []OpKind {
	kinds := make([]OpKind, 0, len(opKindNames)-1)
	for k := OpCreate; int(k) < len(opKindNames); k++ {
		kinds = append(kinds, k)
	}
	return kinds
}

// String returns the kind's text form ("sync", "write", ...).
func (k OpKind) String() string {
	if k > 0 && int(k) < len(opKindNames) {
		return opKindNames[k]
	}
	return fmt.Sprintf("opkind(%d)", uint8(k))
}

// AllOps is the text form of kind 0, which injectors read as "every kind".
const AllOps = "all"

// kindName returns the text form of kind in an injector: its String, or
// "all" for 0.
func kindName(kind OpKind) string {
	if kind == 0 {
		return AllOps
	}
	return kind.String()
}

// parseKindName is ParseOpKind that also reads "all" as 0.
func parseKindName(s string) (OpKind, error) {
	if strings.EqualFold(s, AllOps) {
		return 0, nil
	}
	return ParseOpKind(s)
}

// ParseOpKind returns the kind whose String is s, in either case.
func ParseOpKind(s string) (OpKind, error) {
	for k := OpCreate; int(k) < len(opKindNames); k++ {
		if strings.EqualFold(opKindNames[k], s) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown operation kind %q", ErrSyntax, s)
}

// Op describes one file-system operation as an injector sees it.
type Op struct {
	// Kind classifies the operation.
	Kind OpKind
	// Path names the file or directory; for Rename and Link, the old name.
	Path string
	// Offset is the file offset of a read or write (the handle's position
	// for Read and Write), or of a Preallocate.
	Offset int64
	// Len is the number of bytes a read or write asks for.
	Len int
}

// String formats op for logs: "write /db/000001.log @4096+512".
func (op Op) String() string {
	switch op.Kind {
	case OpRead, OpWrite, OpPreallocate:
		return fmt.Sprintf("%s %s @%d+%d", op.Kind, op.Path, op.Offset, op.Len)
	}
	return fmt.Sprintf("%s %s", op.Kind, op.Path)
}

// errnoNames maps the errnos an injector may use to their text form.
var errnoNames = []struct {
	errno syscall.Errno
	name  string
}{
	{syscall.EIO, "EIO"},
	{syscall.ENOSPC, "ENOSPC"},
	{syscall.EDQUOT, "EDQUOT"},
	{syscall.EROFS, "EROFS"},
	{syscall.EACCES, "EACCES"},
	{syscall.EPERM, "EPERM"},
	{syscall.ENOENT, "ENOENT"},
	{syscall.EEXIST, "EEXIST"},
	{syscall.EFBIG, "EFBIG"},
	{syscall.EAGAIN, "EAGAIN"},
	{syscall.EINTR, "EINTR"},
	{syscall.EBADF, "EBADF"},
	{syscall.EMFILE, "EMFILE"},
	{syscall.ENFILE, "ENFILE"},
	{syscall.ENOMEM, "ENOMEM"},
}

// ErrnoName returns the upper-case name of errno ("EIO"), or its number
// when it has none here.
func ErrnoName(errno syscall.Errno) string {
	for _, e := range errnoNames {
		if e.errno == errno {
			return e.name
		}
	}
	return fmt.Sprintf("errno%d", uint(errno))
}

// ParseErrno returns the errno named s, in either case ("EIO", "eio"), or
// numbered s ("errno5").
func ParseErrno(s string) (syscall.Errno, error) {
	for _, e := range errnoNames {
		if strings.EqualFold(e.name, s) {
			return e.errno, nil
		}
	}
	if num, ok := strings.CutPrefix(strings.ToLower(s), "errno"); ok {
		if n, err := strconv.ParseUint(num, 10, 32); err == nil && num[0] != '+' {
			return syscall.Errno(n), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown errno %q", ErrSyntax, s)
}
