package raftlogtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/bbolt"
)

// bboltHarness is ordeal's bbolt engine, which writes around Options.FS:
// its power_loss case runs on lazyfs with the engine in a child process.
func bboltHarness(params map[string]string) Harness {
	return Harness{Name: "bbolt", Open: func(o raftlog.Options) (raftlog.Engine, error) {
		o.Params = params
		return bbolt.Open(o)
	}}
}

// TestPowerLossOnLazyfs runs the power_loss case on bbolt, which syncs
// every transaction: it must pass. The child process this test starts is
// this test again, which Run turns into the engine's server.
func TestPowerLossOnLazyfs(t *testing.T) {
	h := bboltHarness(nil)
	if serveChild(t, h) {
		t.SkipNow()
	}
	s := &suite{h: h, keep: true, test: t.Name()}
	if !s.mounted(t) {
		t.Fatal("bbolt declares UsesFS; want false")
	}
	powerLossMounted(t, s)
}

// TestPowerLossOnLazyfsCatches: bbolt with syncing off that declares
// SyncOnWrite loses acknowledged writes, or its file, at a power loss of
// the mount, and the case says so.
func TestPowerLossOnLazyfsCatches(t *testing.T) {
	h := Harness{Name: "bbolt-nosync-claims-sync", Open: func(o raftlog.Options) (raftlog.Engine, error) {
		o.Params = map[string]string{"nosync": "true"}
		e, err := bbolt.Open(o)
		if err != nil {
			return nil, err
		}
		return claimsSync{e}, nil
	}}
	if serveChild(t, h) {
		t.SkipNow()
	}
	s := &suite{h: h, keep: false, test: t.Name()}
	if !s.mounted(t) {
		t.Fatal("bbolt declares UsesFS; want false")
	}
	r := runRecorded(testCase{name: "power_loss", run: powerLossMounted}, s)
	if !r.failed {
		t.Fatal("power_loss on lazyfs passed bbolt with syncing off that claims SyncOnWrite")
	}
	t.Logf("caught: %s", firstLine(r.first))
}

// TestPowerLossOnLazyfsNeedsRun: under Failures, which has no test to
// re-run as a child, the case skips and says why.
func TestPowerLossOnLazyfsNeedsRun(t *testing.T) {
	r := runRecorded(testCase{name: "power_loss", run: casePowerLoss}, &suite{h: bboltHarness(nil)})
	if !r.skipped || !strings.Contains(r.skipMsg, "needs Run") {
		t.Fatalf("skipped %v (%q), failed %v (%q); want a skip naming Run", r.skipped, r.skipMsg, r.failed, r.first)
	}
}

// TestChildProtocolErrors: sentinel errors cross the child protocol.
func TestChildProtocolErrors(t *testing.T) {
	for code, s := range sentinels {
		var r childResponse
		encodeErr(&r, errors.Join(errors.New("context"), s))
		if r.Err != code || !errors.Is(decodeErr(r), s) {
			t.Errorf("%v: encoded as %q, decoded as %v", s, r.Err, decodeErr(r))
		}
	}
	if decodeErr(childResponse{}) != nil {
		t.Error("no error decoded as an error")
	}
}

// claimsSync declares SyncOnWrite whatever the engine does.
type claimsSync struct{ raftlog.Engine }

func (c claimsSync) Capabilities() raftlog.Capabilities {
	caps := c.Engine.Capabilities()
	caps.SyncOnWrite = true
	return caps
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
