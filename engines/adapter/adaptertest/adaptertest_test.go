package adaptertest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/memory"
)

// lenient wraps the memory engine and succeeds where it should refuse:
// deleting a missing offset, and writing a record with a negative
// timestamp.
type lenient struct{ *memory.Engine }

func (l lenient) DeleteByOffset(ctx context.Context, shard string, o uint64) error {
	_ = l.Engine.DeleteByOffset(ctx, shard, o)
	return nil
}

func (l lenient) Write(ctx context.Context, shard string, r adapter.Record) (uint64, error) {
	r.Timestamp = max(r.Timestamp, 0)
	return l.Engine.Write(ctx, shard, r)
}

func harness(wrap func(*memory.Engine) adapter.StorageAdapter) adaptertest.Harness {
	return adaptertest.Harness{
		Name: "memory",
		Open: func(o adapter.Options) (adapter.StorageAdapter, error) {
			e, err := memory.Open(o)
			if err != nil {
				return nil, err
			}
			return wrap(e), nil
		},
	}
}

func TestFailuresReportsBrokenEngine(t *testing.T) {
	fails := adaptertest.Failures(harness(func(e *memory.Engine) adapter.StorageAdapter { return lenient{e} }))
	for _, c := range []string{"delete/missing", "shards/invalid"} {
		if _, ok := fails[c]; !ok {
			t.Errorf("case %s did not fail on a lenient engine; failures: %v", c, fails)
		}
	}
}

func TestFailuresPassesReferenceEngine(t *testing.T) {
	fails := adaptertest.Failures(harness(func(e *memory.Engine) adapter.StorageAdapter { return e }))
	if len(fails) != 0 {
		t.Fatalf("the reference engine fails: %v", fails)
	}
}

func TestCasesAreNamedUniquely(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range adaptertest.Cases() {
		if c.Name == "" || seen[c.Name] || c.Run == nil {
			t.Fatalf("bad or repeated case %q", c.Name)
		}
		seen[c.Name] = true
	}
}

// TestKnownDifferences lists every case the lenient engine fails as a
// known difference: Run then passes, the listed cases failing as expected.
func TestKnownDifferences(t *testing.T) {
	h := harness(func(e *memory.Engine) adapter.StorageAdapter { return lenient{e} })
	fails := adaptertest.Failures(h)
	if len(fails) == 0 {
		t.Fatal("the lenient engine fails no case")
	}
	h.KnownDifferences = map[string]string{}
	for name, msg := range fails {
		h.KnownDifferences[name] = "lenient about missing records and bad timestamps: " + msg
	}
	adaptertest.Run(t, h)
}

// TestRealDir runs the suite with Harness.RealDir on an engine that
// insists on a nil FS and an existing directory of the real file system,
// as an engine writing through the operating system does.
func TestRealDir(t *testing.T) {
	h := harness(func(e *memory.Engine) adapter.StorageAdapter { return e })
	open := h.Open
	h.Open = func(o adapter.Options) (adapter.StorageAdapter, error) {
		if o.FS != nil {
			return nil, fmt.Errorf("%w: got FS %T, want nil", adapter.ErrBadOption, o.FS)
		}
		if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() || !filepath.IsAbs(o.Dir) {
			return nil, fmt.Errorf("%w: dir %q is not a directory of the real file system: %v", adapter.ErrBadOption, o.Dir, err)
		}
		return open(o)
	}
	h.RealDir = true
	adaptertest.Run(t, h)
}
