package adaptertest_test

import (
	"context"
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
