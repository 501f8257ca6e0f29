package jepsenlite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/hashiraft"
	"github.com/ordeal-dev/ordeal/linearizability/kvmodel"
)

// The raftkv node: one member of the raftkv family's cluster, a
// hashicorp/raft node whose LogStore and StableStore are a raftlog engine
// (through package hashiraft), whose snapshots are hashicorp's file
// snapshot store in the same directory, and whose state machine is a
// key-value map. The harness (cluster.go) starts it as `jepsen-lite
// raftkv-node`, reads one hello line from its standard output, and then
// talks to it over HTTP on loopback:
//
//	POST /op       {"deadline": UNIXNANO, "wait": NANOS, "cmd": WORK}
//	POST /barrier  {"wait": NANOS}
//	GET  /status
//
// Every answer is a kvReply: the node's view of the cluster (its state,
// term and the leader it knows) and, for /op, the state machine's output
// or why there is none. A node proposes a command only while it leads and
// before the command's deadline: once the deadline has passed and a later
// barrier has committed, the command has taken effect or never will (a
// leader of a later term has committed an entry the old one's log lacks),
// which is what lets the harness bound an unknown outcome.
//
// Commands carry a client session (client, seq): the state machine
// applies each once, answers a retry with the answer it gave, and ignores
// a command older than the session's last, so the harness may retry an
// operation on any node until it has an answer.

// kvWork is one operation of the raftkv family: the model's input and the
// client session it runs in.
type kvWork struct {
	In     kvmodel.Input `json:"in"`
	Client int           `json:"client"`
	Seq    uint64        `json:"seq"`
}

// kvRequest is the body of POST /op and POST /barrier.
type kvRequest struct {
	Deadline int64           `json:"deadline,omitempty"`
	Wait     time.Duration   `json:"wait,omitempty"`
	Cmd      json.RawMessage `json:"cmd,omitempty"`
}

// The errors a node answers with. errNotLeader and errExpired mean the
// command was not proposed; the others that it may have been.
const (
	errNotLeader = "not_leader"
	errExpired   = "expired"
)

// kvReply is every answer of a node.
type kvReply struct {
	Node   string          `json:"node"`
	State  string          `json:"state"`
	Term   uint64          `json:"term"`
	Leader string          `json:"leader,omitempty"`
	Out    json.RawMessage `json:"out,omitempty"`
	Err    string          `json:"err,omitempty"`
	// Commit and Applied are the node's commit and applied indexes.
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
}

// kvHello is the node's first line on standard output.
type kvHello struct {
	Ready bool   `json:"ready,omitempty"`
	Error string `json:"error,omitempty"`
}

// kvSession is a client's last applied command and its answer.
type kvSession struct {
	Seq uint64         `json:"seq"`
	Out kvmodel.Output `json:"out"`
}

// kvFSM is the replicated state machine: the map and the sessions.
type kvFSM struct {
	mu       sync.Mutex
	data     map[string]string
	sessions map[int]kvSession
}

func newKVFSM() *kvFSM { return &kvFSM{data: map[string]string{}, sessions: map[int]kvSession{}} }

// Apply runs a command once per session sequence.
func (f *kvFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	var w kvWork
	if err := json.Unmarshal(l.Data, &w); err != nil {
		return kvmodel.Output{Err: kvmodel.ErrUnknown, Message: "undecodable command at index " + fmt.Sprint(l.Index) + ": " + err.Error()}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[w.Client]
	switch {
	case w.Seq == s.Seq && w.Seq != 0:
		return s.Out
	case w.Seq < s.Seq:
		return kvmodel.Output{Err: kvmodel.ErrUnknown, Message: "stale command"}
	}
	out := f.exec(w.In)
	f.sessions[w.Client] = kvSession{Seq: w.Seq, Out: out}
	return out
}

func (f *kvFSM) exec(in kvmodel.Input) kvmodel.Output {
	cur, found := f.data[in.Key]
	switch in.Kind {
	case kvmodel.KindRead:
		return kvmodel.Output{Found: found, Value: cur}
	case kvmodel.KindWrite:
		f.data[in.Key] = in.Value
		return kvmodel.Output{}
	case kvmodel.KindCAS:
		if !found || cur != in.Old {
			return kvmodel.Output{Err: kvmodel.ErrMismatch, Found: found, Value: cur}
		}
		f.data[in.Key] = in.Value
		return kvmodel.Output{}
	}
	return kvmodel.Output{Err: kvmodel.ErrUnknown, Message: "unknown operation " + string(in.Kind)}
}

// kvImage is the state machine as a snapshot holds it.
type kvImage struct {
	Data     map[string]string `json:"data"`
	Sessions map[int]kvSession `json:"sessions"`
}

// Snapshot copies the state; Persist writes it while Apply goes on.
func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img := kvImage{Data: make(map[string]string, len(f.data)), Sessions: make(map[int]kvSession, len(f.sessions))}
	for k, v := range f.data {
		img.Data[k] = v
	}
	for k, v := range f.sessions {
		img.Sessions[k] = v
	}
	return img, nil
}

