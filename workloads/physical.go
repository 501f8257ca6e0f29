package workloads

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// PhysicalMode is how a PhysicalLog writes its frames.
type PhysicalMode string

const (
	// PhysicalAppend writes each frame at the end of the file: the file
	// grows with every write, so every fdatasync also commits the new size.
	PhysicalAppend PhysicalMode = "append"
	// PhysicalOverwrite writes into a region zero-filled and made durable
	// beforehand: an fdatasync then flushes data blocks only.
	PhysicalOverwrite PhysicalMode = "overwrite"
	// PhysicalDirect is PhysicalOverwrite through O_DIRECT, whole aligned
	// blocks from an aligned buffer, past the page cache; file systems that
	// refuse O_DIRECT (tmpfs) do not offer it.
	PhysicalDirect PhysicalMode = "direct"
	// PhysicalAuto measures the other modes on the frame size at open and
	// keeps the fastest: the disk's limit for the pattern.
	PhysicalAuto PhysicalMode = "auto"
)

// PhysicalModes lists the modes a PhysicalLog can be asked for.
var PhysicalModes = []PhysicalMode{PhysicalAuto, PhysicalAppend, PhysicalOverwrite, PhysicalDirect}

// Region sizes of the overwrite modes: zero-filled and synced at open, then
// extended a chunk at a time when the frames come within half a chunk of
// its end (the extension is written and synced with the frame that needs
// it, as an engine that preallocates its next segment pays for it).
const (
	PhysicalPreallocInitial = 32 << 20
	PhysicalPreallocChunk   = 8 << 20
)

// blockSize is the alignment of O_DIRECT writes.
const blockSize = 4096

// calibrationFrames is how many frames each mode writes when PhysicalAuto
// picks one.
const calibrationFrames = 48

// PhysicalLog is the file behind every family's physical baseline: each
// frame is written after the previous one with one write and made durable
// with one fdatasync. No index, no rotation, no reads. In the auto mode
// (the default) it is the best of appending, overwriting a preallocated
// region and overwriting it through O_DIRECT, measured on this disk for
// the frame size, so that an engine's throughput as a fraction of it is at
// most 1 (one above 1 means the baseline is not the disk's limit).
//
// Appends may come from several goroutines: those that arrive while a
// write and its fdatasync are under way are written together with the
// next one (a group commit, as engines with concurrent writers do), each
// call returning once its frame is durable.
type PhysicalLog struct {
	mode PhysicalMode
	f    *os.File // buffered writes (append, overwrite) and syncs
	df   *os.File // O_DIRECT writes (direct)

	mu      sync.Mutex
	cond    *sync.Cond
	pending [][]byte // frames waiting for the next group
	queued  int64    // groups started (each takes the frames pending then)
	done    int64    // groups made durable
	err     error    // the first failure, returned to every later call
	leader  bool     // a goroutine is writing a group

	off   int64  // end of the last frame
	alloc int64  // end of the zero-filled region (overwrite, direct)
	buf   []byte // direct: aligned buffer; buf[:off%blockSize] is the tail block's head
}

