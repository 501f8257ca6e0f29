package hashiraft_test

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	raftbench "github.com/hashicorp/raft/bench"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/hashiraft"
)

// BenchmarkRaftStores runs hashicorp/raft's own store benchmarks
// (github.com/hashicorp/raft/bench) against the adapters over every engine
// this test binary imports, as op=X/engine=Y.
//
// Three of raft's benchmarks assume a store that accepts any index and any
// key, which raftlog (contiguous, starting at 1) and the StableStore adapter
// (raft's three keys only) do not; thin shims translate them, keeping the
// number and shape of the store calls:
//   - StoreLog stores indexes from 0: each index is shifted up by one;
//   - DeleteRange stores 3 entries every 10 indexes and deletes each block
//     of 10: the blocks are packed densely (3 indexes each), so every delete
//     is a purge of the next 3 entries;
//   - Set, Get, SetUint64 and GetUint64 use one-byte keys: Set and Get go to
//     LastVoteCand, the uint64 calls to CurrentTerm or LastVoteTerm by the
//     key's parity; each Set is still a full load-modify-save.
func BenchmarkRaftStores(b *testing.B) {
	type logBench = func(*testing.B, raft.LogStore)
	type stableBench = func(*testing.B, raft.StableStore)
	ops := []struct {
		name   string
		log    logBench
		shim   func(raft.LogStore) raft.LogStore
		stable stableBench
	}{
		{name: "FirstIndex", log: raftbench.FirstIndex},
		{name: "LastIndex", log: raftbench.LastIndex},
		{name: "GetLog", log: raftbench.GetLog},
		{name: "StoreLog", log: raftbench.StoreLog, shim: func(s raft.LogStore) raft.LogStore { return shiftedLogs{s} }},
		{name: "StoreLogs", log: raftbench.StoreLogs},
		{name: "DeleteRange", log: raftbench.DeleteRange, shim: func(s raft.LogStore) raft.LogStore { return denseLogs{s} }},
		{name: "Set", stable: raftbench.Set},
		{name: "Get", stable: raftbench.Get},
		{name: "SetUint64", stable: raftbench.SetUint64},
		{name: "GetUint64", stable: raftbench.GetUint64},
	}
	run := func(b *testing.B, logs raft.LogStore, stable raft.StableStore, log logBench, shim func(raft.LogStore) raft.LogStore, st stableBench) {
		if st != nil {
			st(b, keyShim{stable})
			return
		}
		if shim != nil {
			logs = shim(logs)
		}
		log(b, logs)
	}
	for _, op := range ops {
		for _, name := range raftEngines() {
			b.Run("op="+op.name+"/engine="+name, func(b *testing.B) {
				e, err := raftlog.Open(name, raftlog.Options{Dir: filepath.Join(b.TempDir(), "engine")})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				run(b, hashiraft.NewLogStore(e), hashiraft.NewStableStore(e), op.log, op.shim, op.stable)
			})
		}
		// The peers without either adapter, through the same shims: the
		// difference from engine=raft-boltdb and engine=raft-wal is the cost
		// of the two adapters.
		for _, n := range nativeStores {
			b.Run("op="+op.name+"/engine="+n.name, func(b *testing.B) {
				logs, stable, closer, err := n.open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer closer.Close()
				run(b, logs, stable, op.log, op.shim, op.stable)
			})
		}
	}
}

var nativeStores = []struct {
	name string
	open func(dir string) (raft.LogStore, raft.StableStore, io.Closer, error)
}{
	{"native-raft-boltdb", func(dir string) (raft.LogStore, raft.StableStore, io.Closer, error) {
		s, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
		return s, s, s, err
	}},
	{"native-raft-wal", func(dir string) (raft.LogStore, raft.StableStore, io.Closer, error) {
		meta := &metadb.BoltMetaDB{}
		w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(hclog.NewNullLogger()))
		if err != nil {
			return nil, nil, nil, errors.Join(err, meta.Close())
		}
		return w, w, closers{w, meta}, nil
	}},
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// shiftedLogs stores each log one index higher.
type shiftedLogs struct{ raft.LogStore }

func (s shiftedLogs) StoreLog(l *raft.Log) error {
	c := *l
	c.Index++
	return s.LogStore.StoreLog(&c)
}

// denseLogs maps the indexes 10k, 10k+1, 10k+2 of raft's DeleteRange
// benchmark to 3k+1, 3k+2, 3k+3, and 10k+3..10k+9 to 3k+3.
type denseLogs struct{ raft.LogStore }

func dense(i uint64) uint64 { return 3*(i/10) + min(i%10, 2) + 1 }

func (s denseLogs) StoreLogs(logs []*raft.Log) error {
	out := make([]*raft.Log, len(logs))
	for i, l := range logs {
		c := *l
		c.Index = dense(l.Index)
		out[i] = &c
	}
	return s.LogStore.StoreLogs(out)
}

func (s denseLogs) DeleteRange(lo, hi uint64) error {
	return s.LogStore.DeleteRange(dense(lo), dense(hi))
}

// keyShim maps raft's benchmark keys onto the StableStore's three keys.
type keyShim struct{ s raft.StableStore }

func uintKey(k []byte) []byte {
	if len(k) > 0 && k[0]%2 == 1 {
		return []byte(hashiraft.KeyLastVoteTerm)
	}
	return []byte(hashiraft.KeyCurrentTerm)
}

func (k keyShim) Set(_, val []byte) error {
	return k.s.Set([]byte(hashiraft.KeyLastVoteCand), val)
}

func (k keyShim) Get([]byte) ([]byte, error) {
	return k.s.Get([]byte(hashiraft.KeyLastVoteCand))
}

func (k keyShim) SetUint64(key []byte, val uint64) error {
	return k.s.SetUint64(uintKey(key), val)
}

func (k keyShim) GetUint64(key []byte) (uint64, error) {
	return k.s.GetUint64(uintKey(key))
}
