package hashiraft_test

import (
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/hashiraft"
)

// A raft node takes the adapters as its LogStore and StableStore:
// raft.NewRaft(conf, fsm, logs, stable, snaps, trans).
func ExampleNewLogStore() {
	e, err := raftlog.Open("memory", raftlog.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	logs, stable := hashiraft.NewLogStore(e), hashiraft.NewStableStore(e)

	_ = logs.StoreLogs([]*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("conf")},
		{Index: 2, Term: 1, Data: []byte("set x=1"), Extensions: []byte("trace-7")},
	})
	_ = stable.SetUint64([]byte(hashiraft.KeyCurrentTerm), 1)

	var l raft.Log
	_ = logs.GetLog(2, &l)
	fmt.Printf("log %d: %s %q %q\n", l.Index, l.Type, l.Data, l.Extensions)
	hs, _, _ := e.Meta().LoadHardState()
	fmt.Println("hard state term:", hs.Term)

	// raft compacts after a snapshot; an empty log reads as 0..0 to raft.
	_ = logs.DeleteRange(1, 2)
	first, _ := logs.FirstIndex()
	last, _ := logs.LastIndex()
	fmt.Println("raft sees", first, last, "; raftlog purged up to", e.Log().PurgedID())
	// Output:
	// log 2: LogCommand "set x=1" "trace-7"
	// hard state term: 1
	// raft sees 0 0 ; raftlog purged up to 2@1
}
