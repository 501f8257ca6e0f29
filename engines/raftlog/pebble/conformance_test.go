package pebble_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/pebble"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

func TestConformance(t *testing.T) {
	for _, syncOnWrite := range []string{"true", "false"} {
		t.Run("sync="+syncOnWrite, func(t *testing.T) {
			if syncOnWrite == "false" && testing.Short() {
				t.Skip("the sync=false variant is skipped in -short mode")
			}
			raftlogtest.Run(t, raftlogtest.Harness{
				Name: pebble.Name,
				Open: func(o raftlog.Options) (raftlog.Engine, error) {
					o.Params = map[string]string{"sync": syncOnWrite}
					return pebble.Open(o)
				},
			})
		})
	}
}