// Restore replaces the state with a snapshot's.
func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var img kvImage
	if err := json.NewDecoder(rc).Decode(&img); err != nil {
		return fmt.Errorf("raftkv: restore snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data, f.sessions = img.Data, img.Sessions
	if f.data == nil {
		f.data = map[string]string{}
	}
	if f.sessions == nil {
		f.sessions = map[int]kvSession{}
	}
	return nil
}

// Persist writes the image to the sink.
func (img kvImage) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(img); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release does nothing: the image is a copy.
func (kvImage) Release() {}

// addrFlag collects repeated ID=ADDRESS flags, in order.
type addrFlag struct{ ids, addrs []string }

func (a *addrFlag) String() string { return fmt.Sprint(a.ids, a.addrs) }

func (a *addrFlag) Set(s string) error {
	id, addr, ok := strings.Cut(s, "=")
	if !ok || id == "" || addr == "" {
		return fmt.Errorf("%w: %q is not ID=ADDRESS", ErrUsage, s)
	}
	a.ids, a.addrs = append(a.ids, id), append(a.addrs, addr)
	return nil
}

// peerAddrs is where this node dials each other node: through the
// harness's fault layer.
type peerAddrs map[raft.ServerID]raft.ServerAddress

func (p peerAddrs) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if a, ok := p[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("raftkv: no address for %s", id)
}

// syncedSnapshots is hashicorp/raft's file snapshot store with one fix:
// a snapshot's own directory is synced before raft is told the snapshot
// is done. hashicorp's store syncs the snapshot's files and, after the
// rename, the parent directory, but never the directory that names the
// files: where only a directory's fsync makes its entries durable (POSIX
// as written; lazyfs's strict profile), a power loss after raft compacts
// its log can leave a snapshot directory without meta.json, which the
// store skips, and a log that no longer starts at index 1: the node then
// panics at start ("log not found"). The parameter snapshot_dir_sync=false
// runs hashicorp's store as it is, to show that.
type syncedSnapshots struct {
	*raft.FileSnapshotStore
	dir string // the store's snapshots/ directory
}

func (s syncedSnapshots) Create(version raft.SnapshotVersion, index, term uint64, c raft.Configuration, ci uint64, t raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, c, ci, t)
	if err != nil {
		return nil, err
	}
	return syncedSink{SnapshotSink: sink, dir: s.dir}, nil
}

type syncedSink struct {
	raft.SnapshotSink
	dir string
}

// Close finishes the snapshot, then syncs its directory.
func (s syncedSink) Close() error {
	if err := s.SnapshotSink.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Join(s.dir, s.ID()))
	if err != nil {
		return fmt.Errorf("raftkv: sync snapshot directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("raftkv: sync snapshot directory: %w", err)
	}
	return nil
}

// kvTiming is a node's raft timing.
type kvTiming struct {
	heartbeat         time.Duration
	snapshotThreshold uint64
	trailingLogs      uint64
	snapshotInterval  time.Duration
	snapshotDirSync   bool
}

