package lazyfs

import "errors"

var (
	// ErrUnavailable reports that FUSE cannot be mounted here: not root,
	// no /dev/fuse, or the kernel refused a trial mount.
	ErrUnavailable = errors.New("lazyfs: fuse mounts are not available")
	// ErrBusy reports that a crash or unmount found the mount in use: a
	// process still holds a file open or mapped, or has its working
	// directory inside. Nothing was changed.
	ErrBusy = errors.New("lazyfs: mount is busy")
	// ErrClosed reports a control call on an unmounted FS.
	ErrClosed = errors.New("lazyfs: file system is unmounted")
	// ErrBadOption reports an invalid argument to a control call.
	ErrBadOption = errors.New("lazyfs: bad option")
	// ErrBacking reports a failure of the backing directory itself.
	ErrBacking = errors.New("lazyfs: backing directory")
)
