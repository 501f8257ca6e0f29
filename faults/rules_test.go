package faults

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"
)

func TestParseRoundTrip(t *testing.T) {
	cases := []struct {
		in, want string // want "" means in is canonical
	}{
		{in: "none"},
		{in: "sync-eio"},
		{in: "sync-eio(p=0.01,seed=7)"},
		{in: "read-eio(path=*.log,p=0.1,seed=3)"},
		{in: "write-enospc(after=1MiB)"},
		{in: "write-enospc(after=1536)"},
		{in: "write-enospc(after=0)"},
		{in: "read-eio(after=4KiB)"},
		{in: "sync-eio(index=2)"},
		{in: "create-erofs(path=/db/*,index=0)"},
		{in: "write-eio(p=0)"},
		{in: "latency(op=sync,d=5ms)"},
		{in: "latency(d=100µs)"},
		{in: "latency(op=write,path=*.sst,d=1ms,p=0.5,seed=9)"},
		{in: "trigger(sync,EIO)"},
		{in: "trigger(write,ENOSPC)"},
		{in: "any(sync-eio(p=0.01,seed=7),latency(op=sync,d=5ms))"},
		{in: "any(any(read-eio),trigger(sync,EIO))"},
		{in: "any()"},
		{in: "all-eio(p=0.001,seed=1)"},
		{in: "sync-errno200"},
		{in: "sync-eio(after=0)"},
		{in: "trigger(all,EIO)"},
		{in: "latency(op=all,d=1ms)", want: "latency(d=1ms)"},
		{in: " sync-eio ", want: "sync-eio"},
		{in: "SYNC-EIO", want: "sync-eio"},
		{in: "sync-eio(p=1)", want: "sync-eio"},
		{in: "sync-eio(seed=7,p=0.01)", want: "sync-eio(p=0.01,seed=7)"},
		{in: "write-enospc(after=1048576)", want: "write-enospc(after=1MiB)"},
		{in: "write-enospc(after=2048B)", want: "write-enospc(after=2KiB)"},
		{in: "latency(d=5ms,op=sync)", want: "latency(op=sync,d=5ms)"},
		{in: "latency(d=0.5s)", want: "latency(d=500ms)"},
		{in: "any( sync-eio , read-eio )", want: "any(sync-eio,read-eio)"},
		{in: "trigger(SYNC,eio)", want: "trigger(sync,EIO)"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = tc.in
			}
			inj, err := Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, want, inj.String())
			again, err := Parse(inj.String())
			require.NoError(t, err)
			require.Equal(t, want, again.String())
		})
	}
}

