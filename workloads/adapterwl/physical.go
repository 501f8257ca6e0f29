package adapterwl

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ordeal-dev/ordeal/workloads"
)

// physicalTarget is the disk's baseline for the family: a produce batch is
// encoded as one frame (length, CRC-32C, then per record its offset,
// timestamp, key, tag and data), written after the previous frame with one
// write, and made durable with one fdatasync. The file is zero-filled
// preallocChunk ahead of the writes, in the same sync as the batch that
// needs it, so that most fdatasyncs flush data blocks only.
type physicalTarget struct {
	mu      sync.Mutex
	off     int64 // end of the last frame
	alloc   int64 // end of the zero-filled region
	next    uint64
	ts      int64
	f       *os.File
	preload int64
	names   names
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// preallocChunk is how far ahead of the writes the baseline zero-fills.
const preallocChunk = 4 << 20

var zeros = make([]byte, preallocChunk)

func openPhysical(dir string, preload int64, set settings, engineParams map[string]string) (*physicalTarget, error) {
	if len(engineParams) > 0 {
		return nil, fmt.Errorf("adapterwl: the physical baseline takes no parameters, got %v", engineParams)
	}
	if dir == "" {
		return nil, fmt.Errorf("adapterwl: the physical baseline needs a directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "physical.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &physicalTarget{f: f, preload: preload, names: newNames(set)}, nil
}

func (p *physicalTarget) Close() error { return p.f.Close() }

func (p *physicalTarget) Preload(ctx context.Context, g *workloads.Gen) error {
	w := &physicalWorker{p: p}
	for remaining := int(p.preload); remaining > 0; remaining -= 1000 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := w.produce(min(remaining, 1000), g); err != nil {
			return err
		}
	}
	return nil
}

func (p *physicalTarget) NewWorker(int) workloads.Worker { return &physicalWorker{p: p} }

type physicalWorker struct {
	p   *physicalTarget
	buf []byte
}

func (w *physicalWorker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	if op == OpProduce {
		return w.produce(g.BatchSize(), g)
	}
	return workloads.Work{}, fmt.Errorf("%w: physical baseline cannot run %s", workloads.ErrUnsupported, ops[op].Name)
}

func (w *physicalWorker) produce(n int, g *workloads.Gen) (workloads.Work, error) {
	p := w.p
	// The payload is encoded before taking the lock, as an engine encodes
	// a batch before it joins the commit queue.
	buf := append(w.buf[:0], make([]byte, 8)...)
	var payload int64
	for range n {
		key := p.names.keys[g.Key(uint64(len(p.names.keys)))]
		tag := p.names.tags[g.Rand.IntN(len(p.names.tags))][0]
		data := g.Bytes(g.ValueSize())
		buf = binary.LittleEndian.AppendUint64(buf, 0) // offset, set below
		buf = binary.LittleEndian.AppendUint64(buf, 0) // timestamp, set below
		buf = binary.AppendUvarint(buf, uint64(len(key)))
		buf = append(buf, key...)
		buf = binary.AppendUvarint(buf, uint64(len(tag)))
		buf = append(buf, tag...)
		buf = binary.AppendUvarint(buf, uint64(len(data)))
		buf = append(buf, data...)
		payload += int64(len(data))
	}
	w.buf = buf
	p.mu.Lock()
	defer p.mu.Unlock()
	// Fill in offsets and timestamps: walk the records again.
	pos := 8
	for i := range n {
		binary.LittleEndian.PutUint64(buf[pos:], p.next+uint64(i))
		binary.LittleEndian.PutUint64(buf[pos+8:], uint64(tsBase+p.ts+int64(i)))
		pos += 16
		for range 3 {
			l, k := binary.Uvarint(buf[pos:])
			pos += k + int(l)
		}
	}
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(buf)-8))
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(buf[8:], castagnoli))
	end := p.off + int64(len(buf))
	for p.alloc < end+preallocChunk/2 {
		if _, err := p.f.WriteAt(zeros, p.alloc); err != nil {
			return workloads.Work{}, err
		}
		p.alloc += preallocChunk
	}
	if _, err := p.f.WriteAt(buf, p.off); err != nil {
		return workloads.Work{}, err
	}
	if err := fdatasync(p.f); err != nil {
		return workloads.Work{}, err
	}
	p.off = end
	p.next += uint64(n)
	p.ts += int64(n)
	return workloads.Work{Items: int64(n), BytesWritten: payload}, nil
}

func fdatasync(f *os.File) error {
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
