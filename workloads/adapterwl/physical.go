package adapterwl

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/ordeal-dev/ordeal/workloads"
)

// physicalTarget is the disk's baseline for the family: a produce batch is
// encoded as one frame (length, CRC-32C, then per record its offset,
// timestamp, key, tag and data), written after the previous frame with one
// write, and made durable with one fdatasync, on a workloads.PhysicalLog:
// the best of appending and overwriting a preallocated region (through
// O_DIRECT where allowed) measured on this disk for the batch's size.
type physicalTarget struct {
	mu      sync.Mutex
	next    uint64
	ts      int64
	log     *workloads.PhysicalLog
	preload int64
	names   names
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func openPhysical(dir string, preload int64, set settings, engineParams map[string]string, frameHint int) (*physicalTarget, error) {
	log, err := workloads.OpenPhysicalLog("adapterwl", dir, engineParams, frameHint)
	if err != nil {
		return nil, err
	}
	return &physicalTarget{log: log, preload: preload, names: newNames(set)}, nil
}

func (p *physicalTarget) Close() error { return p.log.Close() }

func (p *physicalTarget) Preload(ctx context.Context, g *workloads.Gen) error {
	w := &physicalWorker{p: p}
	return workloads.PreloadBatches(ctx, p.preload, 1000, func(n int) error {
		_, err := w.produce(n, g)
		return err
	})
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
	if err := p.log.Append(buf); err != nil {
		return workloads.Work{}, err
	}
	p.next += uint64(n)
	p.ts += int64(n)
	return workloads.Work{Items: int64(n), BytesWritten: payload}, nil
}
