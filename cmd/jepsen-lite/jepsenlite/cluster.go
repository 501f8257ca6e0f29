package jepsenlite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// ClusterSpec says how to run an engine of a family whose engines are a
// cluster of raftkv nodes (see raftkv_node.go): the raftlog engine under
// every node, how many nodes, and the parameters of the store and of the
// cluster.
type ClusterSpec struct {
	// Store is the raftlog engine each node keeps its log and hard state
	// in.
	Store string
	// Nodes is 3 or 5.
	Nodes int
	// StoreParams go to the store.
	StoreParams map[string]string
	// OpDeadline bounds one client operation, retries included; past it
	// the operation's outcome is unknown (0: 3s).
	OpDeadline time.Duration
	// Heartbeat is raft's heartbeat and election timeout (0: 300ms).
	Heartbeat time.Duration
	// RawSnapshots runs hashicorp's file snapshot store as it is, without
	// the sync of each snapshot's directory (see syncedSnapshots).
	RawSnapshots bool
	// Power is the share of the nodes a power loss hits: "one", "minority",
	// "majority", "all", or "" for one of them drawn per fault.
	Power string
}

// PowerShares are the values of ClusterSpec.Power.
var PowerShares = []string{"one", "minority", "majority", "all"}

// raftkvNodeEnv is added to the environment of every node the cluster
// starts (tests make the test binary serve as jepsen-lite with it).
var raftkvNodeEnv []string

// cluster is a replicated system the harness owns: a raftkv node process
// per member, each on its own lazyfs mount when a disk nemesis needs one,
// talking to the others through a proxy in this process for every
// ordered pair of nodes (the fault layer the partition nemesis sets), and
// clients in this process that send each operation to a node drawn from
// the run's seed, follow redirects to the leader and retry until the
// operation's deadline.
//
// Nemeses: kill and pause act on one node, the leader in half the faults
// (drawn from the cluster's own seeded source); crash cuts the power of
// one node, a minority, a majority or every node at once (drawn from the
// fault's seed); fsync fails the next sync of one node; partition sets
// the links between the nodes. After a node comes back the cluster
// settles: it waits until no operation of the past can still be proposed
// (every deadline has passed) and until a leader commits a barrier, so
// that every operation whose outcome was unknown has taken effect or
// never will, which is what the runner assumes of a restart.
type cluster struct {
	fam  Family
	spec ClusterSpec
	cfg  Config
	root string

	nodes   []*clusterNode
	proxies [][]*linkProxy // proxies[i][j] carries i's connections to j
	mounted bool
	client  *http.Client

	rng    *rand.Rand // victims and the node each operation goes to first
	faults *linearizability.FaultLog

	netMu sync.Mutex
	net   faults.Net

	lastDeadline time.Time
	leaderWin    map[int]leaderWindow // open "leader" window per node
	victims      []int                // nodes down or stopped by the fault in progress
	victimWin    int                  // its "node" window, -1 if none
	fsyncVictim  int                  // the node whose sync is armed to fail, -1 if none
	failed       *failure
}

type leaderWindow struct {
	term uint64
	win  int
}

// clusterNode is one member.
type clusterNode struct {
	idx      int
	id       string
	dir      string     // its data directory
	fs       *lazyfs.FS // nil unless mounted
	raftAddr string
	apiAddr  string
	p        *faults.Process
	down     bool // killed by a nemesis and not yet restarted
	stopped  bool // SIGSTOPped
	exited   bool // died on its own during a fault that explains it
}

var (
	_ system                 = (*cluster)(nil)
	_ faults.ProcessTarget   = (*cluster)(nil)
	_ faults.MountTarget     = (*cluster)(nil)
	_ faults.PartitionTarget = (*cluster)(nil)
)

