package jetstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/internal/casetest"
)

// TestBlockDamage flips one byte in the middle of a stream's block file,
// of 100 acknowledged records, and reopens the engine. The contract: Open
// or the read fails with adapter.ErrCorrupt, or every record comes back
// intact; never fewer records and no error. JetStream recovers a damaged
// record in the middle of a block as it would a torn tail: it cuts the
// stream there, silently, and the next write reuses the cut offsets. The
// cases are known differences, with the reason.
func TestBlockDamage(t *testing.T) {
	cases := []casetest.Case[bool]{
		{Name: "index-kept", Run: func(t testing.TB, _ bool) { blockDamage(t, false) }},
		{Name: "index-rebuilt", Run: func(t testing.TB, _ bool) { blockDamage(t, true) }},
	}
	casetest.RunKnown(t, cases, false, map[string]string{
		"index-kept":    "the server logs a warning (indexCacheBuf corrupt record state), keeps the records before the damage, drops the rest and moves the last sequence back to the damage",
		"index-rebuilt": "with the stream's index.db gone, as after a crash before it was written, the server cuts the stream at the damage without logging anything",
	})
}

func blockDamage(t testing.TB, removeIndex bool) {
	const n = 100
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := e.Write(ctx, "s", adapter.Record{Data: fmt.Appendf(nil, "record-%03d-%0100d", i, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := filepath.Join(e.streamsDir(), streamName("s"), "msgs")
	blk := filepath.Join(msgs, "1.blk")
	b, err := os.ReadFile(blk)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(blk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if removeIndex {
		if err := os.Remove(filepath.Join(msgs, "index.db")); err != nil {
			t.Fatal(err)
		}
	}
	e, err = Open(adapter.Options{Dir: dir})
	if errors.Is(err, adapter.ErrCorrupt) {
		return
	}
	if err != nil {
		t.Fatalf("open after damage: %v, want nil or ErrCorrupt", err)
	}
	defer e.Close()
	rs, err := e.ReadByOffset(ctx, "s", 0, 2*n)
	if errors.Is(err, adapter.ErrCorrupt) {
		return
	}
	if err != nil {
		t.Fatalf("read after damage: %v, want nil or ErrCorrupt", err)
	}
	if len(rs) != n {
		next, err := e.Write(ctx, "s", adapter.Record{Data: []byte("after")})
		t.Fatalf("after one damaged byte: %d of %d acknowledged records served, no error; the next write got offset %d (%v); %s", len(rs), n, next, err, e.log.summary())
	}
}
