// Package kvmodel checks histories of a linearizable key-value store with
// reads, writes and compare-and-set on string keys: the operation types a
// client records (Input, Output), the porcupine model of the store
// (Model) and the check of a history (Check).
//
// # The model
//
// A key holds a value or nothing. A read returns what the key holds. A
// write sets it. A compare-and-set (CAS) of key from old to new sets new
// if the key holds old, and is refused otherwise (ErrMismatch), the
// refusal naming what the key holds. A mutation whose outcome the client
// does not know (ErrUnknown: a timeout, a node that died or a leader that
// lost its office while the request was in flight) may have taken effect
// at any point between its call and its return, or never; porcupine's
// nondeterministic step keeps both branches. A read with an unknown
// outcome says nothing. An operation the store refused before it could
// take effect (ErrUnavailable: no node would take it) changes nothing.
//
// # Crashes
//
// The store is replicated and acknowledges a mutation once a majority
// holds it durably, so a crash of some of its nodes changes nothing the
// model holds: every acknowledged mutation survives, and one in flight is
// unknown. A crash operation (KindCrash) marks in the history where a
// restart happened; the model steps over it.
//
// # Partitions
//
// The history is checked one key at a time. That is sound because
// linearizability is local (Herlihy and Wing): a history is linearizable
// if and only if the subhistory of each object is, and every operation
// here reads or writes exactly one key. Crash operations change no state
// and are left out of every part.
package kvmodel