// freePort returns a loopback address nobody listens on now, on a port
// below the kernel's ephemeral range (32768 and up on Linux): a node
// binds its address again when it restarts, and an outgoing connection
// could have taken an ephemeral port meanwhile.
func freePort() (string, error) {
	for range 200 {
		addr := fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(20000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		_ = ln.Close()
		return addr, nil
	}
	return "", fmt.Errorf("no free loopback port between 10000 and 30000")
}

// startCluster starts the nodes of engine as spec says, each on a lazyfs
// mount of its own if mount, and waits for a leader.
func startCluster(fam Family, engine string, spec ClusterSpec, cfg Config, mount bool) (*cluster, error) {
	if cfg.Target != "auto" && cfg.Target != "lazyfs" {
		return nil, fmt.Errorf("%w: --target %s: a %s engine is a cluster of node processes (auto or lazyfs)", ErrUsage, cfg.Target, fam.Name())
	}
	mount = mount || cfg.Target == "lazyfs"
	if spec.OpDeadline <= 0 {
		spec.OpDeadline = min(3*time.Second, cfg.OpTimeout)
	}
	if spec.Heartbeat <= 0 {
		spec.Heartbeat = 300 * time.Millisecond
	}
	var profile lazyfs.Profile
	if mount {
		if err := lazyAvailable(); err != nil {
			return nil, fmt.Errorf("%w: engine %s: %w: crash and fsync need a lazyfs mount under every node: %w", ErrSetup, cfg.Engine, faults.ErrUnavailable, err)
		}
		var err error
		if profile, err = lazyfs.ParseProfile(cfg.Profile); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	root, err := makeRunDir("jepsen-lite-cluster-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	c := &cluster{fam: fam, spec: spec, cfg: cfg, root: root, mounted: mount,
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x72616674)),
		client:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DialContext: (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext}},
		leaderWin: map[int]leaderWindow{}, victimWin: -1, fsyncVictim: -1, net: faults.NewNet(spec.Nodes),
	}
	setupErr := func(err error) (*cluster, error) {
		_ = c.close()
		return nil, fmt.Errorf("%w: start cluster %s: %w", ErrSetup, cfg.Engine, err)
	}
	for i := range spec.Nodes {
		n := &clusterNode{idx: i, id: fmt.Sprintf("n%d", i+1)}
		nodeRoot := filepath.Join(root, n.id)
		n.dir = filepath.Join(nodeRoot, "data")
		if mount {
			backing, mnt := filepath.Join(nodeRoot, "backing"), filepath.Join(nodeRoot, "mnt")
			for _, d := range []string{backing, mnt} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return setupErr(err)
				}
			}
			if n.fs, err = lazyfs.Mount(backing, mnt, lazyfs.Options{Profile: profile}); err != nil {
				return setupErr(fmt.Errorf("mount lazyfs for %s: %w", n.id, err))
			}
			n.dir = filepath.Join(mnt, "data")
		}
		if n.raftAddr, err = freePort(); err != nil {
			return setupErr(err)
		}
		if n.apiAddr, err = freePort(); err != nil {
			return setupErr(err)
		}
		c.nodes = append(c.nodes, n)
	}
	c.proxies = make([][]*linkProxy, spec.Nodes)
	for i := range spec.Nodes {
		c.proxies[i] = make([]*linkProxy, spec.Nodes)
		for j := range spec.Nodes {
			if i == j {
				continue
			}
			p, err := newLinkProxy(c, i, j)
			if err != nil {
				return setupErr(err)
			}
			c.proxies[i][j] = p
		}
	}
	for _, n := range c.nodes {
		if err := c.spawn(n, true); err != nil {
			return setupErr(err)
		}
	}
	if err := c.settle(context.Background(), 30*time.Second); err != nil {
		return setupErr(err)
	}
	return c, nil
}

