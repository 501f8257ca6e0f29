package lazyfs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
)

// snapshot is a tree as relative path -> content, "/" for a directory.
type snapshot map[string]string

func snap(t testing.TB, root string) snapshot {
	t.Helper()
	s := snapshot{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == ".":
		case d.IsDir():
			s[rel] = "/"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func diffSnap(t testing.TB, what string, got, want snapshot) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		if gok != wok || g != w {
			bad++
			if bad <= 5 {
				t.Errorf("%s: %s: got present=%v %d bytes, want present=%v %d bytes", what, k, gok, len(g), wok, len(w))
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d paths differ in all", what, bad)
	}
}

// randomOps applies n random operations under root: writes, truncates,
// mkdirs, renames (of files and directories, across directories, over
// existing names), unlinks, rmdirs, hard links and, if syncs, fsyncs of
// files and directories. Operations the file system refuses (a name
// taken, a directory not empty) are skipped; any other error fails.
func randomOps(t testing.TB, rng *rand.Rand, root string, n int, syncs bool) {
	t.Helper()
	names := []string{"a", "b", "c", "d"}
	for range n {
		var dirs, files []string
		dirs = append(dirs, root)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p == root {
				return nil
			}
			if d.IsDir() {
				dirs = append(dirs, p)
			} else {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
		newPath := func() string { return filepath.Join(pick(dirs), pick(names)) }
		var opErr error
		switch op := rng.IntN(10); {
		case op < 3:
			p := newPath()
			if len(files) > 0 && rng.IntN(2) == 0 {
				p = pick(files)
			}
			fh, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				opErr = err
				break
			}
			buf := []byte(fmt.Sprintf("%x", rng.Uint64()))
			for len(buf) < rng.IntN(3*blockSize) {
				buf = append(buf, buf...)
			}
			_, opErr = fh.WriteAt(buf, int64(rng.IntN(2*blockSize)))
			if cerr := fh.Close(); opErr == nil {
				opErr = cerr
			}
		case op == 3 && len(files) > 0:
			opErr = os.Truncate(pick(files), int64(rng.IntN(3*blockSize)))
		case op == 4:
			opErr = os.Mkdir(newPath(), 0o755)
		case op == 5 && len(files)+len(dirs) > 1:
			opErr = os.Rename(pick(append(files, dirs[1:]...)), newPath())
		case op == 6 && len(files) > 0:
			opErr = os.Remove(pick(files))
		case op == 7 && len(dirs) > 1:
			opErr = syscall.Rmdir(pick(dirs[1:]))
		case op == 8 && len(files) > 0:
			opErr = os.Link(pick(files), newPath())
		case op == 9 && syncs:
			syncPath(t, pick(append(files, dirs...)))
		}
		switch {
		case opErr == nil:
		case os.IsExist(opErr), os.IsNotExist(opErr):
		case errorsIsAny(opErr, syscall.ENOTEMPTY, syscall.EEXIST, syscall.EISDIR, syscall.ENOTDIR, syscall.EINVAL):
		default:
			t.Fatalf("random op: %v", opErr)
		}
	}
}

func errorsIsAny(err error, errnos ...syscall.Errno) bool {
	for _, e := range errnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// TestRandomHistories runs seeded random histories and checks the two
// ends of the model: after a full sync and more changes, a crash keeping
// nothing restores exactly the synced tree; a crash keeping everything
// restores exactly the tree as it was.
func TestRandomHistories(t *testing.T) {
	for seed := range uint64(seeds(6, 60)) {
		for _, keep := range []int{0, 100} {
			t.Run(fmt.Sprintf("seed=%d/keep=%d", seed, keep), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 0x72616e646f6d))
				f := mountT(t, Options{})
				m := f.Mountpoint()
				for round := range 3 {
					randomOps(t, rng, m, 40, true)
					syncTree(t, m)
					synced := snap(t, m)
					randomOps(t, rng, m, 40, false)
					before := snap(t, m)
					crashT(t, f, keep, seed)
					want := synced
					if keep == 100 {
						want = before
					}
					diffSnap(t, fmt.Sprintf("round %d after crash", round), snap(t, m), want)
					diffSnap(t, fmt.Sprintf("round %d backing", round), backingSnap(t, f), want)
					if t.Failed() {
						return
					}
				}
			})
		}
	}
}

// backingSnap is the backing directory's tree, without the spool.
func backingSnap(t testing.TB, f *FS) snapshot {
	t.Helper()
	s := snap(t, f.Backing())
	for k := range s {
		if k == spoolName || filepath.Dir(k) == spoolName || len(k) > len(spoolName) && k[:len(spoolName)+1] == spoolName+"/" {
			delete(s, k)
		}
	}
	return s
}
