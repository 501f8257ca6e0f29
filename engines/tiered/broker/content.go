package broker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Content is the synthetic data of one segment: its log bytes and every
// index, derived from the segment's ID and size alone so that any reader
// can recompute what a fetch must return.
type Content struct {
	Log, Offset, Time, Producer, Txn, Epoch []byte
}

// MakeContent returns the content of the segment id with size bytes of log
// data. Segments whose ID's first byte is odd carry a transaction index.
func MakeContent(id tiered.UUID, size int) Content {
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(id[:8]), binary.LittleEndian.Uint64(id[8:])))
	fill := func(n int) []byte {
		b := make([]byte, n)
		for i := 0; i < n; i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < n; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return b
	}
	c := Content{Log: fill(size), Offset: fill(64), Time: fill(48), Producer: fill(32), Epoch: fill(16)}
	if id[0]&1 == 1 {
		c.Txn = fill(24)
	}
	return c
}

// Index returns the bytes of index t, nil for a transaction index the
// segment does not have.
func (c Content) Index(t tiered.IndexType) []byte {
	switch t {
	case tiered.IndexOffset:
		return c.Offset
	case tiered.IndexTimestamp:
		return c.Time
	case tiered.IndexProducerSnapshot:
		return c.Producer
	case tiered.IndexTransaction:
		return c.Txn
	case tiered.IndexLeaderEpoch:
		return c.Epoch
	}
	return nil
}

// WriteLocal writes c as the local files of a closed segment under dir of
// fs and returns their description for CopyLogSegmentData.
func WriteLocal(fs vfs.FS, dir string, id tiered.UUID, c Content) (tiered.LogSegmentData, error) {
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return tiered.LogSegmentData{}, fmt.Errorf("broker: mkdir %s: %w", dir, err)
	}
	put := func(ext string, b []byte) (string, error) {
		name := fs.PathJoin(dir, id.String()+"."+ext)
		f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
		if err != nil {
			return "", fmt.Errorf("broker: create %s: %w", name, err)
		}
		// Write a copy: a MemFS may keep the buffer it is given.
		if _, err := f.Write(bytes.Clone(b)); err != nil {
			_ = f.Close()
			return "", fmt.Errorf("broker: write %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("broker: close %s: %w", name, err)
		}
		return name, nil
	}
	d := tiered.LogSegmentData{FS: fs, LeaderEpochIndex: bytes.Clone(c.Epoch)}
	var err error
	for _, p := range []struct {
		ext  string
		b    []byte
		dest *string
	}{
		{"log", c.Log, &d.LogSegment}, {"index", c.Offset, &d.OffsetIndex},
		{"timeindex", c.Time, &d.TimeIndex}, {"snapshot", c.Producer, &d.ProducerSnapshotIndex},
		{"txnindex", c.Txn, &d.TransactionIndex},
	} {
		if p.b == nil {
			continue
		}
		if *p.dest, err = put(p.ext, p.b); err != nil {
			return d, err
		}
	}
	return d, nil
}

// RemoveLocal removes the local files WriteLocal made.
func RemoveLocal(d tiered.LogSegmentData) {
	fs := d.FSOrDefault()
	for _, n := range []string{d.LogSegment, d.OffsetIndex, d.TimeIndex, d.ProducerSnapshotIndex, d.TransactionIndex} {
		if n != "" {
			_ = fs.Remove(n)
		}
	}
}