func TestConstructorsPrint(t *testing.T) {
	glob := func(r *Rule, err error) Injector {
		t.Helper()
		require.NoError(t, err)
		return r
	}
	lat := func(l *Latency, err error) Injector {
		t.Helper()
		require.NoError(t, err)
		return l
	}
	cases := []struct {
		inj  Injector
		want string
	}{
		{SyncEIO(0.01, 7), "sync-eio(p=0.01,seed=7)"},
		{glob(ReadEIO(0.1, 3).OnPath("*.log")), "read-eio(path=*.log,p=0.1,seed=3)"},
		{WriteEIO(1, 5), "write-eio"},
		{DiskFull(1 << 20), "write-enospc(after=1MiB)"},
		{OnIndex(OpSync, syscall.EIO, 3), "sync-eio(index=3)"},
		{OnIndex(OpSync, syscall.EIO, -3), "sync-eio(index=0)"},
		{Errors(OpRename, syscall.EACCES), "rename-eacces"},
		{RandomErrors(OpSync, syscall.EIO, 7, 1), "sync-eio"},
		{NewLatency(OpSync, 5*time.Millisecond), "latency(op=sync,d=5ms)"},
		{lat(NewLatency(0, time.Second).OnPath("MANIFEST-*")), "latency(path=MANIFEST-*,d=1s)"},
		{NewTrigger(OpSync, syscall.EIO), "trigger(sync,EIO)"},
		{Any(SyncEIO(0.5, 1), nil, NewLatency(OpRead, time.Millisecond)), "any(sync-eio(p=0.5,seed=1),latency(op=read,d=1ms))"},
		{None, "none"},
		{RandomErrors(0, syscall.EIO, 0.25, 4), "all-eio(p=0.25,seed=4)"},
		{NewTrigger(0, syscall.Errno(200)), "trigger(all,errno200)"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.inj.String())
		back, err := Parse(tc.want)
		require.NoError(t, err)
		require.Equal(t, tc.want, back.String())
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in, problem string
	}{
		{"", "is not an injector"},
		{"bogus", "unknown injector"},
		{"fsync-eio", "unknown operation kind"},
		{"sync-enope", "unknown errno"},
		{"sync-eio(p=2,seed=1)", "p must be a probability"},
		{"sync-eio(p=x,seed=1)", "p must be a probability"},
		{"sync-eio(p=0.5)", "needs a seed"},
		{"sync-eio(seed=3)", "seed is used only"},
		{"sync-eio(p=0.5,seed=-1)", "seed must be an unsigned integer"},
		{"sync-eio(index=1,p=0.5,seed=2)", "exclude one another"},
		{"sync-eio(index=-1)", "index must be a count"},
		{"sync-eio(after=1MiB,p=0.5,seed=1)", "exclude one another"},
		{"all-errnox", "unknown errno"},
		{"write-enospc(after=1XB)", "bad size"},
		{"write-enospc(after=-5)", "bad size"},
		{"sync-eio(color=red)", `no argument "color"`},
		{"sync-eio(p=0.5,p=0.5,seed=1)", "given twice"},
		{"sync-eio(p)", "not key=value"},
		{"sync-eio(path=[)", "path pattern"},
		{"sync-eio(p=0.5,seed=1", "does not end with ')'"},
		{"any(sync-eio,)", "empty argument"},
		{"any(sync-eio))", "unbalanced"},
		{"any(read-eio,bogus)", "unknown injector"},
		{"trigger(sync)", "trigger takes"},
		{"trigger(fsync,EIO)", "unknown operation kind"},
		{"latency(op=sync)", "needs a duration"},
		{"latency(d=soon)", "must be a duration"},
		{"latency(d=-1s)", "must be a duration"},
		{"latency(op=flush,d=1s)", "unknown operation kind"},
		{"none(x=1)", "no arguments"},
		{"(p=1)", "missing injector name"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			require.ErrorIs(t, err, ErrSyntax)
			require.ErrorContains(t, err, tc.problem)
		})
	}
}

func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		text string
	}{{0, "0"}, {1, "1"}, {1024, "1KiB"}, {1536, "1536"}, {3 << 20, "3MiB"}, {1 << 30, "1GiB"}, {5 << 40, "5TiB"}} {
		require.Equal(t, tc.text, FormatSize(tc.n))
		n, err := ParseSize(tc.text)
		require.NoError(t, err)
		require.Equal(t, tc.n, n)
	}
	_, err := ParseSize("9999999TiB")
	require.ErrorIs(t, err, ErrSyntax)
	_, err = ParseSize("+5")
	require.ErrorIs(t, err, ErrSyntax)
}

// decisions returns which of n sync operations inj fails.
func decisions(inj Injector, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = inj.MaybeError(Op{Kind: OpSync, Path: "f"}) != nil
	}
	return out
}

func TestRandomErrorsAreSeeded(t *testing.T) {
	a := decisions(SyncEIO(0.3, 42), 500)
	require.Equal(t, a, decisions(SyncEIO(0.3, 42), 500), "one seed, one sequence")
	require.NotEqual(t, a, decisions(SyncEIO(0.3, 43), 500), "another seed, another sequence")
	fails := 0
	for _, f := range a {
		if f {
			fails++
		}
	}
	require.InDelta(t, 150, fails, 60, "about p of the operations fail")
	require.Equal(t, make([]bool, 100), decisions(SyncEIO(0, 1), 100))
	parsed, err := Parse("sync-eio(p=0.3,seed=42)")
	require.NoError(t, err)
	require.Equal(t, a, decisions(parsed, 500), "the text form replays the decisions")
}

func TestAllKinds(t *testing.T) {
	r := Errors(0, syscall.EIO)
	trig := NewTrigger(0, syscall.EIO)
	trig.Arm(len(OpKinds()))
	for _, k := range OpKinds() {
		require.True(t, r.MayFail(k))
		require.True(t, trig.MayFail(k))
		require.ErrorIs(t, r.MaybeError(Op{Kind: k}), syscall.EIO, "%s", k)
		require.ErrorIs(t, trig.MaybeError(Op{Kind: k}), syscall.EIO, "%s", k)
	}
	require.False(t, Errors(OpRead, syscall.EIO).MayFail(OpSync))
	require.False(t, RandomErrors(OpSync, syscall.EIO, 0, 1).MayFail(OpSync))
}

