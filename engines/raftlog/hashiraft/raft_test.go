package hashiraft_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/hashiraft"

	_ "github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/file"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/memory"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/peers"
)

// listFSM is a state machine that keeps every command it applied, in order.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return len(f.cmds)
}

func (f *listFSM) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	return listSnapshot(f.applied()), nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var cmds []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		cmds = append(cmds, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.cmds = cmds
	f.mu.Unlock()
	return nil
}

type listSnapshot []string

func (s listSnapshot) Persist(sink raft.SnapshotSink) error {
	var b bytes.Buffer
	for _, c := range s {
		b.WriteString(c)
		b.WriteByte('\n')
	}
	if _, err := sink.Write(b.Bytes()); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (listSnapshot) Release() {}

// raftConfig returns a configuration with short timeouts: timeout for the
// heartbeat and election timeouts, half of it for the leader lease.
func raftConfig(id string, timeout time.Duration) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(id)
	c.HeartbeatTimeout = timeout
	c.ElectionTimeout = timeout
	c.LeaderLeaseTimeout = timeout / 2
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = hclog.NewNullLogger()
	return c
}

// raftStores is one node's storage: a raftlog engine under the adapters and
// a snapshot store.
type raftStores struct {
	name  string
	dir   string
	e     raftlog.Engine
	snaps raft.SnapshotStore
}

func openStores(tb testing.TB, name string) *raftStores {
	tb.Helper()
	dir := tb.TempDir()
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	s := &raftStores{name: name, dir: dir, snaps: snaps}
	s.open(tb)
	tb.Cleanup(func() { _ = s.e.Close() })
	return s
}

func (s *raftStores) open(tb testing.TB) {
	tb.Helper()
	e, err := raftlog.Open(s.name, raftlog.Options{Dir: filepath.Join(s.dir, "engine")})
	if err != nil {
		tb.Fatalf("open %s: %v", s.name, err)
	}
	s.e = e
}

// restart closes and reopens a persistent engine; a memory engine is kept
// as it is, since closing it would lose everything.
func (s *raftStores) restart(tb testing.TB) {
	tb.Helper()
	if !s.e.Capabilities().Persistent {
		return
	}
	if err := s.e.Close(); err != nil {
		tb.Fatalf("close %s: %v", s.name, err)
	}
	s.open(tb)
}

func (s *raftStores) logs() *hashiraft.LogStore      { return hashiraft.NewLogStore(s.e) }
func (s *raftStores) stable() *hashiraft.StableStore { return hashiraft.NewStableStore(s.e) }

func startRaft(tb testing.TB, conf *raft.Config, s *raftStores, fsm raft.FSM, trans raft.Transport) *raft.Raft {
	tb.Helper()
	r, err := raft.NewRaft(conf, fsm, s.logs(), s.stable(), s.snaps, trans)
	if err != nil {
		tb.Fatalf("NewRaft on %s: %v", s.name, err)
	}
	return r
}

func shutdown(tb testing.TB, r *raft.Raft) {
	tb.Helper()
	if err := r.Shutdown().Error(); err != nil {
		tb.Fatalf("shutdown: %v", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func apply(tb testing.TB, r *raft.Raft, from, n int) {
	tb.Helper()
	futures := make([]raft.ApplyFuture, 0, n)
	for i := from; i < from+n; i++ {
		futures = append(futures, r.Apply([]byte(fmt.Sprintf("cmd-%d", i)), 5*time.Second))
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			tb.Fatalf("apply cmd-%d: %v", from+i, err)
		}
	}
}

func checkApplied(tb testing.TB, fsm *listFSM, n int) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("%d commands applied", n), func() bool { return len(fsm.applied()) >= n })
	got := fsm.applied()
	if len(got) != n {
		tb.Fatalf("FSM applied %d commands, want %d", len(got), n)
	}
	for i, c := range got {
		if c != fmt.Sprintf("cmd-%d", i) {
			tb.Fatalf("command %d is %q, want cmd-%d", i, c, i)
		}
	}
}

