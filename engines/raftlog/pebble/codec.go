package pebble

import (
	"encoding/binary"

	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
)

// Key layout. Log keys are logPrefix followed by the entry index in big
// endian, so pebble's bytewise order is index order and a log range is one
// contiguous key span. Meta keys share metaPrefix, which sorts right after
// every log key: logEnd (the bare metaPrefix) bounds the whole log span. The
// values are kvcodec's.
const (
	logPrefix  = 'l'
	metaPrefix = 'm'
)

var (
	// markKey holds the count of clean closes (see internal/pebblecheck).
	markKey  = []byte{metaPrefix, 'c', 'l'}
	logEnd   = []byte{metaPrefix}
	metaKeys = kvlog.MetaKeys{
		HardState: []byte{metaPrefix, 'h', 's'},
		Purged:    []byte{metaPrefix, 'p', 'u'},
	}
)

const logKeyLen = 9

func logKey(index uint64) []byte {
	k := make([]byte, logKeyLen)
	putLogKey(k, index)
	return k
}

// putLogKey writes the log key of index into k, which has logKeyLen bytes.
func putLogKey(k []byte, index uint64) {
	k[0] = logPrefix
	binary.BigEndian.PutUint64(k[1:], index)
}

// keyIndex decodes a log key; ok is false for anything else.
func keyIndex(k []byte) (uint64, bool) {
	if len(k) != logKeyLen || k[0] != logPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}