func TestOnIndex(t *testing.T) {
	got := decisions(OnIndex(OpSync, syscall.EIO, 2), 5)
	require.Equal(t, []bool{false, false, true, false, false}, got)
	r := OnIndex(OpSync, syscall.EIO, 0)
	require.NoError(t, r.MaybeError(Op{Kind: OpWrite}), "other kinds do not count")
	require.Error(t, r.MaybeError(Op{Kind: OpSync}))
}

func TestPathFilter(t *testing.T) {
	r, err := Errors(OpRead, syscall.EIO).OnPath("*.log")
	require.NoError(t, err)
	require.Error(t, r.MaybeError(Op{Kind: OpRead, Path: "/db/000001.log"}))
	require.Error(t, r.MaybeError(Op{Kind: OpRead, Path: "x.log"}))
	require.NoError(t, r.MaybeError(Op{Kind: OpRead, Path: "/db/000001.sst"}))
	r, err = Errors(OpRead, syscall.EIO).OnPath("/db/*")
	require.NoError(t, err)
	require.Error(t, r.MaybeError(Op{Kind: OpRead, Path: "/db/a"}))
	require.NoError(t, r.MaybeError(Op{Kind: OpRead, Path: "/other/a"}))
	for _, bad := range []string{"", "a,b", "[", "a b", "f(x)"} {
		_, err := Errors(OpRead, syscall.EIO).OnPath(bad)
		require.ErrorIs(t, err, ErrBadArgument, "%q", bad)
		_, err = NewLatency(OpRead, 0).OnPath(bad)
		require.ErrorIs(t, err, ErrBadArgument, "%q", bad)
	}
}

func TestDiskFull(t *testing.T) {
	for _, inj := range []Injector{DiskFull(10), Any(DiskFull(10), NewTrigger(OpSync, syscall.EIO))} {
		t.Run(inj.String(), func(t *testing.T) {
			disk := NewDisk(inj)
			fs := disk.FS()
			f, err := fs.Create("f", vfs.WriteCategoryUnspecified)
			require.NoError(t, err)
			_, err = f.Write([]byte("123456"))
			require.NoError(t, err)
			n, err := f.Write([]byte("7890abc"))
			require.Equal(t, 4, n, "the write that crosses the limit writes what fits")
			require.ErrorIs(t, err, syscall.ENOSPC)
			require.ErrorIs(t, err, ErrInjected)
			var ie *InjectedError
			require.True(t, errors.As(err, &ie))
			require.Equal(t, OpWrite, ie.Op.Kind)
			require.Equal(t, int64(6), ie.Op.Offset)
			require.Equal(t, 7, ie.Op.Len)
			require.Equal(t, 4, ie.Done)
			require.Equal(t, "write-enospc(after=10)", ie.By)
			n, err = f.Write([]byte("x"))
			require.Zero(t, n)
			require.ErrorIs(t, err, syscall.ENOSPC, "the disk stays full")
			n, err = f.WriteAt([]byte("x"), 0)
			require.Zero(t, n)
			require.ErrorIs(t, err, syscall.ENOSPC)
			n, err = f.Write(nil)
			require.NoError(t, err, "an empty write needs no room")
			require.Zero(t, n)
			require.NoError(t, f.Sync())
			require.NoError(t, f.Close())
			requireContent(t, "1234567890", readFile(t, fs, "f"))
		})
	}
}

func TestShortRead(t *testing.T) {
	mem := vfs.NewMem()
	writeFileWith(t, mem, "f", "0123456789", true, true)
	fs := Wrap(mem, AfterBytes(OpRead, syscall.EIO, 4))
	f, err := fs.Open("f")
	require.NoError(t, err)
	buf := make([]byte, 3)
	n, err := f.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "012", string(buf[:n]))
	n, err = f.Read(buf)
	require.ErrorIs(t, err, syscall.EIO)
	require.Equal(t, "3", string(buf[:n]), "the read that crosses the budget returns what fits")
	n, err = f.ReadAt(buf, 0)
	require.ErrorIs(t, err, syscall.EIO)
	require.Zero(t, n)
	require.NoError(t, f.Close())
}