// argv is the command line of node n.
func (c *cluster) argv(n *clusterNode, bootstrap bool) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	argv := []string{exe, "raftkv-node", "--id", n.id, "--dir", n.dir, "--store", c.spec.Store,
		"--raft", n.raftAddr, "--api", n.apiAddr, "--heartbeat", c.spec.Heartbeat.String()}
	for _, m := range c.nodes {
		argv = append(argv, "--member", m.id+"="+m.raftAddr)
		if m != n {
			argv = append(argv, "--peer", m.id+"="+c.proxies[n.idx][m.idx].addr())
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.spec.StoreParams)) {
		argv = append(argv, "--param", k+"="+c.spec.StoreParams[k])
	}
	if c.spec.RawSnapshots {
		argv = append(argv, "--snapshot-dir-sync=false")
	}
	if bootstrap {
		argv = append(argv, "--bootstrap")
	}
	return argv, nil
}

// spawn starts node n and waits for its hello.
func (c *cluster) spawn(n *clusterNode, bootstrap bool) error {
	argv, err := c.argv(n, bootstrap)
	if err != nil {
		return err
	}
	p, err := faults.StartProcess(argv, raftkvNodeEnv...)
	if err != nil {
		return err
	}
	hello := make(chan kvHello, 1)
	go func() {
		var h kvHello
		line, err := p.Stdout().ReadBytes('\n')
		if err != nil || json.Unmarshal(line, &h) != nil {
			h = kvHello{Error: fmt.Sprintf("no hello (%v): %q", err, line)}
		}
		hello <- h
		_, _ = io.Copy(io.Discard, p.Stdout())
	}()
	select {
	case h := <-hello:
		if !h.Ready {
			_ = p.Kill(5 * time.Second)
			return fmt.Errorf("node %s did not start: %s\n%s", n.id, h.Error, lastLines(p.Stderr(), 20))
		}
	case <-time.After(max(c.cfg.OpTimeout, 30*time.Second)):
		_ = p.Kill(5 * time.Second)
		return fmt.Errorf("node %s did not say hello in time:\n%s", n.id, lastLines(p.Stderr(), 20))
	}
	n.p, n.down, n.stopped, n.exited = p, false, false, false
	return nil
}

// exitReason picks from a node's standard error why it died: its panic,
// else its last line.
func exitReason(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "panic: ") {
			return l
		}
	}
	return lastLines(stderr, 1)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// setFaultLog gives the cluster the run's fault log, on which it records
// who leads over time (from now on: the leader it knows of already first)
// and which nodes a fault hit.
func (c *cluster) setFaultLog(l *linearizability.FaultLog) {
	c.faults = l
	for _, i := range slices.Sorted(maps.Keys(c.leaderWin)) {
		lw := c.leaderWin[i]
		lw.win = c.openWindow("leader", fmt.Sprintf("%s leads in term %d", c.nodes[i].id, lw.term))
		c.leaderWin[i] = lw
	}
}

func (c *cluster) openWindow(nemesis, detail string) int {
	if c.faults == nil {
		return -1
	}
	return c.faults.Open(nemesis, detail)
}

func (c *cluster) closeWindow(w int, more string) {
	if c.faults != nil && w >= 0 {
		c.faults.Close(w, more)
	}
}

// observe records a node's view: a "leader" window per node while it
// says it leads, one per term.
func (c *cluster) observe(idx int, r kvReply) {
	lw, open := c.leaderWin[idx]
	leads := r.State == "Leader"
	if open && (!leads || lw.term != r.Term) {
		c.closeWindow(lw.win, "")
		delete(c.leaderWin, idx)
		open = false
	}
	if leads && !open {
		c.leaderWin[idx] = leaderWindow{term: r.Term, win: c.openWindow("leader", fmt.Sprintf("%s leads in term %d", c.nodes[idx].id, r.Term))}
	}
}

// lostLeader closes the leader window of a node that went down.
func (c *cluster) lostLeader(idx int, why string) {
	if lw, ok := c.leaderWin[idx]; ok {
		c.closeWindow(lw.win, why)
		delete(c.leaderWin, idx)
	}
}

