package bbolt

import (
	"encoding/binary"

	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
)

// Layout. The log bucket maps each index, as an 8-byte big-endian key, to
// its entry, so bbolt's bytewise key order is index order; the meta bucket
// holds the hard state and the purge boundary. The values are kvcodec's.
var (
	logBucket  = []byte("log")
	metaBucket = []byte("meta")
	metaKeys   = kvlog.MetaKeys{HardState: []byte("hardstate"), Purged: []byte("purged")}
)

const logKeyLen = 8

func logKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, logKeyLen), index)
}

// keyIndex decodes a log key; ok is false for anything else.
func keyIndex(k []byte) (uint64, bool) {
	if len(k) != logKeyLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}
