package faults_test

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ordeal-dev/ordeal/faults"
)

// A write-ahead log that retries a failed fsync acknowledges a record that a
// power loss then takes away.
func Example() {
	if err := retryAfterEIO(); err != nil {
		fmt.Println("error:", err)
	}
	// Output:
	// sync: EIO=true injected=true
	// retry: <nil>
	// after power loss: "first\n"
}

func retryAfterEIO() error {
	sync := faults.NewTrigger(faults.OpSync, syscall.EIO)
	disk := faults.NewDisk(sync)
	fs := disk.FS()

	f, err := fs.Create("wal", vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer f.Close()
	dir, err := fs.OpenDir("")
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return err
	}
	for _, rec := range []string{"first\n", "second\n"} {
		if _, err := f.Write([]byte(rec)); err != nil {
			return err
		}
		if rec == "second\n" {
			sync.Arm(1)
		}
		if err := f.Sync(); err != nil {
			fmt.Printf("sync: EIO=%v injected=%v\n", errors.Is(err, syscall.EIO), errors.Is(err, faults.ErrInjected))
			fmt.Println("retry:", f.Sync()) // succeeds, without "second"
		}
	}

	after, err := disk.PowerLoss(1, 0, nil)
	if err != nil {
		return err
	}
	g, err := after.FS().Open("wal")
	if err != nil {
		return err
	}
	defer g.Close()
	buf := make([]byte, 64)
	n, err := g.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	fmt.Printf("after power loss: %q\n", buf[:n])
	return nil
}

func ExampleParse() {
	inj, err := faults.Parse("any(sync-eio(p=0.01,seed=7),write-enospc(after=1048576))")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(inj)
	_, err = faults.Parse("sync-eio(p=0.5)")
	fmt.Println(err)
	// Output:
	// any(sync-eio(p=0.01,seed=7),write-enospc(after=1MiB))
	// parse "sync-eio(p=0.5)": faults: bad injector syntax: sync-eio: p=0.5 needs a seed
}