// raftkvNodeMain is `jepsen-lite raftkv-node`.
func raftkvNodeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raftkv-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "this node's server ID")
	dir := fs.String("dir", "", "data directory: the log store in log/, snapshots in snapshots/")
	store := fs.String("store", "", "raftlog engine of the LogStore and StableStore")
	raftAddr := fs.String("raft", "", "raft transport address (bound and advertised)")
	apiAddr := fs.String("api", "", "client API address (HTTP)")
	bootstrap := fs.Bool("bootstrap", false, "bootstrap the cluster of --member if this node has no state")
	var peers, members addrFlag
	fs.Var(&peers, "peer", "ID=ADDRESS this node dials to reach ID (repeatable)")
	fs.Var(&members, "member", "ID=ADDRESS of a voter of the cluster (repeatable)")
	params := paramFlag{}
	fs.Var(params, "param", "store parameter key=value (repeatable)")
	var t kvTiming
	fs.DurationVar(&t.heartbeat, "heartbeat", 300*time.Millisecond, "heartbeat and election timeout")
	fs.Uint64Var(&t.snapshotThreshold, "snapshot-threshold", 64, "log entries between snapshots")
	fs.Uint64Var(&t.trailingLogs, "trailing-logs", 32, "log entries kept behind a snapshot")
	fs.DurationVar(&t.snapshotInterval, "snapshot-interval", 200*time.Millisecond, "how often to consider a snapshot")
	fs.BoolVar(&t.snapshotDirSync, "snapshot-dir-sync", true, "sync each snapshot's directory (false: hashicorp's file snapshot store as it is)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	w := bufio.NewWriter(stdout)
	hello := func(h kvHello) {
		_ = json.NewEncoder(w).Encode(h)
		_ = w.Flush()
	}
	if *id == "" || *dir == "" || *store == "" || *raftAddr == "" || *apiAddr == "" || len(members.ids) == 0 {
		fmt.Fprintln(stderr, "raftkv-node: need --id, --dir, --store, --raft, --api and --member")
		hello(kvHello{Error: "missing flags"})
		return ExitUsage
	}
	n, err := startKVNode(*id, *dir, *store, params, *raftAddr, *apiAddr, peers, members, *bootstrap, t, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "raftkv-node:", err)
		hello(kvHello{Error: err.Error()})
		return 1
	}
	hello(kvHello{Ready: true})
	// The harness ends a node by killing it; an end of standard input
	// (the harness is gone) stops it too.
	_, _ = io.Copy(io.Discard, os.Stdin)
	n.stop()
	return 0
}

// kvNode is a running node.
type kvNode struct {
	id     string
	r      *raft.Raft
	fsm    *kvFSM
	eng    raftlog.Engine
	trans  *raft.NetworkTransport
	srv    *http.Server
	logger hclog.Logger
}

// makeDurableDirs creates dir/log and dir/snapshots/snapshots (where
// hashicorp's snapshot store keeps its snapshots) and syncs every
// directory from them up to dir's parent, so that a power loss cannot take
// the tree away: neither hashicorp's snapshot store nor a store that
// creates its own directory syncs the directories above it.
func makeDurableDirs(dir string) error {
	snaps := filepath.Join(dir, "snapshots", "snapshots")
	for _, d := range []string{filepath.Join(dir, "log"), snaps} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{snaps, filepath.Dir(snaps), filepath.Join(dir, "log"), dir, filepath.Dir(dir)} {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", d, err)
		}
	}
	return nil
}

func startKVNode(id, dir, store string, params map[string]string, raftAddr, apiAddr string, peers, members addrFlag,
	bootstrap bool, t kvTiming, stderr io.Writer) (*kvNode, error) {
	logger := hclog.New(&hclog.LoggerOptions{Name: id, Output: stderr, Level: hclog.Warn})
	if err := makeDurableDirs(dir); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	eng, err := raftlog.Open(store, raftlog.Options{Dir: filepath.Join(dir, "log"), Params: params})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", store, err)
	}
	n := &kvNode{id: id, eng: eng, fsm: newKVFSM(), logger: logger}
	fail := func(err error) (*kvNode, error) {
		n.stop()
		return nil, err
	}
	logs, stable := hashiraft.NewLogStore(eng), hashiraft.NewStableStore(eng)
	fss, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), 2, logger)
	if err != nil {
		return fail(fmt.Errorf("snapshot store: %w", err))
	}
	var snaps raft.SnapshotStore = fss
	if t.snapshotDirSync {
		snaps = syncedSnapshots{FileSnapshotStore: fss, dir: filepath.Join(dir, "snapshots", "snapshots")}
	}
	advertise, err := net.ResolveTCPAddr("tcp", raftAddr)
	if err != nil {
		return fail(err)
	}
	pa := peerAddrs{raft.ServerID(id): raft.ServerAddress(raftAddr)}
	for i, pid := range peers.ids {
		pa[raft.ServerID(pid)] = raft.ServerAddress(peers.addrs[i])
	}
	n.trans, err = raft.NewTCPTransportWithConfig(raftAddr, advertise, &raft.NetworkTransportConfig{
		ServerAddressProvider: pa, MaxPool: 3, Timeout: time.Second, Logger: logger,
	})
	if err != nil {
		return fail(fmt.Errorf("transport: %w", err))
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.HeartbeatTimeout, conf.ElectionTimeout = t.heartbeat, t.heartbeat
	conf.LeaderLeaseTimeout = t.heartbeat / 2
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold, conf.TrailingLogs, conf.SnapshotInterval = t.snapshotThreshold, t.trailingLogs, t.snapshotInterval
	conf.Logger = logger
	if bootstrap {
		// Before the node starts: a leader elected by the others may
		// reach it as soon as it does.
		has, err := raft.HasExistingState(logs, stable, snaps)
		if err != nil {
			return fail(fmt.Errorf("read state: %w", err))
		}
		if !has {
			var c raft.Configuration
			for i, mid := range members.ids {
				c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(mid), Address: raft.ServerAddress(members.addrs[i])})
			}
			if err := raft.BootstrapCluster(conf, logs, stable, snaps, n.trans, c); err != nil {
				return fail(fmt.Errorf("bootstrap: %w", err))
			}
		}
	}
	n.r, err = raft.NewRaft(conf, n.fsm, logs, stable, snaps, n.trans)
	if err != nil {
		return fail(fmt.Errorf("start raft: %w", err))
	}
	ln, err := net.Listen("tcp", apiAddr)
	if err != nil {
		return fail(fmt.Errorf("api: %w", err))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /op", n.handleOp)
	mux.HandleFunc("POST /barrier", n.handleBarrier)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { n.reply(w, n.view()) })
	n.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = n.srv.Serve(ln) }()
	return n, nil
}

