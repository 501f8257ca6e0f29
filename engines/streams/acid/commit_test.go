package acid

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/internal/core"
)

// TestGroupCommitIsolatesFailures runs many appends through one shard's
// group commit, some refused by the rules and some failing in storage, and
// checks that every other append committed and each got its own result.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db, err := openShard(filepath.Join(t.TempDir(), "shard.db"), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := &backend{group: true, producers: map[string]map[string]core.ProducerState{}}
	b.shards = []*shard{{db: db}}
	errStorage := errors.New("disk on fire")
	refused := &streams.Error{Class: streams.ClassConflict, Kind: streams.ErrSeqGap}
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("s", i)
			errs[i] = b.Append(0, func(tx core.Tx) error {
				switch i % 8 {
				case 3:
					return refused
				case 5:
					if err := tx.PutMsg(name, streams.Start, []byte("torn")); err != nil {
						return err
					}
					return errStorage
				}
				if err := tx.PutMsg(name, streams.Start, []byte(name)); err != nil {
					return err
				}
				return tx.PutMeta(name, &core.Meta{Bytes: uint64(len(name))})
			})
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		name := fmt.Sprint("s", i)
		var m *core.Meta
		var msgs []streams.Message
		if err := b.View(0, func(tx core.Tx) error {
			var err error
			if m, err = tx.Meta(name); err != nil {
				return err
			}
			msgs, err = tx.Msgs(name, streams.Start, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		switch i % 8 {
		case 3:
			if !errors.Is(errs[i], streams.ErrSeqGap) || m != nil || len(msgs) != 0 {
				t.Errorf("%s: refused append returned %v, left meta %v and %d messages", name, errs[i], m, len(msgs))
			}
		case 5:
			if !errors.Is(errs[i], errStorage) || len(msgs) != 0 {
				t.Errorf("%s: failed append returned %v and left %d messages", name, errs[i], len(msgs))
			}
		default:
			if errs[i] != nil || m == nil || len(msgs) != 1 || string(msgs[0].Data) != name {
				t.Errorf("%s: append returned %v, meta %v, messages %v", name, errs[i], m, msgs)
			}
		}
	}
}
