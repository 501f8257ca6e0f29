package jetstream_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/jetstream"
	"github.com/ordeal-dev/ordeal/faults/lazyfs"
	"github.com/ordeal-dev/ordeal/internal/casetest"
)

// childEnv names the engine and directory a re-run of the test binary
// serves as a child: "ENGINE DIR".
const childEnv = "ORDEAL_JETSTREAM_CHILD"

const (
	childBatch = 10 // records per batch the child writes
	childAcks  = 30 // batches acknowledged before the parent kills it
)

// TestChildProcess runs the engine in a child process that opens it
// through the adapter registry with a directory and parameters, as the
// campaign runner does, and kills it with SIGKILL while it writes; on a
// lazyfs mount, the kill is followed by a power loss that keeps nothing
// unsynced. The parent then reopens the engine and checks that every
// acknowledged batch is there. Where JetStream loses acknowledged writes
// the case is a known difference, with the reason.
func TestChildProcess(t *testing.T) {
	if v, ok := os.LookupEnv(childEnv); ok {
		engine, dir, _ := strings.Cut(v, " ")
		serveChild(t, engine, dir)
		return
	}
	var cases []casetest.Case[string]
	for _, fault := range []string{"kill", "power-loss"} {
		for _, engine := range []string{jetstream.StorageType, jetstream.SyncAlways} {
			cases = append(cases, casetest.Case[string]{Name: fault + "/" + engine, Run: func(t testing.TB, _ string) {
				killChild(t, engine, fault == "power-loss")
			}})
		}
	}
	casetest.RunKnown(t, cases, "", map[string]string{
		"power-loss/" + jetstream.StorageType: "sync_interval=2m: JetStream acknowledges a write once it is in the operating system's cache and fsyncs every two minutes; and the directories, as for " + jetstream.SyncAlways,
		"power-loss/" + jetstream.SyncAlways:  "JetStream fsyncs a block file before it acknowledges a write, but not the directories: it never fsyncs the parents of a new stream's directory (streams, $G, jetstream) and fsyncs msgs only in its background sync, so on a file system that keeps a new entry only once its directory is fsynced (lazyfs, strict POSIX) the power loss takes the whole stream; with every directory fsynced from outside after the first write, this case passes",
	})
}

// serveChild opens engine in dir through the registry, creates shard s,
// and writes batches to it, printing "ack OFFSET" for each acknowledged
// one, until it is killed.
func serveChild(t *testing.T, engine, dir string) {
	ctx := context.Background()
	a, err := adapter.Open(engine, adapter.Options{Dir: dir, Params: map[string]string{jetstream.ParamTimeout: "20s"}})
	if err != nil {
		t.Fatalf("child: open: %v", err)
	}
	if err := a.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatalf("child: create: %v", err)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		rs := make([]adapter.Record, childBatch)
		for j := range rs {
			rs[j] = childRecord(i*childBatch + j)
		}
		offs, err := a.BatchWrite(ctx, "s", rs)
		if err != nil {
			t.Fatalf("child: write: %v", err)
		}
		fmt.Fprintf(w, "ack %d\n", offs[0])
		if err := w.Flush(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
}

func childRecord(n int) adapter.Record {
	return adapter.Record{Key: "k" + strconv.Itoa(n%7), Timestamp: int64(n), Data: []byte("record-" + strconv.Itoa(n))}
}

// killChild runs the child on a directory (of a lazyfs mount if
// powerLoss), kills it after childAcks acknowledged batches, crashes the
// mount if powerLoss, and checks that the reopened engine serves every
// acknowledged batch.
func killChild(t testing.TB, engine string, powerLoss bool) {
	dir := filepath.Join(t.TempDir(), "js")
	var f *lazyfs.FS
	if powerLoss {
		if err := lazyfs.Available(); err != nil {
			t.Skipf("lazyfs cannot mount here: %v", err)
		}
		root := t.TempDir()
		b, m := filepath.Join(root, "backing"), filepath.Join(root, "mnt")
		for _, d := range []string{b, m} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if f, err = lazyfs.Mount(b, m, lazyfs.Options{}); err != nil {
			t.Fatalf("mount lazyfs: %v", err)
		}
		t.Cleanup(func() {
			if err := f.Unmount(); err != nil {
				_ = f.ForceUnmount()
			}
		})
		dir = filepath.Join(m, "js")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syncDir(m); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+engine+" "+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []uint64
	sc := bufio.NewScanner(out)
	for len(acked) < childAcks && sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			o, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			acked = append(acked, o)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if len(acked) < childAcks {
		t.Fatalf("the child acknowledged %d batches before it ended: %s", len(acked), stderr.String())
	}
	if powerLoss {
		if err := f.Crash(0, 1); err != nil {
			t.Fatalf("power loss: %v", err)
		}
	}
	ctx := context.Background()
	a, err := adapter.Open(engine, adapter.Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after the %s: %v", what(powerLoss), err)
	}
	defer a.Close()
	rs, err := a.ReadByOffset(ctx, "s", 0, 1<<20)
	if err != nil {
		t.Fatalf("after the %s: %v", what(powerLoss), err)
	}
	got := map[uint64]string{}
	for _, r := range rs {
		got[r.Offset] = string(r.Data)
	}
	for _, first := range acked {
		for o := first; o < first+childBatch; o++ {
			want := string(childRecord(int(o)).Data)
			if got[o] != want {
				t.Fatalf("after the %s: acknowledged record %d is %q, want %q (%d of %d acknowledged batches written, %d records read)",
					what(powerLoss), o, got[o], want, len(acked), len(acked), len(rs))
			}
		}
	}
}

func what(powerLoss bool) string {
	if powerLoss {
		return "kill and power loss"
	}
	return "kill"
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("sync %s", dir), err)
	}
	return nil
}