func (n *kvNode) stop() {
	if n.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = n.srv.Shutdown(ctx)
		cancel()
	}
	if n.r != nil {
		_ = n.r.Shutdown().Error()
	}
	if n.trans != nil {
		_ = n.trans.Close()
	}
	_ = n.eng.Close()
}

// view is the node's view of the cluster.
func (n *kvNode) view() kvReply {
	_, leader := n.r.LeaderWithID()
	return kvReply{Node: n.id, State: n.r.State().String(), Term: n.r.CurrentTerm(), Leader: string(leader),
		Commit: n.r.CommitIndex(), Applied: n.r.AppliedIndex()}
}

func (n *kvNode) reply(w http.ResponseWriter, r kvReply) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(r)
}

func (n *kvNode) decode(w http.ResponseWriter, req *http.Request) (kvRequest, bool) {
	var r kvRequest
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&r); err != nil {
		http.Error(w, "raftkv: bad request: "+err.Error(), http.StatusBadRequest)
		return r, false
	}
	return r, true
}

// wait waits for a future at most d; ok false means it did not finish.
func wait(f raft.Future, d time.Duration) (err error, ok bool) {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		return err, true
	case <-t.C:
		return nil, false
	}
}

// retryable names a failed proposal: it may or may not take effect.
func retryable(err error) string {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return errNotLeader
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return errNotLeader // never enqueued
	}
	return "failed: " + err.Error()
}

func (n *kvNode) handleOp(w http.ResponseWriter, req *http.Request) {
	r, ok := n.decode(w, req)
	if !ok {
		return
	}
	rep := n.view()
	left := time.Until(time.Unix(0, r.Deadline))
	switch {
	case n.r.State() != raft.Leader:
		rep.Err = errNotLeader
	case left <= 0:
		rep.Err = errExpired
	default:
		f := n.r.Apply(r.Cmd, left)
		err, done := wait(f, min(left, max(r.Wait, time.Millisecond)))
		switch {
		case !done:
			rep.Err = "timeout: not committed yet"
		case err != nil:
			rep.Err = retryable(err)
		default:
			out, _ := f.Response().(kvmodel.Output)
			rep.Out, _ = json.Marshal(out)
		}
		v := n.view()
		rep.State, rep.Term, rep.Leader, rep.Commit, rep.Applied = v.State, v.Term, v.Leader, v.Commit, v.Applied
	}
	n.reply(w, rep)
}

func (n *kvNode) handleBarrier(w http.ResponseWriter, req *http.Request) {
	r, ok := n.decode(w, req)
	if !ok {
		return
	}
	rep := n.view()
	if n.r.State() != raft.Leader {
		rep.Err = errNotLeader
		n.reply(w, rep)
		return
	}
	d := max(r.Wait, time.Millisecond)
	err, done := wait(n.r.Barrier(d), d)
	switch {
	case !done:
		rep.Err = "timeout: barrier not committed yet"
	case err != nil:
		rep.Err = retryable(err)
	}
	v := n.view()
	rep.State, rep.Term, rep.Leader, rep.Commit, rep.Applied = v.State, v.Term, v.Leader, v.Commit, v.Applied
	n.reply(w, rep)
}
