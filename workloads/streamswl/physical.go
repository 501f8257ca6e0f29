package streamswl

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/ordeal-dev/ordeal/workloads"
)

// physicalTarget is the disk's baseline: each append is framed (stream
// number, sequence, length, CRC-32C, data) and made durable on one
// workloads.PhysicalLog (the best of appending and overwriting a
// preallocated region, through O_DIRECT where allowed, for the frame
// size); appenders that arrive while a write is under way are committed
// together with one fdatasync, as an engine that commits in groups does.
// It keeps no index.
type physicalTarget struct {
	log     *workloads.PhysicalLog
	preload int64
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const frameHeader = 8 + 8 + 4 + 4

func openPhysical(dir string, preload int64, engineParams map[string]string, frameHint int) (*physicalTarget, error) {
	log, err := workloads.OpenPhysicalLog("streamswl", dir, engineParams, frameHint)
	if err != nil {
		return nil, err
	}
	return &physicalTarget{log: log, preload: preload}, nil
}

func (p *physicalTarget) Close() error { return p.log.Close() }

func (p *physicalTarget) Preload(ctx context.Context, g *workloads.Gen) error {
	w := &physicalWorker{p: p}
	return workloads.PreloadBatches(ctx, p.preload, 1, func(int) error {
		_, err := w.append(g)
		return err
	})
}

func (p *physicalTarget) NewWorker(id int) workloads.Worker {
	return &physicalWorker{p: p, stream: uint64(max(id, 0))}
}

type physicalWorker struct {
	p           *physicalTarget
	stream, seq uint64
	buf         []byte
}

func (w *physicalWorker) Do(op int, g *workloads.Gen) (workloads.Work, error) {
	if op == OpAppend {
		return w.append(g)
	}
	return workloads.Work{}, fmt.Errorf("%w: physical baseline cannot run %s", workloads.ErrUnsupported, ops[op].Name)
}

func (w *physicalWorker) append(g *workloads.Gen) (workloads.Work, error) {
	data := g.Bytes(max(1, g.ValueSize()))
	var h [frameHeader]byte
	binary.LittleEndian.PutUint64(h[0:], w.stream)
	binary.LittleEndian.PutUint64(h[8:], w.seq)
	binary.LittleEndian.PutUint32(h[16:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(data, castagnoli))
	w.buf = append(append(w.buf[:0], h[:]...), data...)
	if err := w.p.log.Append(w.buf); err != nil {
		return workloads.Work{}, err
	}
	w.seq++
	return workloads.Work{Items: 1, BytesWritten: int64(len(data))}, nil
}