// checkVote checks what raft persisted: the term, and its vote for itself in
// that term.
func checkVote(tb testing.TB, s *raftStores, id string, minTerm uint64) uint64 {
	tb.Helper()
	st := s.stable()
	term, err := st.GetUint64([]byte(hashiraft.KeyCurrentTerm))
	if err != nil || term < minTerm || term == 0 {
		tb.Fatalf("CurrentTerm: got %d, %v; want at least max(1, %d)", term, err, minTerm)
	}
	voteTerm, err := st.GetUint64([]byte(hashiraft.KeyLastVoteTerm))
	if err != nil || voteTerm != term {
		tb.Fatalf("LastVoteTerm: got %d, %v; want %d", voteTerm, err, term)
	}
	cand, err := st.Get([]byte(hashiraft.KeyLastVoteCand))
	if err != nil || string(cand) != id {
		tb.Fatalf("LastVoteCand: got %q, %v; want %q", cand, err, id)
	}
	hs, ok, err := s.e.Meta().LoadHardState()
	if err != nil || !ok || hs.Term != term || hs.Vote != (raftlog.Vote{Term: term, Candidate: id}) {
		tb.Fatalf("hard state: got %+v (%v, %v), want term %d and a vote for %s", hs, ok, err, term, id)
	}
	return term
}

// raftEngines lists the engines this test binary imports.
func raftEngines() []string { return raftlog.Engines() }

// TestRaftRestart runs a single raft node on each engine: it bootstraps,
// elects itself, applies commands, snapshots once (so raft purges a prefix
// through DeleteRange), applies more, shuts down, restarts on the same
// stores, and must then hold every command in order, and a higher term.
func TestRaftRestart(t *testing.T) {
	const n1, n2 = 60, 40
	for _, name := range raftEngines() {
		t.Run("engine="+name, func(t *testing.T) {
			s := openStores(t, name)
			// A single node never loses its leadership: short timeouts.
			conf := raftConfig("n1", 50*time.Millisecond)
			conf.TrailingLogs = 10
			addr, trans := raft.NewInmemTransport("n1")
			servers := raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}
			if err := raft.BootstrapCluster(conf, s.logs(), s.stable(), s.snaps, trans, servers); err != nil {
				t.Fatalf("bootstrap: %v", err)
			}
			fsm := &listFSM{}
			r := startRaft(t, conf, s, fsm, trans)
			waitFor(t, "leadership", func() bool { return r.State() == raft.Leader })
			apply(t, r, 0, n1)
			if err := r.Snapshot().Error(); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			if purged := s.e.Log().PurgedID(); purged.Index == 0 || purged.Term == 0 {
				t.Fatalf("after a snapshot with 10 trailing logs the engine's purge boundary is %v", purged)
			}
			apply(t, r, n1, n2)
			shutdown(t, r)
			term := checkVote(t, s, "n1", 1)

			s.restart(t)
			_, trans = raft.NewInmemTransport("n1")
			fsm = &listFSM{}
			r = startRaft(t, conf, s, fsm, trans)
			waitFor(t, "leadership after restart", func() bool { return r.State() == raft.Leader })
			checkApplied(t, fsm, n1+n2)
			apply(t, r, n1+n2, 5)
			checkApplied(t, fsm, n1+n2+5)
			shutdown(t, r)
			checkVote(t, s, "n1", term+1)
		})
	}
}

// TestRaftThreeNodes runs a three-node cluster on the memory engine: a
// follower that is down while the leader snapshots and compacts must catch
// up through InstallSnapshot (raft then empties its log and appends above
// the purge boundary), and a restarted follower must catch up from its log.
func TestRaftThreeNodes(t *testing.T) {
	for _, name := range []string{"memory", "file"} {
		t.Run("engine="+name, func(t *testing.T) { threeNodes(t, name) })
	}
}

type clusterNode struct {
	id    string
	s     *raftStores
	fsm   *listFSM
	r     *raft.Raft
	addr  raft.ServerAddress
	trans *raft.InmemTransport
}

