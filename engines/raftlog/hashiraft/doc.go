// Package hashiraft adapts ordeal's raftlog SPI and hashicorp/raft's storage
// interfaces to each other, both ways.
//
// NewLogStore and NewStableStore give hashicorp/raft a raft.LogStore (also a
// raft.MonotonicLogStore) and a raft.StableStore over any raftlog engine, so
// a real raft node can run on ordeal's engines.
//
// NewEngine goes the other way: it wraps any hashicorp store pair (such as
// raft-boltdb's BoltStore or raft-wal's WAL, registered by package peers) as
// a raftlog.Engine, so the conformance suite, the benchmarks and the fault
// campaigns can run on them.
//
// # Entry encoding
//
// raftlog keeps an entry's index, term, type and data. A raft.Log also has
// Extensions and AppendedAt; LogStore keeps them in a versioned header in
// front of Entry.Data (see encodeLog for the layout). NewEngine stores only
// Type and Data, so a raft.Log that goes through both adapters keeps every
// field.
//
// # Hard state
//
// StableStore maps raft's keys onto the raftlog hard state: CurrentTerm to
// HardState.Term, LastVoteTerm to Vote.Term and LastVoteCand to
// Vote.Candidate. NewEngine keeps the whole hard state in one stable-store
// value, and the purge boundary in another.
package hashiraft