// call posts body to path on node idx within limit.
func (c *cluster) call(idx int, path string, body any, limit time.Duration) (kvReply, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return kvReply{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	method := http.MethodPost
	if body == nil {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.nodes[idx].apiAddr+path, bytes.NewReader(b))
	if err != nil {
		return kvReply{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return kvReply{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return kvReply{}, fmt.Errorf("%w: %s: %s", ErrProtocol, resp.Status, msg)
	}
	var r kvReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return kvReply{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return r, nil
}

// index returns the index of the node with server ID id, or -1.
func (c *cluster) index(id string) int {
	for _, n := range c.nodes {
		if n.id == id {
			return n.idx
		}
	}
	return -1
}

// checkExits returns a failure if a node died on its own; a node whose
// sync was failed by the fsync nemesis may stop itself (hashicorp/raft
// panics when its stable store fails), which is recorded, not a failure.
func (c *cluster) checkExits() *failure {
	if c.failed != nil {
		return c.failed
	}
	for _, n := range c.nodes {
		if n.down || n.exited || n.p == nil {
			continue
		}
		select {
		case <-n.p.Exited():
		default:
			continue
		}
		_ = n.p.Wait(time.Second)
		c.lostLeader(n.idx, "exited")
		if n.idx == c.fsyncVictim {
			n.exited = true
			w := c.openWindow("node", fmt.Sprintf("%s stopped itself after the failed sync: %s", n.id, exitReason(n.p.Stderr())))
			c.closeWindow(w, "")
			continue
		}
		c.failed = &failure{what: fmt.Sprintf("node %s exited on its own: %s", n.id, exitReason(n.p.Stderr())), evidence: n.p.Stderr()}
		return c.failed
	}
	return nil
}

// exec runs one operation: to a node drawn from the run's seed, then to
// the leader the nodes name, retrying (in the same client session, so a
// retry is applied at most once) until the operation's deadline. An
// operation that no node may have proposed is refused (unavailable); one
// that some node may have proposed and none answered is unknown and
// unbounded until the next settle.
func (c *cluster) exec(w any, _ bool) (any, bool, *failure) {
	target := c.rng.IntN(len(c.nodes))
	if f := c.checkExits(); f != nil {
		return c.fam.unknown(f.what), false, f
	}
	body, err := json.Marshal(w)
	if err != nil {
		return c.fam.unknown(err.Error()), false, &failure{what: "encode operation: " + err.Error()}
	}
	deadline := time.Now().Add(c.spec.OpDeadline)
	attempt := max(c.spec.OpDeadline/3, 200*time.Millisecond)
	proposed, tries, last := false, 0, ""
	for time.Now().Before(deadline) {
		tries++
		left := time.Until(deadline)
		r, err := c.call(target, "/op", kvRequest{Deadline: deadline.UnixNano(), Wait: min(attempt, left), Cmd: body}, min(attempt+100*time.Millisecond, left+50*time.Millisecond))
		next := (target + 1) % len(c.nodes)
		switch {
		case err != nil:
			last = fmt.Sprintf("%s: %v", c.nodes[target].id, err)
			var op *net.OpError
			if !(errors.As(err, &op) && op.Op == "dial") {
				proposed = true // the request may have reached the node
			}
			target = next
			time.Sleep(10 * time.Millisecond)
			continue
		case r.Err == "":
			c.observe(target, r)
			out, err := c.fam.decodeOutput(r.Out)
			if err != nil {
				return c.fam.unknown("protocol"), false, &failure{what: err.Error()}
			}
			if c.fam.isUnknown(out) {
				// The state machine could not tell (a command it could not
				// decode): the operation may still take effect.
				c.lastDeadline = deadline
				return out, true, nil
			}
			return out, false, nil
		}
		c.observe(target, r)
		last = c.nodes[target].id + ": " + r.Err
		switch r.Err {
		case errExpired:
		case errNotLeader:
			if l := c.index(r.Leader); l >= 0 && l != target {
				target = l
				continue
			}
			target = next
		default:
			proposed = true
			if l := c.index(r.Leader); l >= 0 && l != target {
				target = l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !proposed {
		return raftkvUnavailable(fmt.Sprintf("refused by every node tried within %v (%d tries, last %s)", c.spec.OpDeadline, tries, last)), false, nil
	}
	// Some node may still propose it until its deadline.
	c.lastDeadline = deadline
	return c.fam.unknown(fmt.Sprintf("no answer within %v (%d tries, last %s)", c.spec.OpDeadline, tries, last)), true, nil
}

// A node checks a command's deadline just before it proposes it, on the
// clock every process here shares; a node stopped between that check and
// the proposal would break the bound, which is why no settle runs while a
// node is stopped (pause faults end with SIGCONT before the next fault).
//
// settle waits until every operation of the past has taken effect or
// never will: until no node may still propose one whose outcome is
// unknown (their deadlines have passed) and a leader has committed a
// barrier after that. An operation that was answered may still have a
// stale copy in flight, but its session makes that copy a no-op.
func (c *cluster) settle(_ context.Context, limit time.Duration) error {
	if d := time.Until(c.lastDeadline.Add(50 * time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
	end := time.Now().Add(limit)
	start := c.leaderGuess()
	var last []string
	for time.Now().Before(end) {
		if f := c.checkExits(); f != nil {
			return &recoveryError{f: f}
		}
		last = last[:0]
		for k := range c.nodes {
			i := (start + k) % len(c.nodes)
			n := c.nodes[i]
			if n.down || n.exited || n.stopped {
				continue
			}
			r, err := c.call(i, "/barrier", kvRequest{Wait: time.Second}, 1500*time.Millisecond)
			if err != nil {
				last = append(last, fmt.Sprintf("%s: %v", n.id, err))
				continue
			}
			c.observe(i, r)
			if r.Err == "" {
				return nil
			}
			last = append(last, fmt.Sprintf("%s: %s %s term %d leader %q", n.id, r.State, r.Err, r.Term, r.Leader))
			if l := c.index(r.Leader); l >= 0 {
				start = l
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ev strings.Builder
	for _, n := range c.nodes {
		if n.p != nil {
			fmt.Fprintf(&ev, "== %s ==\n%s\n", n.id, lastLines(n.p.Stderr(), 40))
		}
	}
	return &recoveryError{f: &failure{
		what:     fmt.Sprintf("recovery: no leader committed a barrier within %v (%s)", limit, strings.Join(last, "; ")),
		evidence: ev.String(),
	}}
}

// leaderGuess is the node that last said it leads, or 0.
func (c *cluster) leaderGuess() int {
	best, term := 0, uint64(0)
	for i, lw := range c.leaderWin {
		if lw.term >= term {
			best, term = i, lw.term
		}
	}
	return best
}

// Leader asks every running node and returns the one that leads in the
// highest term, or -1.
func (c *cluster) Leader() int {
	best, term := -1, uint64(0)
	for i, n := range c.nodes {
		if n.down || n.exited || n.stopped {
			continue
		}
		r, err := c.call(i, "/status", nil, 300*time.Millisecond)
		if err != nil {
			continue
		}
		c.observe(i, r)
		if r.State == "Leader" && r.Term >= term {
			best, term = i, r.Term
		}
	}
	return best
}

// pick draws a node: the leader in half the draws (when one is known),
// else any node. It always draws twice from the cluster's source, so
// that what follows does not depend on whether a leader was known.
func (c *cluster) pick() (int, string) {
	leaderFirst, any := c.rng.IntN(2) == 0, c.rng.IntN(len(c.nodes))
	if leaderFirst {
		if l := c.Leader(); l >= 0 {
			return l, c.nodes[l].id + " (the leader)"
		}
	}
	return any, c.nodes[any].id
}

func (c *cluster) Traits() faults.Traits {
	return faults.Traits{Process: true, Mount: c.mounted, Persistent: true}
}

func (c *cluster) info() Info { return Info{Persistent: true, SyncOnWrite: true, Traits: struct{}{}} }

func (c *cluster) where() string {
	if c.mounted {
		return "lazyfs"
	}
	return "cluster"
}

// Nodes is the number of nodes.
func (c *cluster) Nodes() int { return len(c.nodes) }

// Signal kills (SIGKILL) or stops (SIGSTOP) a node drawn by pick, or
// resumes (SIGCONT) the one stopped.
func (c *cluster) Signal(sig syscall.Signal) error {
	switch sig {
	case syscall.SIGKILL:
		v, who := c.pick()
		n := c.nodes[v]
		c.victims = []int{v}
		c.victimWin = c.openWindow("node", who+": SIGKILL")
		if err := n.p.Kill(5 * time.Second); err != nil {
			return err
		}
		n.down = true
		c.lostLeader(v, "killed")
		return nil
	case syscall.SIGSTOP:
		v, who := c.pick()
		c.victims = []int{v}
		c.victimWin = c.openWindow("node", who+": SIGSTOP")
		if err := c.nodes[v].p.Signal(syscall.SIGSTOP); err != nil {
			return err
		}
		c.nodes[v].stopped = true
		return nil
	case syscall.SIGCONT:
		for _, v := range c.victims {
			if err := c.nodes[v].p.Signal(syscall.SIGCONT); err != nil {
				return err
			}
			c.nodes[v].stopped = false
		}
		c.victims = nil
		c.closeWindow(c.victimWin, "SIGCONT")
		c.victimWin = -1
		return nil
	}
	return fmt.Errorf("%w: signal %v to a cluster", faults.ErrProcess, sig)
}

// Respawn starts the killed node again and settles.
func (c *cluster) Respawn(ctx context.Context) error {
	for _, v := range c.victims {
		n := c.nodes[v]
		if !n.down {
			if err := n.p.Kill(5 * time.Second); err != nil {
				return err
			}
		}
		if err := c.spawn(n, false); err != nil {
			return &recoveryError{f: &failure{what: "recovery failed: " + err.Error(), evidence: n.p.Stderr()}}
		}
	}
	c.victims = nil
	c.closeWindow(c.victimWin, "restarted")
	c.victimWin = -1
	return c.settle(ctx, 30*time.Second)
}

// powerVictims draws the nodes a power loss hits from its seed: one
// node, a minority, a majority or all of them, as ClusterSpec.Power says
// or drawn too.
func (c *cluster) powerVictims(seed uint64) ([]int, string) {
	r := rand.New(rand.NewPCG(seed, 0x706f776572))
	n := len(c.nodes)
	perm := r.Perm(n)
	share := PowerShares[r.IntN(len(PowerShares))]
	if c.spec.Power != "" {
		share = c.spec.Power
	}
	switch share {
	case "one":
		return perm[:1], "one node"
	case "minority":
		return perm[:max(1, (n-1)/2)], "a minority"
	case "majority":
		return perm[:n/2+1], "a majority"
	}
	return perm, "every node"
}

// PowerCycle kills nodes, cuts the power of their mounts (keeping a
// seeded share pct of what they had not synced) and starts them again:
// the node whose sync an fsync fault failed, or those powerVictims draws.
func (c *cluster) PowerCycle(ctx context.Context, seed uint64, pct int) error {
	victims, what := []int{c.fsyncVictim}, "the node whose sync failed"
	if c.fsyncVictim < 0 {
		victims, what = c.powerVictims(seed)
	}
	c.fsyncVictim = -1
	slices.Sort(victims)
	var names []string
	for _, v := range victims {
		names = append(names, c.nodes[v].id)
	}
	w := c.openWindow("node", fmt.Sprintf("power loss of {%s} (%s), %d%% of unsynced data kept", strings.Join(names, ","), what, pct))
	defer c.closeWindow(w, "restarted")
	for _, v := range victims {
		n := c.nodes[v]
		_ = n.p.Signal(syscall.SIGCONT)
		if err := n.p.Kill(5 * time.Second); err != nil {
			return err
		}
		n.down = true
		c.lostLeader(v, "power lost")
	}
	for _, v := range victims {
		if err := c.nodes[v].fs.Crash(pct, seed+uint64(v)); err != nil {
			return fmt.Errorf("lazyfs crash of %s: %w", c.nodes[v].id, err)
		}
	}
	for _, v := range victims {
		n := c.nodes[v]
		if err := c.spawn(n, false); err != nil {
			return &recoveryError{f: &failure{what: "recovery failed: " + err.Error(), evidence: n.p.Stderr()}}
		}
	}
	return c.settle(ctx, 30*time.Second)
}

// Restart kills the node whose sync failed (or one drawn by pick) and
// starts it again, without a power loss.
func (c *cluster) Restart(ctx context.Context) error {
	v := c.fsyncVictim
	who := ""
	if v < 0 {
		v, who = c.pick()
	} else {
		who = c.nodes[v].id + " (its sync failed)"
	}
	c.fsyncVictim = -1
	w := c.openWindow("node", who+": restart")
	defer c.closeWindow(w, "")
	n := c.nodes[v]
	if err := n.p.Kill(5 * time.Second); err != nil {
		return err
	}
	n.down = true
	c.lostLeader(v, "restarted")
	if err := c.spawn(n, false); err != nil {
		return &recoveryError{f: &failure{what: "recovery failed: " + err.Error(), evidence: n.p.Stderr()}}
	}
	return c.settle(ctx, 30*time.Second)
}

// FailNextSync fails the next n syncs on the mount of a node drawn by
// pick; n <= 0 withdraws the failures not yet used.
func (c *cluster) FailNextSync(n int) error {
	if n <= 0 {
		if c.fsyncVictim >= 0 {
			err := c.nodes[c.fsyncVictim].fs.FailNextSync(0)
			c.fsyncVictim = -1
			return err
		}
		return nil
	}
	v, who := c.pick()
	c.fsyncVictim = v
	w := c.openWindow("node", fmt.Sprintf("%s: its next sync fails", who))
	c.closeWindow(w, "")
	return c.nodes[v].fs.FailNextSync(n)
}

// FailedSyncs counts the syncs failed on every mount.
func (c *cluster) FailedSyncs() int64 {
	var sum int64
	for _, n := range c.nodes {
		if n.fs != nil {
			_, failed := n.fs.SyncCounts()
			sum += failed
		}
	}
	return sum
}

// SetNet applies net to the proxies between the nodes.
func (c *cluster) SetNet(net faults.Net) error {
	c.netMu.Lock()
	c.net = net
	c.netMu.Unlock()
	for i, row := range c.proxies {
		for j, p := range row {
			if p != nil && (net.Link(i, j).Cut || net.Link(j, i).Cut) {
				p.closeConns()
			}
		}
	}
	return nil
}

// link returns the current state of the path from i to j.
func (c *cluster) link(i, j int) faults.Link {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	return c.net.Link(i, j)
}

func (c *cluster) close() error {
	var errs []error
	for _, n := range c.nodes {
		if n.p != nil {
			_ = n.p.Signal(syscall.SIGCONT)
			if err := n.p.Kill(5 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, row := range c.proxies {
		for _, p := range row {
			if p != nil {
				p.close()
			}
		}
	}
	for _, n := range c.nodes {
		if n.fs != nil {
			if err := n.fs.Unmount(); err != nil {
				_ = n.fs.ForceUnmount()
			}
		}
	}
	c.client.CloseIdleConnections()
	_ = os.RemoveAll(c.root)
	return errors.Join(errs...)
}

// clusterAvailability is where each nemesis acts on a cluster; err says
// why the cluster cannot be started (its spec is bad).
func clusterAvailability(err error) map[string]nemesisPlan {
	out := map[string]nemesisPlan{}
	for _, n := range faults.Nemeses() {
		p := nemesisPlan{applicable: true}
		switch n.Name() {
		case "kill", "pause":
			p.where = "one node process (the leader in half the faults)"
		case "partition":
			p.where = "the proxies between the nodes"
		case "crash":
			p.where = "one node, a minority, a majority or every node, each on its own lazyfs mount"
		case "fsync":
			p.where = "one node's lazyfs mount"
		default:
			p.where = "not applicable to a cluster"
			p.applicable = false
		}
		if p.applicable && (n.Name() == "crash" || n.Name() == "fsync") {
			if lerr := lazyAvailable(); lerr != nil {
				p.err = fmt.Errorf("%w: needs lazyfs: %w", faults.ErrUnavailable, lerr)
			}
		}
		if err != nil {
			p.err = err
		}
		if p.err != nil {
			p.where = "unavailable here: " + p.err.Error()
		}
		out[n.Name()] = p
	}
	return out
}

// linkProxy carries the connections node from opens to node to, applying
// the path's Link in each direction (from->to to what from sends, to->from
// to the answers): a cut path refuses connections and closes those it
// has, a delayed one holds each chunk back in order, a lossy one resets
// the connection that would carry a lost chunk.
type linkProxy struct {
	c        *cluster
	from, to int
	ln       net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	rng    *rand.Rand
	closed bool
}

func newLinkProxy(c *cluster, from, to int) (*linkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &linkProxy{c: c, from: from, to: to, ln: ln, conns: map[net.Conn]struct{}{},
		rng: rand.New(rand.NewPCG(c.cfg.Seed, uint64(from*64+to)))}
	go p.accept()
	return p, nil
}

func (p *linkProxy) addr() string { return p.ln.Addr().String() }

func (p *linkProxy) cut() bool {
	return p.c.link(p.from, p.to).Cut || p.c.link(p.to, p.from).Cut
}

func (p *linkProxy) accept() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.cut() {
			_ = down.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.c.nodes[p.to].raftAddr, 500*time.Millisecond)
		if err != nil {
			_ = down.Close()
			continue
		}
		if !p.track(down, up) {
			return
		}
		go p.pipe(down, up, p.from, p.to)
		go p.pipe(up, down, p.to, p.from)
	}
}

// track registers a pair of connections; false once the proxy is closed.
func (p *linkProxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_, _ = a.Close(), b.Close()
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

func (p *linkProxy) drop(a, b net.Conn) {
	p.mu.Lock()
	delete(p.conns, a)
	delete(p.conns, b)
	p.mu.Unlock()
	_, _ = a.Close(), b.Close()
}

// draw returns a delay and whether to lose a chunk on link l.
func (p *linkProxy) draw(l faults.Link) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := l.Delay
	if l.Jitter > 0 {
		d += time.Duration(p.rng.Int64N(int64(l.Jitter)))
	}
	return d, l.Drop > 0 && p.rng.Float64() < l.Drop
}

// pipe copies src to dst as the path from a to b allows.
func (p *linkProxy) pipe(src, dst net.Conn, a, b int) {
	type chunk struct {
		data []byte
		at   time.Time
	}
	q := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range q {
			if d := time.Until(ch.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(ch.data); err != nil {
				p.drop(src, dst)
				for range q {
				}
				return
			}
		}
	}()
	var last time.Time
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l := p.c.link(a, b)
			delay, lost := p.draw(l)
			if l.Cut || lost {
				break
			}
			at := time.Now().Add(delay)
			if at.Before(last) {
				at = last // a delay line keeps the order
			}
			last = at
			q <- chunk{data: bytes.Clone(buf[:n]), at: at}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
	p.drop(src, dst)
}

// closeConns closes every connection the proxy carries.
func (p *linkProxy) closeConns() {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	clear(p.conns)
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (p *linkProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.closeConns()
}