func threeNodes(t *testing.T, engine string) {
	ids := []string{"n1", "n2", "n3"}
	nodes := make([]*clusterNode, len(ids))
	var servers raft.Configuration
	for i, id := range ids {
		addr, trans := raft.NewInmemTransport(raft.ServerAddress(id))
		nodes[i] = &clusterNode{id: id, s: openStores(t, engine), fsm: &listFSM{}, addr: addr, trans: trans}
		servers.Servers = append(servers.Servers, raft.Server{ID: raft.ServerID(id), Address: addr})
	}
	connect := func(n *clusterNode) {
		for _, o := range nodes {
			if o != n {
				n.trans.Connect(o.addr, o.trans)
				o.trans.Connect(n.addr, n.trans)
			}
		}
	}
	conf := func(id string) *raft.Config {
		// Timeouts long enough that a loaded machine does not cause an
		// election in the middle of an Apply.
		c := raftConfig(id, 250*time.Millisecond)
		c.TrailingLogs = 5
		return c
	}
	for _, n := range nodes {
		connect(n)
	}
	if err := raft.BootstrapCluster(conf("n1"), nodes[0].s.logs(), nodes[0].s.stable(), nodes[0].s.snaps, nodes[0].trans, servers); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	for _, n := range nodes {
		n.r = startRaft(t, conf(n.id), n.s, n.fsm, n.trans)
	}
	defer func() {
		for _, n := range nodes {
			if n.r != nil {
				_ = n.r.Shutdown().Error()
			}
		}
	}()
	leader := func() *clusterNode {
		var l *clusterNode
		waitFor(t, "a leader", func() bool {
			for _, n := range nodes {
				if n.r != nil && n.r.State() == raft.Leader {
					l = n
					return true
				}
			}
			return false
		})
		return l
	}
	stop := func(n *clusterNode) {
		shutdown(t, n.r)
		n.r = nil
		for _, o := range nodes {
			o.trans.Disconnect(n.addr)
		}
	}
	restart := func(n *clusterNode) {
		n.s.restart(t)
		n.addr, n.trans = raft.NewInmemTransport(n.addr)
		connect(n)
		n.fsm = &listFSM{}
		n.r = startRaft(t, conf(n.id), n.s, n.fsm, n.trans)
	}
	pickFollower := func(l *clusterNode) *clusterNode {
		for _, n := range nodes {
			if n != l {
				return n
			}
		}
		return nil
	}

	total := 0
	l := leader()
	apply(t, l.r, total, 30)
	total += 30
	for _, n := range nodes {
		checkApplied(t, n.fsm, total)
	}

	// A follower misses entries the leader then compacts away.
	f := pickFollower(l)
	stop(f)
	apply(t, l.r, total, 40)
	total += 40
	if err := l.r.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	before := f.s.e.Log().LastIndex()
	if first := l.s.e.Log().FirstIndex(); first <= before+1 {
		t.Fatalf("leader's log starts at %d, not past the stopped follower's last index %d", first, before)
	}
	restart(f)
	checkApplied(t, f.fsm, total)
	// The snapshot emptied the follower's log; the next entries land above
	// the snapshot, past a gap the adapter turns into a purge boundary.
	apply(t, l.r, total, 5)
	total += 5
	checkApplied(t, f.fsm, total)
	waitFor(t, "the follower's log to match the leader's", func() bool {
		return f.s.e.Log().LastIndex() == l.s.e.Log().LastIndex()
	})
	if purged := f.s.e.Log().PurgedID(); purged.Index <= before {
		t.Fatalf("follower's purge boundary %v did not move past its old last index %d after InstallSnapshot", purged, before)
	}

	// A follower restarts and catches up from its own log and the leader's.
	l = leader()
	g := pickFollower(l)
	stop(g)
	apply(t, l.r, total, 20)
	total += 20
	restart(g)
	for _, n := range nodes {
		checkApplied(t, n.fsm, total)
	}
}
