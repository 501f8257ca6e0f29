package hashiraft

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

func TestStableStoreMissingKeys(t *testing.T) {
	s := NewStableStore(newMemory(t))
	for _, key := range []string{KeyCurrentTerm, KeyLastVoteTerm} {
		v, err := s.GetUint64([]byte(key))
		// raft compares the message, not the value.
		if err == nil || err.Error() != "not found" || v != 0 {
			t.Errorf("GetUint64(%s) on a fresh store: got %d, %v; want 0, \"not found\"", key, v, err)
		}
	}
	v, err := s.Get([]byte(KeyLastVoteCand))
	if err != ErrKeyNotFound || v != nil {
		t.Errorf("Get(LastVoteCand) on a fresh store: got %q, %v", v, err)
	}
	if err := s.SetUint64([]byte(KeyCurrentTerm), 4); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte(KeyLastVoteCand)); err != ErrKeyNotFound || v != nil {
		t.Errorf("Get(LastVoteCand) with no vote: got %q, %v", v, err)
	}
	if v, err := s.GetUint64([]byte(KeyLastVoteTerm)); err != nil || v != 0 {
		t.Errorf("GetUint64(LastVoteTerm) with no vote: got %d, %v", v, err)
	}
}

func TestStableStoreMapsHardState(t *testing.T) {
	e := newMemory(t)
	if err := e.SaveHardState(raftlog.HardState{Commit: 99}); err != nil {
		t.Fatal(err)
	}
	s := NewStableStore(e)
	steps := []struct {
		name string
		do   func() error
		want raftlog.HardState
	}{
		{"current term", func() error { return s.SetUint64([]byte(KeyCurrentTerm), 7) },
			raftlog.HardState{Term: 7, Commit: 99}},
		{"vote term", func() error { return s.SetUint64([]byte(KeyLastVoteTerm), 6) },
			raftlog.HardState{Term: 7, Vote: raftlog.Vote{Term: 6}, Commit: 99}},
		{"vote candidate", func() error { return s.Set([]byte(KeyLastVoteCand), []byte("node-2")) },
			raftlog.HardState{Term: 7, Vote: raftlog.Vote{Term: 6, Candidate: "node-2"}, Commit: 99}},
		{"current term as 8 bytes", func() error { return s.Set([]byte(KeyCurrentTerm), []byte{0, 0, 0, 0, 0, 0, 1, 0}) },
			raftlog.HardState{Term: 256, Vote: raftlog.Vote{Term: 6, Candidate: "node-2"}, Commit: 99}},
		{"clear candidate", func() error { return s.Set([]byte(KeyLastVoteCand), nil) },
			raftlog.HardState{Term: 256, Vote: raftlog.Vote{Term: 6}, Commit: 99}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		hs, ok, err := e.LoadHardState()
		if err != nil || !ok || hs != st.want {
			t.Fatalf("%s: hard state %+v (%v, %v), want %+v", st.name, hs, ok, err, st.want)
		}
	}
	if v, err := s.Get([]byte(KeyCurrentTerm)); err != nil || !bytes.Equal(v, []byte{0, 0, 0, 0, 0, 0, 1, 0}) {
		t.Fatalf("Get(CurrentTerm): got %v, %v", v, err)
	}
	if err := s.Set([]byte(KeyLastVoteCand), []byte("n3")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte(KeyLastVoteCand)); err != nil || string(v) != "n3" {
		t.Fatalf("Get(LastVoteCand): got %q, %v", v, err)
	}
	if v, err := s.GetUint64([]byte(KeyLastVoteTerm)); err != nil || v != 6 {
		t.Fatalf("GetUint64(LastVoteTerm): got %d, %v", v, err)
	}
}

func TestStableStoreRejectsKeys(t *testing.T) {
	s := NewStableStore(newMemory(t))
	cases := []struct {
		name string
		do   func() error
		want error
		key  string
	}{
		{"Set unknown", func() error { return s.Set([]byte("foo"), []byte("bar")) }, ErrUnknownKey, "foo"},
		{"Get unknown", func() error { _, err := s.Get([]byte("foo")); return err }, ErrUnknownKey, "foo"},
		{"SetUint64 unknown", func() error { return s.SetUint64([]byte{0x05}, 1) }, ErrUnknownKey, `\x05`},
		{"GetUint64 unknown", func() error { _, err := s.GetUint64([]byte("currentterm")); return err }, ErrUnknownKey, "currentterm"},
		{"SetUint64 on candidate", func() error { return s.SetUint64([]byte(KeyLastVoteCand), 1) }, ErrKeyType, KeyLastVoteCand},
		{"GetUint64 on candidate", func() error { _, err := s.GetUint64([]byte(KeyLastVoteCand)); return err }, ErrKeyType, KeyLastVoteCand},
		{"Set short uint64", func() error { return s.Set([]byte(KeyCurrentTerm), []byte{1}) }, ErrKeyType, KeyCurrentTerm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("got %v, want %v naming %s", err, tc.want, tc.key)
			}
		})
	}
}
