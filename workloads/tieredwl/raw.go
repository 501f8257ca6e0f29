package tieredwl

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/workloads"
)

// rawTarget is the baseline: each copy reads the local segment file and
// writes it to a temporary file, fsyncs it, renames it into place and
// fsyncs the directory, as the best atomic durable copy the disk allows;
// retention removes the oldest file and fsyncs the directory.
type rawTarget struct {
	set    settings
	src    string
	remote string
	seq    atomic.Uint64
}

func openRaw(dir string, set settings) (*rawTarget, error) {
	t := &rawTarget{set: set, remote: filepath.Join(dir, "remote")}
	if err := os.MkdirAll(t.remote, 0o755); err != nil {
		return nil, fmt.Errorf("tieredwl: mkdir %s: %w", t.remote, err)
	}
	d, err := writeSource(vfs.Default, filepath.Join(dir, "local"), set.segSize, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return nil, err
	}
	t.src = d.LogSegment
	return t, nil
}

func (t *rawTarget) Preload(context.Context, *workloads.Gen) error { return nil }
func (t *rawTarget) Close() error                                  { return nil }
func (t *rawTarget) NewWorker(int) workloads.Worker {
	return &rawWorker{t: t, buf: make([]byte, 256<<10)}
}

type rawWorker struct {
	t   *rawTarget
	own []string
	buf []byte
}

func (w *rawWorker) Do(op int, _ *workloads.Gen) (workloads.Work, error) {
	if op != OpCopy {
		return workloads.Work{}, fmt.Errorf("tieredwl: %s runs only copy", RawCopy)
	}
	t := w.t
	final := filepath.Join(t.remote, fmt.Sprintf("%08d.seg", t.seq.Add(1)))
	if err := w.copyFile(final); err != nil {
		return workloads.Work{}, err
	}
	w.own = append(w.own, final)
	if len(w.own) > t.set.retain {
		old := w.own[0]
		w.own = w.own[1:]
		if err := os.Remove(old); err != nil {
			return workloads.Work{}, fmt.Errorf("tieredwl: remove %s: %w", old, err)
		}
		if err := syncDir(t.remote); err != nil {
			return workloads.Work{}, err
		}
	}
	return workloads.Work{Items: t.set.segSize, BytesWritten: t.set.segSize}, nil
}

func (w *rawWorker) copyFile(final string) (err error) {
	tmp := final + ".tmp"
	src, err := os.Open(w.t.src)
	if err != nil {
		return fmt.Errorf("tieredwl: open %s: %w", w.t.src, err)
	}
	defer src.Close()
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("tieredwl: create %s: %w", tmp, err)
	}
	// Plain reads and writes through the buffer, as a broker's copy does
	// (no copy_file_range offload).
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{src}, w.buf); err != nil {
		_ = f.Close()
		return fmt.Errorf("tieredwl: copy to %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("tieredwl: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tieredwl: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("tieredwl: rename %s: %w", tmp, err)
	}
	return syncDir(w.t.remote)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tieredwl: open %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("tieredwl: fsync %s: %w", dir, serr)
	}
	return cerr
}