// OpenPhysicalLog creates (or truncates) dir/physical.log. Its one engine
// parameter, mode, is auto (default), append, overwrite or direct;
// frameHint is the size of a typical frame, which auto measures the modes
// with. family names the caller in errors.
func OpenPhysicalLog(family, dir string, engineParams map[string]string, frameHint int) (*PhysicalLog, error) {
	mode := PhysicalAuto
	for k, v := range engineParams {
		if k != "mode" {
			return nil, fmt.Errorf("%s: the physical baseline takes only mode (%v), got %s=%s", family, PhysicalModes, k, v)
		}
		mode = PhysicalMode(v)
		if !slices.Contains(PhysicalModes, mode) {
			return nil, fmt.Errorf("%s: physical baseline mode %q: want one of %v", family, v, PhysicalModes)
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("%s: the physical baseline needs a directory", family)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if mode == PhysicalAuto {
		m, err := fastestMode(dir, max(1, frameHint))
		if err != nil {
			return nil, fmt.Errorf("%s: physical baseline: %w", family, err)
		}
		mode = m
	}
	return openMode(filepath.Join(dir, "physical.log"), mode, PhysicalPreallocInitial)
}

// Mode is the mode the log writes in (auto resolved).
func (l *PhysicalLog) Mode() PhysicalMode { return l.mode }

// openMode opens a log in mode; the overwrite modes zero-fill and sync
// prealloc bytes first.
func openMode(path string, mode PhysicalMode, prealloc int64) (*PhysicalLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	l := &PhysicalLog{mode: mode, f: f}
	l.cond = sync.NewCond(&l.mu)
	fail := func(err error) (*PhysicalLog, error) {
		l.Close()
		os.Remove(path)
		return nil, err
	}
	if mode == PhysicalAppend {
		return l, nil
	}
	if mode == PhysicalDirect {
		df, err := os.OpenFile(path, os.O_WRONLY|unix.O_DIRECT, 0)
		if err != nil {
			return fail(fmt.Errorf("%w: %v", errNoDirect, err))
		}
		l.df = df
		if l.buf, err = alignedBuffer(2 * blockSize); err != nil {
			return fail(err)
		}
	}
	if err := l.extend((prealloc + 1<<20 - 1) >> 20 << 20); err != nil {
		return fail(err)
	}
	if err := Fdatasync(l.f); err != nil {
		return fail(err)
	}
	return l, nil
}

var errNoDirect = errors.New("O_DIRECT refused")

// fastestMode writes calibrationFrames frames of frameHint bytes in each
// mode the file system allows, the modes taking turns a few frames at a
// time (so that a disturbance falls on all of them), and returns the one
// that took the least time in all (the highest throughput), O_DIRECT
// winning ties within 15%.
func fastestMode(dir string, frameHint int) (PhysicalMode, error) {
	frame := make([]byte, frameHint)
	for i := range frame {
		frame[i] = byte(i*7 + 1)
	}
	type cand struct {
		mode  PhysicalMode
		log   *PhysicalLog
		path  string
		total time.Duration
	}
	var cands []*cand
	defer func() {
		for _, c := range cands {
			c.log.Close()
			os.Remove(c.path)
		}
	}()
	for _, m := range []PhysicalMode{PhysicalAppend, PhysicalOverwrite, PhysicalDirect} {
		path := filepath.Join(dir, "physical-calibrate-"+string(m))
		// Room for the calibration's frames and no more: a larger
		// region would leave the disk busy writing zeros back when
		// the log itself starts.
		l, err := openMode(path, m, int64(calibrationFrames*frameHint)+PhysicalPreallocChunk)
		if errors.Is(err, errNoDirect) {
			continue
		}
		if err != nil {
			return "", err
		}
		cands = append(cands, &cand{mode: m, log: l, path: path})
	}
	const turn = 4
	for range calibrationFrames / turn {
		for _, c := range cands {
			for range turn {
				t0 := time.Now()
				if err := c.log.Append(frame); err != nil {
					return "", err
				}
				c.total += time.Since(t0)
			}
		}
	}
	best, bestT := PhysicalMode(""), time.Duration(0)
	for _, c := range cands {
		t := c.total
		if c.mode == PhysicalDirect {
			// O_DIRECT skips the copy into the page cache and its
			// writeback; a calibration of a few dozen frames on a busy
			// disk can miss that, so it keeps the lead unless another
			// mode beats it by more than 15%.
			t = t * 100 / 115
		}
		if best == "" || t < bestT {
			best, bestT = c.mode, t
		}
	}
	return best, nil
}

// Append writes frame after the previous ones and returns once it is
// durable. Concurrent calls are grouped into one write and one fdatasync.
func (l *PhysicalLog) Append(frame []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	l.pending = append(l.pending, frame)
	// This frame goes out with the group after the ones already started.
	mine := l.queued + 1
	for l.leader && l.done < mine && l.err == nil {
		l.cond.Wait()
	}
	if l.err != nil {
		return l.err
	}
	if l.done >= mine {
		return nil
	}
	// Lead the next group: every frame pending now.
	l.leader = true
	l.queued++
	group := l.pending
	l.pending = nil
	l.mu.Unlock()
	err := l.writeGroup(group)
	l.mu.Lock()
	l.leader = false
	l.done++
	if err != nil && l.err == nil {
		l.err = err
	}
	l.cond.Broadcast()
	return err
}

// writeGroup writes frames back to back at the end of the log and makes
// them durable with one fdatasync.
func (l *PhysicalLog) writeGroup(frames [][]byte) error {
	n := 0
	for _, fr := range frames {
		n += len(fr)
	}
	end := l.off + int64(n)
	if l.mode != PhysicalAppend {
		for l.alloc < end+PhysicalPreallocChunk/2 {
			if err := l.extend(PhysicalPreallocChunk); err != nil {
				return err
			}
		}
	}
	var err error
	if l.mode == PhysicalDirect {
		err = l.writeDirect(frames, n)
	} else {
		err = l.writeBuffered(frames, n)
	}
	if err != nil {
		return err
	}
	if err := Fdatasync(l.f); err != nil {
		return err
	}
	l.off = end
	return nil
}

func (l *PhysicalLog) writeBuffered(frames [][]byte, n int) error {
	data := frames[0]
	if len(frames) > 1 {
		data = make([]byte, 0, n)
		for _, fr := range frames {
			data = append(data, fr...)
		}
	}
	_, err := l.f.WriteAt(data, l.off)
	return err
}

// writeDirect writes the blocks from the one holding l.off to the one
// holding the new end, from the aligned buffer that keeps the head of the
// tail block.
func (l *PhysicalLog) writeDirect(frames [][]byte, n int) error {
	head := int(l.off % blockSize)
	need := (head + n + blockSize - 1) / blockSize * blockSize
	if need > len(l.buf) {
		nb, err := alignedBuffer(need * 2)
		if err != nil {
			return err
		}
		copy(nb, l.buf[:head])
		unix.Munmap(l.buf)
		l.buf = nb
	}
	p := head
	for _, fr := range frames {
		p += copy(l.buf[p:], fr)
	}
	clear(l.buf[p:need])
	start := l.off - int64(head)
	if _, err := l.df.WriteAt(l.buf[:need], start); err != nil {
		return err
	}
	// Keep the new tail block's head at the start of the buffer.
	newHead := (head + n) % blockSize
	last := (head + n) / blockSize * blockSize
	copy(l.buf, l.buf[last:last+newHead])
	return nil
}

// extend zero-fills n more bytes past the region (not synced here).
func (l *PhysicalLog) extend(n int64) error {
	if l.mode == PhysicalDirect {
		zeros, err := alignedBuffer(1 << 20)
		if err != nil {
			return err
		}
		defer unix.Munmap(zeros)
		for done := int64(0); done < n; done += int64(len(zeros)) {
			if _, err := l.df.WriteAt(zeros, l.alloc+done); err != nil {
				return err
			}
		}
	} else {
		zeros := make([]byte, 1<<20)
		for done := int64(0); done < n; done += int64(len(zeros)) {
			if _, err := l.f.WriteAt(zeros, l.alloc+done); err != nil {
				return err
			}
		}
	}
	l.alloc += n
	return nil
}

// alignedBuffer returns n bytes (rounded up to a block) of page-aligned
// memory, as O_DIRECT needs.
func alignedBuffer(n int) ([]byte, error) {
	n = (n + blockSize - 1) / blockSize * blockSize
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("aligned buffer: %w", err)
	}
	return b, nil
}

// Size is the end of the last frame appended.
func (l *PhysicalLog) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.off
}

// Sync makes the file durable with one fdatasync.
func (l *PhysicalLog) Sync() error { return Fdatasync(l.f) }

// Close closes the file.
func (l *PhysicalLog) Close() error {
	var err error
	if l.df != nil {
		err = l.df.Close()
	}
	if l.buf != nil {
		unix.Munmap(l.buf)
		l.buf = nil
	}
	if e := l.f.Close(); err == nil {
		err = e
	}
	return err
}

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
