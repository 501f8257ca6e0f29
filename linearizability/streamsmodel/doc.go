// Package streamsmodel checks histories of a streams.Store: the operations
// a recording client logs (Recorder, Apply), the porcupine model of a tree
// of streams with idempotent producers (Model), and the history file
// format (History).
//
// # The model
//
// Each stream is an append log plus, per producer, its epoch and highest
// accepted sequence. An append naming a producer is checked as the streams
// package documents: a stale epoch is refused, a sequence at or below the
// last accepted one is a duplicate that writes nothing and reports that
// last sequence, a gap is refused, and the next sequence is appended at
// the stream's tail, which the result's offset must name. A read from the
// start returns the whole content: for a fork, its source's content up to
// the fork offset, then its own appends. A fork names its offset in
// messages of the source and must be refused past the source's tail.
//
// # Partitions
//
// The history is split per tree of streams: a root stream and its forks,
// named root, root/x, root/x/y (Partition uses the text before the first
// '/'). This is sound because linearizability is local (Herlihy and Wing):
// a history is linearizable if and only if each object's subhistory is,
// and no operation on one tree reads or writes the state of another (a
// fork reads its source, which is in the same tree by the naming rule; the
// store's byte limits, which couple streams, are not used by the clients
// that record these histories).
//
// # Crashes
//
// The model is of a store that declares SyncOnWrite: every acknowledged
// mutation survives a crash or a kill of the process serving it, with its
// producer state. An operation cut off by a crash or kill has an unknown
// outcome and returns at the moment the process was dead: it may have
// taken effect at any point between its call and then, or not at all,
// which is what a nondeterministic step admits. A client that retries an
// append with the same producer sequence after an unknown outcome then
// sees either the append (the first try was lost) or a duplicate (it was
// committed), and nothing else: an engine that loses the producer state
// but keeps the data answers with a sequence gap, which no linearization
// explains. No crash operation is needed in the history: state does not
// change at a crash.
package streamsmodel
