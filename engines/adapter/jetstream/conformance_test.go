package jetstream_test

import (
	"fmt"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/adapter"
	"github.com/ordeal-dev/ordeal/engines/adapter/adaptertest"
	"github.com/ordeal-dev/ordeal/engines/adapter/jetstream"
)

// knownDifferences are the suite's cases JetStream with its default limits
// fails, with the reason.
var knownDifferences = map[string]string{
	"crash/corruption": corruptionDifference,
	"write/large": fmt.Sprintf("JetStream refuses a message over its max_payload (%d bytes by default) and an atomic batch of more than limits.max_batch_size messages (%d by default); the engine returns adapter.ErrInvalidArgument for both, and the parameters max_payload and max_batch raise them",
		jetstream.DefaultMaxPayload, jetstream.DefaultMaxBatch),
}

// corruptionDifference is what the corruption case finds in JetStream's
// file store (nats-server v2), closed cleanly then damaged: a message block
// cut short, deleted, or with a byte flipped or a block zeroed, opens
// without an error, with records gone from the middle of a shard or its
// end, deleted records back and the next sequence moved back, so that
// offsets would be handed out again. The index and metadata files it
// rebuilds or ignores. The corruption table (internal/corrupttable) has
// the counts.
const corruptionDifference = "JetStream's file store reads a damaged, cut or deleted message block as fewer messages, without an error: records vanish, deleted ones come back, the next sequence moves back"

func harness(name string, params map[string]string, known map[string]string) adaptertest.Harness {
	return adaptertest.Harness{
		Name:             name,
		Open:             func(o adapter.Options) (adapter.StorageAdapter, error) { return jetstream.OpenAs(name, o) },
		StorageTypes:     []string{name},
		Params:           params,
		RealDir:          true,
		KnownDifferences: known,
		MetaFiles:        "meta.inf|meta.sum|index.db",
	}
}

// TestConformance runs the suite on JetStream with its defaults.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, harness(jetstream.StorageType, nil, knownDifferences))
}

// TestConformanceSyncAlways runs the suite on JetStream's strictest sync
// setting with the message and batch limits raised past what the suite
// writes: no case then fails but the corruption case.
func TestConformanceSyncAlways(t *testing.T) {
	adaptertest.Run(t, harness(jetstream.SyncAlways, map[string]string{
		jetstream.ParamMaxPayload: "4194304",
		jetstream.ParamMaxBatch:   "2000",
	}, map[string]string{"crash/corruption": corruptionDifference}))
}