func TestReadEIO(t *testing.T) {
	mem := vfs.NewMem()
	writeFileWith(t, mem, "a.log", "log data", true, true)
	writeFileWith(t, mem, "a.sst", "sst data", true, true)
	r, err := ReadEIO(1, 0).OnPath("*.log")
	require.NoError(t, err)
	fs := Wrap(mem, r)
	f, err := fs.Open("a.log")
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = f.Read(buf)
	require.ErrorIs(t, err, syscall.EIO)
	_, err = f.ReadAt(buf, 2)
	require.ErrorIs(t, err, syscall.EIO)
	require.NoError(t, f.Close())
	requireContent(t, "sst data", readFile(t, fs, "a.sst"))
}

func TestOtherKindsFail(t *testing.T) {
	cases := []struct {
		kind OpKind
		do   func(fs vfs.FS) error
	}{
		{OpCreate, func(fs vfs.FS) error { _, err := fs.Create("n", vfs.WriteCategoryUnspecified); return err }},
		{OpCreate, func(fs vfs.FS) error { _, err := fs.ReuseForWrite("a", "n", vfs.WriteCategoryUnspecified); return err }},
		{OpOpen, func(fs vfs.FS) error { _, err := fs.Open("a"); return err }},
		{OpOpen, func(fs vfs.FS) error { _, err := fs.OpenReadWrite("a", vfs.WriteCategoryUnspecified); return err }},
		{OpOpen, func(fs vfs.FS) error { _, err := fs.OpenDir(""); return err }},
		{OpRemove, func(fs vfs.FS) error { return fs.Remove("a") }},
		{OpRemove, func(fs vfs.FS) error { return fs.RemoveAll("d") }},
		{OpRename, func(fs vfs.FS) error { return fs.Rename("a", "b") }},
		{OpLink, func(fs vfs.FS) error { return fs.Link("a", "b") }},
		{OpMkdir, func(fs vfs.FS) error { return fs.MkdirAll("d/e", 0o755) }},
		{OpList, func(fs vfs.FS) error { _, err := fs.List(""); return err }},
		{OpStat, func(fs vfs.FS) error { _, err := fs.Stat("a"); return err }},
		{OpLock, func(fs vfs.FS) error { _, err := fs.Lock("LOCK"); return err }},
		{OpStat, func(fs vfs.FS) error { return withFile(fs, func(f vfs.File) error { _, err := f.Stat(); return err }) }},
		{OpPreallocate, func(fs vfs.FS) error { return withFile(fs, func(f vfs.File) error { return f.Preallocate(0, 10) }) }},
		{OpSync, func(fs vfs.FS) error { return withFile(fs, vfs.File.SyncData) }},
		{OpSync, func(fs vfs.FS) error {
			return withFile(fs, func(f vfs.File) error { _, err := f.SyncTo(1); return err })
		}},
	}
	for i, tc := range cases {
		for _, holding := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d-%s/holding=%v", i, tc.kind, holding), func(t *testing.T) {
				mem := vfs.NewCrashableMem()
				writeFileWith(t, mem, "a", "data", true, true)
				trig := NewTrigger(tc.kind, syscall.EROFS)
				var inj Injector = trig
				if holding {
					inj = Any(trig, NewTrigger(OpSync, syscall.EIO))
				}
				fs := Wrap(mem, inj)
				require.Equal(t, holding || tc.kind == OpSync, fs.Holding())
				trig.Arm(1)
				err := tc.do(fs)
				require.ErrorIs(t, err, syscall.EROFS)
				require.ErrorIs(t, err, ErrInjected)
				require.Equal(t, 1, trig.Fired())
				require.Equal(t, 0, trig.Armed())
			})
		}
	}
}

