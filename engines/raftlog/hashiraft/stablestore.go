package hashiraft

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// The StableStore keys hashicorp/raft uses, and where each lives in the
// raftlog hard state.
const (
	KeyCurrentTerm  = "CurrentTerm"  // HardState.Term, a uint64
	KeyLastVoteTerm = "LastVoteTerm" // HardState.Vote.Term, a uint64
	KeyLastVoteCand = "LastVoteCand" // HardState.Vote.Candidate, bytes
)

// StableStore is a raft.StableStore over the MetaStore of a raftlog engine.
// It knows only the three keys raft uses (KeyCurrentTerm, KeyLastVoteTerm,
// KeyLastVoteCand); any other key returns an error wrapping ErrUnknownKey.
//
// Each Set is a load-modify-save of the whole hard state, serialised by the
// store, so the fields raft does not touch (Commit) are kept. The uint64
// keys also accept Set and Get of an 8-byte big-endian value, the encoding
// raft-boltdb uses.
//
// A key that holds nothing (no hard state saved yet, or an empty vote
// candidate) returns ErrKeyNotFound, unwrapped, which raft treats as zero.
// Every Set is durable when it returns: if the engine does not declare
// SyncOnWrite, StableStore calls Flush after each one.
type StableStore struct {
	meta  raftlog.MetaStore
	flush bool

	mu sync.Mutex
}

var _ raft.StableStore = (*StableStore)(nil)

// NewStableStore returns a raft.StableStore over e's hard state. It does not
// own e.
func NewStableStore(e raftlog.Engine) *StableStore {
	return &StableStore{meta: e.Meta(), flush: !e.Capabilities().SyncOnWrite}
}

func unknownKey(key []byte) error {
	return fmt.Errorf("%w %q (known: %s, %s, %s)", ErrUnknownKey, key, KeyCurrentTerm, KeyLastVoteTerm, KeyLastVoteCand)
}

// uint64Field returns the hard state field a uint64 key names, or nil.
func uint64Field(hs *raftlog.HardState, key []byte) *uint64 {
	switch string(key) {
	case KeyCurrentTerm:
		return &hs.Term
	case KeyLastVoteTerm:
		return &hs.Vote.Term
	}
	return nil
}

func checkKey(key []byte) error {
	switch string(key) {
	case KeyCurrentTerm, KeyLastVoteTerm, KeyLastVoteCand:
		return nil
	}
	return unknownKey(key)
}

// Set stores val under key.
func (s *StableStore) Set(key, val []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if string(key) != KeyLastVoteCand {
		if len(val) != 8 {
			return fmt.Errorf("%w: %s holds a uint64, got a value of %d bytes", ErrKeyType, key, len(val))
		}
		return s.SetUint64(key, binary.BigEndian.Uint64(val))
	}
	return s.modify(func(hs *raftlog.HardState) { hs.Vote.Candidate = string(val) })
}

// Get returns the value under key, or ErrKeyNotFound.
func (s *StableStore) Get(key []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	hs, ok, err := s.load()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrKeyNotFound
	}
	if f := uint64Field(&hs, key); f != nil {
		return binary.BigEndian.AppendUint64(nil, *f), nil
	}
	if hs.Vote.Candidate == "" {
		return nil, ErrKeyNotFound
	}
	return []byte(hs.Vote.Candidate), nil
}

// SetUint64 stores val under a uint64 key.
func (s *StableStore) SetUint64(key []byte, val uint64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if string(key) == KeyLastVoteCand {
		return fmt.Errorf("%w: %s holds bytes, not a uint64", ErrKeyType, key)
	}
	return s.modify(func(hs *raftlog.HardState) { *uint64Field(hs, key) = val })
}

// GetUint64 returns the value under a uint64 key, or 0 and ErrKeyNotFound.
func (s *StableStore) GetUint64(key []byte) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if string(key) == KeyLastVoteCand {
		return 0, fmt.Errorf("%w: %s holds bytes, not a uint64", ErrKeyType, key)
	}
	hs, ok, err := s.load()
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrKeyNotFound
	}
	return *uint64Field(&hs, key), nil
}

func (s *StableStore) load() (raftlog.HardState, bool, error) {
	hs, ok, err := s.meta.LoadHardState()
	if err != nil {
		return raftlog.HardState{}, false, fmt.Errorf("hashiraft: load hard state: %w", err)
	}
	return hs, ok, nil
}

func (s *StableStore) modify(f func(*raftlog.HardState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs, _, err := s.load()
	if err != nil {
		return err
	}
	f(&hs)
	if err := s.meta.SaveHardState(hs); err != nil {
		return fmt.Errorf("hashiraft: save hard state: %w", err)
	}
	if s.flush {
		if err := s.meta.Flush(); err != nil {
			return fmt.Errorf("hashiraft: flush hard state: %w", err)
		}
	}
	return nil
}
