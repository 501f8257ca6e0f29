package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

var lastHS = raftlog.HardState{Term: 3, Vote: raftlog.Vote{Term: 3, Candidate: "c"}, Commit: 500}

// closedLog writes 500 entries and two hard states, the last lastHS, and
// closes the engine cleanly.
func closedLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	e, err := Open(raftlog.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for lo := uint64(1); lo <= 500; lo += 50 {
		b := make([]raftlog.Entry, 50)
		for i := range b {
			b[i] = raftlog.Entry{Index: lo + uint64(i), Term: 2, Data: bytes.Repeat([]byte{byte(i)}, 100)}
		}
		if err := e.PersistEntries(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, hs := range []raftlog.HardState{{Term: 2, Vote: raftlog.Vote{Term: 2, Candidate: "b"}, Commit: 400}, lastHS} {
		if err := e.SaveHardState(hs); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// reopen opens dir and returns an error if the open fails, or if the log
// or the hard state is not what closedLog wrote.
func reopen(dir string) error {
	e, err := Open(raftlog.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer e.Close()
	if _, err := e.Entries(1, 500); err != nil {
		return err
	}
	hs, ok, err := e.LoadHardState()
	if err != nil {
		return err
	}
	if last := e.LastIndex(); last != 500 || !ok || hs != lastHS {
		return fmt.Errorf("silent: LastIndex %d, hard state %+v (%v); want 500 and %+v", last, hs, ok, lastHS)
	}
	return nil
}

func newest(t *testing.T, dir, prefix, suffix string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), suffix) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no %s*%s in %s", prefix, suffix, dir)
	}
	sort.Strings(names)
	return filepath.Join(dir, names[len(names)-1])
}

func flipAt(t *testing.T, path string, at func(b []byte) int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at(b)] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDamageAfterCleanClose: a flip in the last records of the newest
// write-ahead log read as a torn tail, and the node came back with an
// older hard state and a shorter log; a damaged OPTIONS file was an error
// of no kind. After a clean close the first is detected; both are
// raftlog.ErrCorrupt.
func TestDamageAfterCleanClose(t *testing.T) {
	for back := 2; back <= 120; back += 9 {
		dir := closedLog(t)
		flipAt(t, newest(t, dir, "", ".log"), func(b []byte) int { return len(bytes.TrimRight(b, "\x00")) - back })
		for attempt := 1; attempt <= 2; attempt++ {
			if err := reopen(dir); err != nil && !errors.Is(err, raftlog.ErrCorrupt) {
				t.Fatalf("byte %d from the end of the newest log flipped: open %d: %v; want ErrCorrupt or all of it", back, attempt, err)
			}
		}
	}
	dir := closedLog(t)
	flipAt(t, newest(t, dir, "OPTIONS-", ""), func(b []byte) int { return bytes.IndexByte(b, '=') })
	if err := reopen(dir); !errors.Is(err, raftlog.ErrCorrupt) {
		t.Fatalf("OPTIONS flipped: %v; want ErrCorrupt", err)
	}
}
