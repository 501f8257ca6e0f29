package raftlogtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
)

// An engine that writes around Options.FS (Capabilities().UsesFS false) is
// crashed on a lazyfs mount served by the test process, with the engine in
// a child process: a Go process faulting on a mapping of a file of its own
// FUSE mount can deadlock. The child is the test binary itself, re-run on
// the test that called Run with serveEnv naming the harness and dirEnv the
// engine's directory; Run sees serveEnv, serves the engine over the pipes
// at file descriptors 3 (requests) and 4 (responses) and ends the test.
const (
	serveEnv = "RAFTLOGTEST_SERVE"
	dirEnv   = "RAFTLOGTEST_DIR"
)

// lazyAvailable says once per process whether lazyfs can mount here.
var lazyAvailable = sync.OnceValue(lazyfs.Available)

// childRequest is one call to the engine in the child.
type childRequest struct {
	Op      string            `json:"op"`
	Entries []raftlog.Entry   `json:"entries,omitempty"`
	Lo      uint64            `json:"lo,omitempty"`
	Hi      uint64            `json:"hi,omitempty"`
	ID      raftlog.LogID     `json:"id"`
	HS      raftlog.HardState `json:"hs"`
}

// childResponse is its answer. Err names the raftlog sentinel the error
// wraps, if any; Msg is the error's text.
type childResponse struct {
	Entries []raftlog.Entry       `json:"entries,omitempty"`
	Value   uint64                `json:"value,omitempty"`
	ID      raftlog.LogID         `json:"id"`
	HS      raftlog.HardState     `json:"hs"`
	OK      bool                  `json:"ok,omitempty"`
	Caps    *raftlog.Capabilities `json:"caps,omitempty"`
	Err     string                `json:"err,omitempty"`
	Msg     string                `json:"msg,omitempty"`
}

var sentinels = map[string]error{
	"not_found": raftlog.ErrNotFound, "compacted": raftlog.ErrCompacted, "non_contiguous": raftlog.ErrNonContiguous,
	"invalid_range": raftlog.ErrInvalidRange, "closed": raftlog.ErrClosed, "failed": raftlog.ErrFailed,
	"corrupt": raftlog.ErrCorrupt, "bad_option": raftlog.ErrBadOption,
}

func encodeErr(r *childResponse, err error) {
	if err == nil {
		return
	}
	r.Err, r.Msg = "other", err.Error()
	for code, s := range sentinels {
		if errors.Is(err, s) {
			r.Err = code
		}
	}
}

func decodeErr(r childResponse) error {
	if r.Err == "" {
		return nil
	}
	if s, ok := sentinels[r.Err]; ok {
		return fmt.Errorf("%w (in the child: %s)", s, r.Msg)
	}
	return errors.New(r.Msg)
}

// serveChild serves the engine of h when this process is a child started
// for it, and reports whether it did.
func serveChild(t *testing.T, h Harness) bool {
	name, ok := os.LookupEnv(serveEnv)
	if !ok {
		return false
	}
	if name != h.Name {
		t.Skipf("raftlogtest: this child serves engine %s, not %s", name, h.Name)
	}
	in, out := os.NewFile(3, "requests"), os.NewFile(4, "responses")
	if in == nil || out == nil {
		t.Fatalf("raftlogtest: %s is set but file descriptors 3 and 4 are not open", serveEnv)
	}
	serve(h, os.Getenv(dirEnv), in, out)
	return true
}

// serve opens the engine in dir and answers requests until the input ends
// or a close request.
func serve(h Harness, dir string, in io.Reader, out io.Writer) {
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	send := func(r childResponse) {
		_ = enc.Encode(r)
		_ = w.Flush()
	}
	e, err := h.Open(raftlog.Options{Dir: dir})
	if err != nil {
		var r childResponse
		encodeErr(&r, err)
		send(r)
		return
	}
	caps := e.Capabilities()
	send(childResponse{Caps: &caps})
	dec := json.NewDecoder(bufio.NewReader(in))
	for {
		var req childRequest
		if dec.Decode(&req) != nil {
			return
		}
		r := childResponse{}
		switch ls, ms := e.Log(), e.Meta(); req.Op {
		case "persist":
			err = ls.PersistEntries(req.Entries)
		case "entry":
			var ent raftlog.Entry
			ent, err = ls.Entry(req.Lo)
			r.Entries = []raftlog.Entry{ent}
		case "entries":
			r.Entries, err = ls.Entries(req.Lo, req.Hi)
		case "purge":
			err = ls.Purge(req.ID)
		case "truncate":
			err = ls.Truncate(req.Lo)
		case "flush":
			err = ls.Flush()
		case "reset":
			err = ls.Reset()
		case "first":
			r.Value = ls.FirstIndex()
		case "last":
			r.Value = ls.LastIndex()
		case "purged":
			r.ID = ls.PurgedID()
		case "save_hs":
			err = ms.SaveHardState(req.HS)
		case "load_hs":
			r.HS, r.OK, err = ms.LoadHardState()
		case "flush_meta":
			err = ms.Flush()
		case "close":
			err = e.Close()
		default:
			err = fmt.Errorf("raftlogtest: unknown request %q", req.Op)
		}
		encodeErr(&r, err)
		send(r)
		if req.Op == "close" {
			return
		}
	}
}

