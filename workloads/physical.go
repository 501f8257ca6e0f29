package workloads

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// PhysicalPreallocChunk is how far ahead of the writes a PhysicalLog
// zero-fills its file.
const PhysicalPreallocChunk = 4 << 20

var physicalZeros = make([]byte, PhysicalPreallocChunk)

// PhysicalLog is the append file behind every family's physical baseline:
// each frame is written after the previous one with one write and made
// durable with one fdatasync. No index, no rotation, no reads. The file is
// zero-filled PhysicalPreallocChunk ahead of the writes, in the same sync
// as the frame that needs it, so that most fdatasyncs flush data blocks
// only and no file-size metadata: the best a log on this disk can do.
//
// Append is not safe for concurrent use: the caller serializes appends,
// usually under the lock it numbers its records with.
type PhysicalLog struct {
	f     *os.File
	off   int64 // end of the last frame
	alloc int64 // end of the zero-filled region
}

// OpenPhysicalLog creates (or truncates) dir/physical.log. The physical
// baseline takes no engine parameters; family names the caller in errors.
func OpenPhysicalLog(family, dir string, engineParams map[string]string) (*PhysicalLog, error) {
	if len(engineParams) > 0 {
		return nil, fmt.Errorf("%s: the physical baseline takes no parameters, got %v", family, engineParams)
	}
	if dir == "" {
		return nil, fmt.Errorf("%s: the physical baseline needs a directory", family)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "physical.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &PhysicalLog{f: f}, nil
}

// Append writes frame after the previous one, zero-filling ahead first
// when the frame comes within half a chunk of the filled region, and
// makes it durable with one fdatasync.
func (l *PhysicalLog) Append(frame []byte) error {
	end := l.off + int64(len(frame))
	for l.alloc < end+PhysicalPreallocChunk/2 {
		if _, err := l.f.WriteAt(physicalZeros, l.alloc); err != nil {
			return err
		}
		l.alloc += PhysicalPreallocChunk
	}
	if _, err := l.f.WriteAt(frame, l.off); err != nil {
		return err
	}
	if err := Fdatasync(l.f); err != nil {
		return err
	}
	l.off = end
	return nil
}

// Size is the end of the last frame appended.
func (l *PhysicalLog) Size() int64 { return l.off }

// Sync makes the file durable with one fdatasync.
func (l *PhysicalLog) Sync() error { return Fdatasync(l.f) }

// Close closes the file.
func (l *PhysicalLog) Close() error { return l.f.Close() }

// Fdatasync flushes f's data blocks (and only the metadata needed to read
// them back), retrying on EINTR.
func Fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
			}
			return nil
		}
	}
}

// PreloadBatches calls appendN until total records are in, at most batch
// at a time, and stops early when ctx is done.
func PreloadBatches(ctx context.Context, total int64, batch int, appendN func(n int) error) error {
	for remaining := total; remaining > 0; remaining -= int64(batch) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := appendN(int(min(remaining, int64(batch)))); err != nil {
			return err
		}
	}
	return nil
}
