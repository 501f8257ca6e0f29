package lazyfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSmoke(t *testing.T) {
	f := mountT(t, Options{})
	m := f.Mountpoint()
	writeFile(t, filepath.Join(m, "a"), []byte("hello"), true)
	syncPath(t, m)
	writeFile(t, filepath.Join(m, "b"), []byte("lost"), false)
	wantContent(t, filepath.Join(m, "b"), []byte("lost"))
	crashT(t, f, 0, 1)
	wantContent(t, filepath.Join(m, "a"), []byte("hello"))
	wantContent(t, filepath.Join(m, "b"), nil)
	ents, _ := os.ReadDir(f.Backing())
	t.Log(ents)
}