// childPattern is the -test.run pattern that selects exactly the test
// named name.
func childPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// remote is an engine served by a child process. Its methods fail the
// case when the child cannot be reached.
type remote struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	req  io.WriteCloser
	out  io.Closer // the read end of the responses
	resp *json.Decoder
	errb *tail
	caps raftlog.Capabilities
	dead bool
	// exited is closed once the child has exited and its files are closed.
	exited chan struct{}
}

var _ raftlog.Engine = (*remote)(nil)

// tail keeps the last 16 KiB written to it: the child's standard error.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if n := len(b.buf) - 16<<10; n > 0 {
		b.buf = b.buf[n:]
	}
	return len(p), nil
}

func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// startRemote starts a child serving the engine of harness name in dir,
// re-running the test named test.
func startRemote(t testing.TB, test, name, dir string) (*remote, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		_, _ = reqR.Close(), reqW.Close()
		return nil, err
	}
	r := &remote{t: t, name: name, req: reqW, out: respR, resp: json.NewDecoder(bufio.NewReader(respR)), errb: &tail{}, exited: make(chan struct{})}
	r.cmd = exec.Command(exe, "-test.run="+childPattern(test), "-test.count=1")
	r.cmd.Env = append(os.Environ(), serveEnv+"="+name, dirEnv+"="+dir)
	r.cmd.ExtraFiles = []*os.File{reqR, respW}
	r.cmd.Stderr = r.errb
	err = r.cmd.Start()
	_, _ = reqR.Close(), respW.Close()
	if err != nil {
		_, _ = reqW.Close(), respR.Close()
		return nil, err
	}
	go func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	var hello childResponse
	if err := r.resp.Decode(&hello); err != nil {
		r.kill()
		return nil, fmt.Errorf("child serving %s exited before it opened the engine: %v: %s", name, err, r.errb.String())
	}
	if hello.Caps == nil {
		r.kill()
		return nil, decodeErr(hello)
	}
	r.caps = *hello.Caps
	return r, nil
}

// kill kills the child with SIGKILL and waits until it is gone, so that
// its files on the mount are closed.
func (r *remote) kill() {
	if r.dead {
		return
	}
	r.dead = true
	_ = r.req.Close()
	_ = r.cmd.Process.Kill()
	r.wait()
}

// wait waits for the child to exit, at most ten seconds, and closes the
// responses.
func (r *remote) wait() {
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.t.Errorf("raftlogtest: the child serving engine %s did not exit within 10s", r.name)
	}
	_ = r.out.Close()
}

// call sends one request and returns the answer.
func (r *remote) call(req childRequest) childResponse {
	r.t.Helper()
	if r.dead {
		return childResponse{Err: "closed", Msg: "the child was killed"}
	}
	b, err := json.Marshal(req)
	if err == nil {
		_, err = r.req.Write(append(b, '\n'))
	}
	var resp childResponse
	if err == nil {
		err = r.resp.Decode(&resp)
	}
	if err != nil {
		r.kill()
		r.t.Fatalf("engine %s in its child process, during %s: %v: %s", r.name, req.Op, err, r.errb.String())
	}
	return resp
}

func (r *remote) do(req childRequest) error { return decodeErr(r.call(req)) }

func (r *remote) Log() raftlog.LogStore              { return remoteLog{r} }
func (r *remote) Meta() raftlog.MetaStore            { return remoteMeta{r} }
func (r *remote) Capabilities() raftlog.Capabilities { return r.caps }

// Close closes the engine in the child and waits for the child to exit.
func (r *remote) Close() error {
	if r.dead {
		return raftlog.ErrClosed
	}
	err := r.do(childRequest{Op: "close"})
	_ = r.req.Close()
	r.wait()
	r.dead = true
	return err
}

type remoteLog struct{ r *remote }

func (l remoteLog) PersistEntries(e []raftlog.Entry) error {
	return l.r.do(childRequest{Op: "persist", Entries: e})
}

func (l remoteLog) Entry(i uint64) (raftlog.Entry, error) {
	resp := l.r.call(childRequest{Op: "entry", Lo: i})
	if err := decodeErr(resp); err != nil {
		return raftlog.Entry{}, err
	}
	if len(resp.Entries) != 1 {
		return raftlog.Entry{}, fmt.Errorf("raftlogtest: child answered Entry with %d entries", len(resp.Entries))
	}
	return resp.Entries[0], nil
}

func (l remoteLog) Entries(lo, hi uint64) ([]raftlog.Entry, error) {
	resp := l.r.call(childRequest{Op: "entries", Lo: lo, Hi: hi})
	return resp.Entries, decodeErr(resp)
}

