package raftlogwl

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/ordeal-dev/ordeal/workloads"
)

// physicalTarget is the disk's baseline: each append batch is framed as an
// engine would frame it (index, term, length, CRC-32C, data), written after
// the previous one with one write, and made durable with one fdatasync. No
// index, no segment rotation, no reads: a workloads.PhysicalLog, the best
// of appending and overwriting a preallocated region (through O_DIRECT
// where allowed) measured on this disk for the batch's frame size.
type physicalTarget struct {
	mu      sync.Mutex
	log     *workloads.PhysicalLog
	hs      *os.File
	last    atomic.Uint64
	preload int64
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const frameHeader = 8 + 8 + 4 + 4

func openPhysical(dir string, preload int64, engineParams map[string]string, frameHint int) (*physicalTarget, error) {
	log, err := workloads.OpenPhysicalLog("raftlogwl", dir, engineParams, frameHint)
	if err != nil {
		return nil, err
	}
	hs, err := os.OpenFile(filepath.Join(dir, "physical.hs"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		log.Close()
		return nil, err
	}
	return &physicalTarget{log: log, hs: hs, preload: preload}, nil
}

func (p *physicalTarget) Close() error {
	err := p.log.Close()
	if e := p.hs.Close(); err == nil {
		err = e
	}
	return err
}

func (p *physicalTarget) Preload(ctx context.Context, g *workloads.Gen) error {
	w := &physicalWorker{p: p}
	return workloads.PreloadBatches(ctx, p.preload, 1000, func(n int) error {
		_, err := w.appendN(n, g)
		return err
	})
}

func (p *physicalTarget) NewWorker(int) workloads.Worker { return &physicalWorker{p: p} }

type physicalWorker struct {
	p   *physicalTarget
	buf []byte
}

func (w *physicalWorker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	p := w.p
	switch op {
	case OpAppend:
		return w.appendN(g.BatchSize(), g)
	case OpPurge:
		// A log file that is never indexed is never purged either: the
		// baseline pays nothing for it.
		return workloads.Work{}, nil
	case OpLastIndex:
		_ = p.last.Load()
		return workloads.Work{Items: 1}, nil
	case OpHardState:
		var b [32]byte
		binary.LittleEndian.PutUint64(b[0:], 1)
		binary.LittleEndian.PutUint64(b[8:], 1)
		binary.LittleEndian.PutUint64(b[16:], p.last.Load())
		binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
		if _, err := p.hs.WriteAt(b[:], 0); err != nil {
			return workloads.Work{}, err
		}
		return workloads.Work{Items: 1, BytesWritten: 24}, workloads.Fdatasync(p.hs)
	case OpFlush:
		if err := p.log.Sync(); err != nil {
			return workloads.Work{}, err
		}
		return workloads.Work{}, workloads.Fdatasync(p.hs)
	}
	return workloads.Work{}, fmt.Errorf("%w: physical baseline cannot run %s", workloads.ErrUnsupported, ops[op].Name)
}

func (w *physicalWorker) appendN(n int, g *workloads.Gen) (workloads.Work, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	buf := w.buf[:0]
	next := p.last.Load() + 1
	var payload int64
	for i := range n {
		data := g.Bytes(g.ValueSize())
		var h [frameHeader]byte
		binary.LittleEndian.PutUint64(h[0:], next+uint64(i))
		binary.LittleEndian.PutUint64(h[8:], 1)
		binary.LittleEndian.PutUint32(h[16:], uint32(len(data)))
		binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(data, castagnoli))
		buf = append(buf, h[:]...)
		buf = append(buf, data...)
		payload += int64(len(data))
	}
	w.buf = buf
	if err := p.log.Append(buf); err != nil {
		return workloads.Work{}, err
	}
	p.last.Add(uint64(n))
	return workloads.Work{Items: int64(n), BytesWritten: payload}, nil
}
