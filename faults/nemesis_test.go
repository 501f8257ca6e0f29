package faults

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// diskFake is a DiskTarget whose "engine" is one file it writes and syncs.
type diskFake struct {
	disk    *Disk
	slot    *Slot
	reopens int
}

func newDiskFake() *diskFake {
	s := &Slot{}
	return &diskFake{disk: NewDisk(s), slot: s}
}

func (d *diskFake) Traits() Traits { return Traits{UsesFS: true, Persistent: true} }
func (d *diskFake) Disk() *Disk    { return d.disk }
func (d *diskFake) Slot() *Slot    { return d.slot }
func (d *diskFake) Reopen(_ context.Context, nd *Disk) error {
	d.disk = nd
	d.reopens++
	return nil
}

// write appends to a file and syncs it, as an engine's operation would.
func (d *diskFake) write(t *testing.T, name string) error {
	t.Helper()
	f, err := d.disk.FS().Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write([]byte(strings.Repeat("x", 100))); err != nil {
		return err
	}
	return f.Sync()
}

type procFake struct{ signals []syscall.Signal }

func (p *procFake) Traits() Traits                { return Traits{Process: true, Persistent: true} }
func (p *procFake) Signal(s syscall.Signal) error { p.signals = append(p.signals, s); return nil }
func (p *procFake) Respawn(context.Context) error { p.signals = append(p.signals, 0); return nil }
func quiet() *slog.Logger                         { return slog.New(slog.DiscardHandler) }
func rng(seed uint64) *rand.Rand                  { return rand.New(rand.NewPCG(seed, 1)) }
func mustNemesis(t *testing.T, name string) Nemesis {
	n, err := LookupNemesis(name)
	must(t, err)
	return n
}
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNemesisRegistry(t *testing.T) {
	var names []string
	for _, n := range Nemeses() {
		names = append(names, n.Name())
	}
	if got := strings.Join(names, ","); got != "crash,fsync,kill,partition,pause" {
		t.Errorf("nemeses %s", got)
	}
	if _, err := LookupNemesis("flood"); !errors.Is(err, ErrUnknownNemesis) {
		t.Errorf("LookupNemesis(flood) = %v, want ErrUnknownNemesis", err)
	}
}

func TestNemesisAvailability(t *testing.T) {
	disk, proc := newDiskFake(), &procFake{}
	tests := []struct {
		nemesis string
		target  Target
		ok      bool
	}{
		{"crash", disk, true}, {"fsync", disk, true}, {"kill", disk, false}, {"pause", disk, false},
		{"crash", proc, false}, {"fsync", proc, false}, {"kill", proc, true}, {"pause", proc, true},
	}
	for _, tt := range tests {
		err := mustNemesis(t, tt.nemesis).Available(tt.target)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrUnavailable)) {
			t.Errorf("%s on %T: %v, want ok=%v", tt.nemesis, tt.target, err, tt.ok)
		}
	}
}

// TestCrashNemesis checks both kinds of power loss: between operations
// (done at once) and inside one (the next writes fail, then the disk is
// reopened as it was at the crash).
func TestCrashNemesis(t *testing.T) {
	sawArmed, sawNow := false, false
	for seed := uint64(1); seed <= 20 && !(sawArmed && sawNow); seed++ {
		d := newDiskFake()
		must(t, d.disk.FS().MkdirAll("/db", 0o755))
		f, err := mustNemesis(t, "crash").Inject(context.Background(), quiet(), d, rng(seed))
		must(t, err)
		if f.Done() {
			sawNow = true
			if !f.Restarted || d.reopens != 1 {
				t.Errorf("seed %d: immediate crash: restarted %v, reopens %d", seed, f.Restarted, d.reopens)
			}
			continue
		}
		sawArmed = true
		var werr error
		for i := 0; i < 10 && !f.Done(); i++ {
			werr = d.write(t, "/db/f")
			_, err := f.Await(context.Background())
			must(t, err)
		}
		if !f.Done() || !f.Restarted || !f.CutLast || d.reopens != 1 {
			t.Fatalf("seed %d: armed crash did not strike: %+v", seed, f)
		}
		if !errors.Is(werr, ErrInjected) {
			t.Errorf("seed %d: the operation the crash struck returned %v, want an injected error", seed, werr)
		}
		must(t, d.disk.FS().MkdirAll("/db", 0o755)) // its entry was never synced
		must(t, d.write(t, "/db/g"))                // the new disk works
	}
	if !sawArmed || !sawNow {
		t.Errorf("20 seeds gave armed=%v immediate=%v crashes", sawArmed, sawNow)
	}
}

func TestFsyncNemesis(t *testing.T) {
	d := newDiskFake()
	must(t, d.disk.FS().MkdirAll("/db", 0o755))
	f, err := mustNemesis(t, "fsync").Inject(context.Background(), quiet(), d, rng(3))
	must(t, err)
	if err := d.write(t, "/db/a"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("first sync after the fault: %v, want EIO", err)
	}
	for i := 0; i < 10 && !f.Done(); i++ {
		_, err := f.Await(context.Background())
		must(t, err)
	}
	if !f.Done() || !f.Restarted || d.reopens != 1 {
		t.Fatalf("fsync fault did not end in a reopen: %+v", f)
	}
	must(t, d.write(t, "/db/b"))
}

func TestProcessNemeses(t *testing.T) {
	p := &procFake{}
	f, err := mustNemesis(t, "kill").Inject(context.Background(), quiet(), p, rng(1))
	must(t, err)
	if !f.Done() || !f.Restarted || len(p.signals) != 2 || p.signals[0] != syscall.SIGKILL {
		t.Errorf("kill: %+v, signals %v", f, p.signals)
	}
	p = &procFake{}
	f, err = mustNemesis(t, "pause").Inject(context.Background(), quiet(), p, rng(1))
	must(t, err)
	for i := 0; i < 10 && !f.Done(); i++ {
		_, err := f.Await(context.Background())
		must(t, err)
	}
	if f.Restarted || len(p.signals) != 2 || p.signals[0] != syscall.SIGSTOP || p.signals[1] != syscall.SIGCONT {
		t.Errorf("pause: %+v, signals %v", f, p.signals)
	}
}

func TestProcess(t *testing.T) {
	sh, err := os.Stat("/bin/cat")
	if err != nil || sh.IsDir() {
		t.Skip("no /bin/cat")
	}
	p, err := StartProcess([]string{"/bin/cat"})
	must(t, err)
	if _, err := p.Stdin().Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	line, err := p.Stdout().ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo: %q, %v", line, err)
	}
	must(t, p.Signal(syscall.SIGSTOP))
	must(t, p.Signal(syscall.SIGCONT))
	must(t, p.Kill(5*time.Second))
	if err := p.Signal(syscall.SIGCONT); !errors.Is(err, ErrProcess) {
		t.Errorf("signal after exit: %v, want ErrProcess", err)
	}
	if _, err := StartProcess(nil); !errors.Is(err, ErrProcess) {
		t.Errorf("StartProcess(nil): %v, want ErrProcess", err)
	}
}