func (l remoteLog) Purge(id raftlog.LogID) error { return l.r.do(childRequest{Op: "purge", ID: id}) }
func (l remoteLog) Truncate(from uint64) error   { return l.r.do(childRequest{Op: "truncate", Lo: from}) }
func (l remoteLog) Flush() error                 { return l.r.do(childRequest{Op: "flush"}) }
func (l remoteLog) Reset() error                 { return l.r.do(childRequest{Op: "reset"}) }
func (l remoteLog) FirstIndex() uint64           { return l.r.call(childRequest{Op: "first"}).Value }
func (l remoteLog) LastIndex() uint64            { return l.r.call(childRequest{Op: "last"}).Value }
func (l remoteLog) PurgedID() raftlog.LogID      { return l.r.call(childRequest{Op: "purged"}).ID }

type remoteMeta struct{ r *remote }

func (m remoteMeta) SaveHardState(hs raftlog.HardState) error {
	return m.r.do(childRequest{Op: "save_hs", HS: hs})
}

func (m remoteMeta) LoadHardState() (raftlog.HardState, bool, error) {
	resp := m.r.call(childRequest{Op: "load_hs"})
	return resp.HS, resp.OK, decodeErr(resp)
}

func (m remoteMeta) Flush() error { return m.r.do(childRequest{Op: "flush_meta"}) }

// mounted reports whether the engine of s must be crashed on lazyfs: it
// keeps its state (Persistent) but writes around Options.FS. It skips the
// case, saying why, where that cannot be done: lazyfs cannot mount here,
// or the suite runs without a test to re-run as the child (Failures).
func (s *suite) mounted(t testing.TB) bool {
	t.Helper()
	in := s.fresh(t)
	caps := in.caps()
	in.close()
	if !caps.Persistent || caps.UsesFS {
		return false
	}
	if s.test == "" {
		t.Skipf("engine %s declares Capabilities().UsesFS = false: it is crashed on lazyfs in a child process, which needs Run (not Failures)", s.h.Name)
	}
	if err := lazyAvailable(); err != nil {
		t.Skipf("engine %s declares Capabilities().UsesFS = false: it is crashed on lazyfs, which cannot mount here: %v", s.h.Name, err)
	}
	return true
}

// mountT mounts lazyfs over a new backing directory and unmounts it when
// the case ends; the backing directory is kept if the case failed.
func (s *suite) mountT(t testing.TB) *lazyfs.FS {
	t.Helper()
	root, err := os.MkdirTemp("", "raftlogtest-lazyfs-")
	if err != nil {
		t.Fatalf("raftlogtest: %v", err)
	}
	backing, mnt := filepath.Join(root, "backing"), filepath.Join(root, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("raftlogtest: %v", err)
		}
	}
	profile, err := lazyfs.ProfileFromEnv()
	if err != nil {
		t.Fatalf("raftlogtest: %v", err)
	}
	f, err := lazyfs.Mount(backing, mnt, lazyfs.Options{Profile: profile})
	if err != nil {
		t.Fatalf("raftlogtest: mount lazyfs: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("raftlogtest: unmount lazyfs: %v", err)
			_ = f.ForceUnmount()
		}
		if t.Failed() {
			t.Logf("raftlogtest: the lazyfs mount ran under the %s profile (%s)", profile, lazyfs.EnvProfile)
		}
		if t.Failed() && s.keep {
			t.Logf("raftlogtest: kept the durable files of engine %s (the lazyfs backing directory) in %s", s.h.Name, backing)
			return
		}
		_ = os.RemoveAll(root)
	})
	return f
}

// remoteSuite is s with an Open that starts a child serving the engine.
func (s *suite) remoteSuite(t testing.TB) *suite {
	h := s.h
	h.Open = func(o raftlog.Options) (raftlog.Engine, error) {
		r, err := startRemote(t, s.test, s.h.Name, o.Dir)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	return &suite{h: h, keep: s.keep, test: s.test}
}

// powerLossMounted is the power_loss case on lazyfs: for each seed and
// share kept, a fresh mount, the script run in a child, SIGKILL, a power
// loss of the mount, and the same checks after a restart as on the
// in-memory file system.
func powerLossMounted(t testing.TB, s *suite) {
	rs := s.remoteSuite(t)
	for seed := uint64(1); seed <= 7 && !t.Failed(); seed++ {
		for _, pct := range crashPercents {
			f := s.mountT(t)
			dir := filepath.Join(f.Mountpoint(), "db")
			in := rs.openOn(t, nil, dir)
			caps := in.caps()
			script := makeScript(seed, 24, false)
			if seed == 7 {
				script = resetScript()
			}
			steps := withTail(script, seed, caps.SyncOnWrite)
			h := newHistory(steps)
			for k, st := range steps {
				if err := st.run(in.e); err != nil {
					t.Fatalf("seed %d: step %d (%s): %v", seed, k, st, err)
				}
			}
			in.e.(*remote).kill()
			in.closed = true
			when := fmt.Sprintf("seed %d: SIGKILL and power loss of the lazyfs mount keeping %d%% of unsynced data after %d steps", seed, pct, len(steps))
			if err := f.Crash(pct, seed*1000+uint64(pct)); err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			x := expectAt(steps, len(steps), caps.SyncOnWrite)
			cin := rs.openOn(t, nil, dir)
			if m, ok := verifyRecovered(t, cin.e, x, h, when); ok {
				continueAfter(t, cin, m, when)
			}
			cin.close()
		}
	}
}
