package kvlogtest

import (
	"strconv"
	"sync"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/internal/kvlog"
)

// memHarness runs kvlog.Store over MemBackends, one MemData a directory.
func memHarness() Harness {
	var mu sync.Mutex
	dirs := map[string]*MemData{}
	data := func(dir string) *MemData {
		mu.Lock()
		defer mu.Unlock()
		d, ok := dirs[dir]
		if !ok {
			d = NewMemData()
			dirs[dir] = d
		}
		return d
	}
	return Harness{
		Name: "kvlog-memory",
		Open: func(o raftlog.Options) (raftlog.Engine, error) {
			syncOnWrite, err := strconv.ParseBool(o.Params["sync"])
			if err != nil {
				syncOnWrite = true
			}
			return kvlog.Open(NewMemBackend(data(o.Dir)), kvlog.Config{
				Name:         "raftlog/kvlog-memory",
				Capabilities: raftlog.Capabilities{Persistent: true, SyncOnWrite: syncOnWrite},
			})
		},
		SyncParams: func(syncOnWrite bool) map[string]string {
			return map[string]string{"sync": strconv.FormatBool(syncOnWrite)}
		},
		NoParams: true,
		Damage:   func(t testing.TB, dir string, at Place, value []byte) { data(dir).Put(at, value) },
		// The backend keeps its data in this process's memory, so it lasts
		// across a reopen but not across the restart of a power loss, which
		// runs the engine in a child process, nor has it files to damage.
		KnownDifferences: map[string]string{
			"power_loss": "a test double that keeps its data in the memory of one process",
			"corruption": "a test double that keeps its data in the memory of one process, with no files to damage",
		},
	}
}

func TestRun(t *testing.T) { Run(t, memHarness()) }

func TestConformance(t *testing.T) { Conformance(t, memHarness()) }

func TestEntries(t *testing.T) {
	ents := Entries(3, 5, 2)
	if len(ents) != 3 || ents[0].Index != 3 || ents[2].Index != 5 || ents[1].Term != 2 || string(ents[1].Data) != "entry-4-2" || ents[1].Type != 1 {
		t.Fatalf("Entries(3, 5, 2) = %+v", ents)
	}
	if got := Entries(5, 4, 1); len(got) != 0 {
		t.Fatalf("Entries(5, 4, 1) = %+v, want none", got)
	}
}

func TestParamsName(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{nil, ""},
		{map[string]string{"sync": "true"}, "sync=true"},
		{map[string]string{"b": "2", "a": "1"}, "a=1,b=2"},
	} {
		if got := paramsName(tc.params); got != tc.want {
			t.Errorf("paramsName(%v) = %q, want %q", tc.params, got, tc.want)
		}
	}
}
