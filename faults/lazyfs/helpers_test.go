package lazyfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var availability = sync.OnceValue(Available)

// mountT mounts a fresh lazyfs over a temporary backing directory and
// unmounts it when the test ends, even on failure. It skips the test where
// FUSE cannot be mounted.
func mountT(t testing.TB, opts Options) *FS {
	t.Helper()
	if err := availability(); err != nil {
		t.Skipf("lazyfs needs root, /dev/fuse and a working mount(2): %v", err)
	}
	dir := t.TempDir()
	b, m := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{b, m} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Mount(b, m, opts)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			// Tear it down anyway, so that neither this process nor
			// the removal of the temporary directory hangs on it.
			if err := f.ForceUnmount(); err != nil {
				t.Errorf("force unmount: %v", err)
			}
		}
	})
	return f
}

// crashT crashes f and fails the test on error.
func crashT(t testing.TB, f *FS, keep int, seed uint64) {
	t.Helper()
	if err := f.Crash(keep, seed); err != nil {
		t.Fatalf("crash(keep=%d, seed=%d): %v", keep, seed, err)
	}
}

// syncPath fsyncs a file or directory by path.
func syncPath(t testing.TB, p string) {
	t.Helper()
	d, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", p, err)
	}
}

// writeFile creates (or truncates) p, writes data and, if sync, fsyncs it.
func writeFile(t testing.TB, p string, data []byte, sync bool) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := fh.Sync(); err != nil {
			t.Fatalf("fsync %s: %v", p, err)
		}
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantContent asserts p holds want, or does not exist when want is nil.
func wantContent(t testing.TB, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	switch {
	case want == nil && errors.Is(err, os.ErrNotExist):
	case want == nil && err == nil:
		t.Errorf("%s exists with %d bytes, want it gone", filepath.Base(p), len(got))
	case err != nil:
		t.Errorf("read %s: %v", filepath.Base(p), err)
	case !bytes.Equal(got, want):
		t.Errorf("%s: got %d bytes %.20q, want %d bytes %.20q", filepath.Base(p), len(got), got, len(want), want)
	}
}
