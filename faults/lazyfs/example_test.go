package lazyfs_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ordeal-dev/ordeal/faults/lazyfs"
)

// A new file whose data was synced but whose directory never was is gone
// after a power loss.
func Example() {
	if err := lazyfs.Available(); err != nil {
		fmt.Println("skipped:", err)
		return
	}
	dir, err := os.MkdirTemp("", "lazyfs-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			fmt.Println(err)
			return
		}
	}
	f, err := lazyfs.Mount(backing, mnt, lazyfs.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Unmount()

	fh, err := os.Create(filepath.Join(mnt, "segment"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = fh.WriteString("acknowledged")
	_ = fh.Sync() // the data is durable, the name is not
	_ = fh.Close()

	if err := f.Crash(0, 1); err != nil {
		fmt.Println(err)
		return
	}
	_, err = os.Stat(filepath.Join(mnt, "segment"))
	fmt.Println("segment survived:", err == nil)
}
