package lazyfs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// dropInPlace forgets the unsynced data of every file without remounting
// and without telling the kernel: the crash lazyfs does not do, kept here
// to measure what the kernel's caches would show after it.
func dropInPlace(t testing.TB, f *FS) {
	t.Helper()
	st, err := f.state()
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, n := range st.inodes {
		if n.isReg() {
			n.dirty, n.lost, n.size, n.clean = nil, nil, n.dsize, n.dsize
		}
	}
}

// childTools are the child modes besides the engines': each takes the
// child's directory and count arguments and returns its exit code.
var childTools = map[string]func(arg, n string) int{
	"mmap":              mmapChild,
	"bench-bolt":        benchBoltChild,
	"bench-bolt-nosync": benchBoltNoSyncChild,
}

// mmapChild maps the file arg shared and read-only, as bbolt does, and
// prints its first n bytes in hex, or the mmap error.
func mmapChild(p, n string) int {
	size, err := strconv.Atoi(n)
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 2
	}
	fh, err := os.Open(p)
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	defer fh.Close()
	m, err := syscall.Mmap(int(fh.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		fmt.Printf("mmap-error %d\n", err.(syscall.Errno))
		return 0
	}
	fmt.Printf("data %x\n", m)
	if err := syscall.Munmap(m); err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	return 0
}

// mmapRead reads the first n bytes of p through a shared mapping made by
// a child process. The process serving a FUSE mount must never fault on a
// mapping of it: the faulting thread cannot be preempted, so a garbage
// collection that stops the world waits on it while the serving
// goroutines are stopped, and the process deadlocks.
func mmapRead(t testing.TB, p string, n int) ([]byte, error) {
	t.Helper()
	out, err := child("mmap", p, n).Output()
	if err != nil {
		t.Fatalf("mmap child: %v: %s", err, out)
	}
	line := strings.TrimSpace(string(out))
	if rest, ok := strings.CutPrefix(line, "mmap-error "); ok {
		e, err := strconv.Atoi(strings.Fields(rest)[0])
		if err != nil {
			t.Fatalf("mmap child: %q", line)
		}
		return nil, syscall.Errno(e)
	}
	rest, ok := strings.CutPrefix(line, "data ")
	if !ok {
		t.Fatalf("mmap child: %q", line)
	}
	b, err := hex.DecodeString(rest)
	if err != nil {
		t.Fatalf("mmap child: %v", err)
	}
	return b, nil
}

// TestPageCache measures what a reader sees after unsynced data is
// dropped, through read(2) and through a shared mapping, with the kernel's
// caches on (the default) and off, dropping in place or by Crash's
// remount. The outcomes are in the package documentation.
func TestPageCache(t *testing.T) {
	old := bytes.Repeat([]byte{'o'}, 2*blockSize)
	nu := []byte("NEW")
	for _, tc := range []struct {
		name      string
		opts      Options
		remount   bool
		wantStale bool // a read after the drop still returns the new bytes
		mmapFails bool
	}{
		{"cache/in-place", Options{}, false, true, false},
		{"cache/remount", Options{}, true, false, false},
		{"no-cache/in-place", Options{NoKernelCache: true}, false, false, true},
		{"no-cache/remount", Options{NoKernelCache: true}, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mountT(t, tc.opts)
			p := filepath.Join(f.Mountpoint(), "f")
			writeFile(t, p, old, true)
			syncPath(t, f.Mountpoint())
			fh, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.WriteAt(nu, 0); err != nil {
				t.Fatal(err)
			}
			got, merr := mmapRead(t, p, len(old))
			switch {
			case tc.mmapFails && !errors.Is(merr, syscall.ENODEV):
				t.Errorf("shared mmap with direct I/O: %v, want ENODEV", merr)
			case !tc.mmapFails && merr != nil:
				t.Fatalf("shared mmap: %v", merr)
			case !tc.mmapFails && !bytes.HasPrefix(got, nu):
				t.Errorf("mapping does not show the unsynced write: %.8q", got)
			}
			// Let the kernel see the write's new mtime now, so that no later
			// attribute refresh invalidates the cached pages by chance
			// (FUSE_AUTO_INVAL_DATA drops them when mtime or size changes).
			if _, err := fh.Stat(); err != nil {
				t.Fatal(err)
			}
			if _, err := fh.ReadAt(make([]byte, len(old)), 0); err != nil {
				t.Fatal(err)
			}
			if tc.remount {
				// Crash refuses while the file is open.
				if err := f.Crash(0, 1); !errors.Is(err, ErrBusy) {
					t.Errorf("Crash with an open file: %v, want ErrBusy", err)
				}
				fh.Close()
				crashT(t, f, 0, 1)
			} else {
				fh.Close()
				dropInPlace(t, f)
			}
			got, err = os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if stale := bytes.HasPrefix(got, nu); stale != tc.wantStale {
				t.Errorf("read after the drop: stale=%v, want %v", stale, tc.wantStale)
			}
			if !tc.mmapFails {
				got, err := mmapRead(t, p, len(old))
				if err != nil {
					t.Fatal(err)
				}
				if stale := bytes.HasPrefix(got, nu); stale != tc.wantStale {
					t.Errorf("mapping after the drop: stale=%v, want %v", stale, tc.wantStale)
				}
			}
		})
	}
}
