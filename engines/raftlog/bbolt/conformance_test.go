package bbolt_test

import (
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

func TestConformance(t *testing.T) {
	for _, noSync := range []string{"false", "true"} {
		t.Run("nosync="+noSync, func(t *testing.T) {
			if noSync == "true" && testing.Short() {
				t.Skip("the nosync=true variant is skipped in -short mode")
			}
			raftlogtest.Run(t, raftlogtest.Harness{
				Name: bbolt.Name,
				Open: func(o raftlog.Options) (raftlog.Engine, error) {
					o.Params = map[string]string{"nosync": noSync}
					return bbolt.Open(o)
				},
			})
		})
	}
}