func withFile(fs vfs.FS, do func(vfs.File) error) error {
	f, err := fs.OpenReadWrite("a", vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer f.Close()
	return do(f)
}

func TestTrigger(t *testing.T) {
	trig := NewTrigger(OpWrite, syscall.ENOSPC)
	require.NoError(t, trig.MaybeError(Op{Kind: OpWrite}), "disarmed")
	trig.Arm(2)
	require.NoError(t, trig.MaybeError(Op{Kind: OpSync}), "other kinds pass")
	require.ErrorIs(t, trig.MaybeError(Op{Kind: OpWrite}), syscall.ENOSPC)
	require.ErrorIs(t, trig.MaybeError(Op{Kind: OpWrite}), syscall.ENOSPC)
	require.NoError(t, trig.MaybeError(Op{Kind: OpWrite}))
	require.Equal(t, 2, trig.Fired())
	trig.Arm(5)
	trig.Disarm()
	require.NoError(t, trig.MaybeError(Op{Kind: OpWrite}))
	require.Equal(t, 2, trig.Fired())
}

func TestLatency(t *testing.T) {
	const d = 20 * time.Millisecond
	fs := Wrap(vfs.NewMem(), NewLatency(OpSync, d))
	require.False(t, fs.Holding())
	f, err := fs.Create("f", vfs.WriteCategoryUnspecified)
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, f.Sync())
	require.GreaterOrEqual(t, time.Since(start), d, "the sync waits at least d")
	require.NoError(t, f.Close())

	// Only the operations drawn are delayed, and the draw is seeded.
	count := func(seed uint64) []int {
		l := RandomLatency(OpSync, time.Hour, 0.5, seed)
		var slept []int
		for i := range 64 {
			l.sleep = func(got time.Duration) {
				require.Equal(t, time.Hour, got)
				slept = append(slept, i)
			}
			require.NoError(t, l.MaybeError(Op{Kind: OpSync}))
			require.NoError(t, l.MaybeError(Op{Kind: OpRead}), "other kinds are not delayed")
		}
		return slept
	}
	a := count(5)
	require.NotEmpty(t, a)
	require.Less(t, len(a), 64)
	require.Equal(t, a, count(5))
}

func TestAnyShowsEveryOperationToEveryInjector(t *testing.T) {
	a := NewTrigger(OpSync, syscall.EIO)
	b := NewTrigger(OpSync, syscall.ENOSPC)
	inj := Any(a, b)
	a.Arm(1)
	b.Arm(1)
	err := inj.MaybeError(Op{Kind: OpSync})
	require.ErrorIs(t, err, syscall.EIO, "the first error wins")
	require.Equal(t, 1, b.Fired(), "the second saw the operation too")
	require.NoError(t, inj.MaybeError(Op{Kind: OpSync}))
	require.True(t, mayFail(inj, OpSync))
	require.False(t, mayFail(inj, OpRead))
	require.False(t, mayFail(Any(NewLatency(OpSync, time.Millisecond)), OpSync))
	require.True(t, mayFail(customInjector{}, OpSync), "an injector that does not say may fail anything")
	require.False(t, mayFail(nil, OpSync))
}

type customInjector struct{}

func (customInjector) String() string      { return "custom" }
func (customInjector) MaybeError(Op) error { return nil }

// TestConcurrentUse runs writers, readers and syncers on shared files under
// shared injectors; run it with -race.
func TestConcurrentUse(t *testing.T) {
	inj := Any(SyncEIO(0.2, 1), ReadEIO(0.05, 2), WriteEIO(0.05, 3), NewTrigger(OpStat, syscall.EIO), DiskFull(1<<30))
	disk := NewDisk(inj)
	fs := disk.FS()
	require.True(t, fs.Holding())
	const files, workers = 4, 4
	handles := make([]vfs.File, files)
	for i := range handles {
		f, err := fs.Create(fmt.Sprintf("f%d", i), vfs.WriteCategoryUnspecified)
		require.NoError(t, err)
		handles[i] = f
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // one writer per handle at a time, as vfs.File asks
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			for i := range 200 {
				f := handles[(w+i)%files]
				switch i % 4 {
				case 0:
					mu.Lock()
					_, _ = f.Write(buf)
					mu.Unlock()
				case 1:
					mu.Lock()
					_ = f.Sync()
					mu.Unlock()
				case 2:
					_, err := f.ReadAt(buf, int64(i))
					if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, ErrInjected) {
						t.Errorf("read: %v", err)
					}
				case 3:
					if _, err := fs.Stat(fmt.Sprintf("f%d", i%files)); err != nil {
						t.Errorf("stat: %v", err)
					}
					_ = fs.Unsynced()
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range handles {
		require.NoError(t, f.Close())
	}
	_, err := disk.PowerLoss(1, 50, nil)
	require.NoError(t, err)
}
