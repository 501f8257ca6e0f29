// Package linearizability holds what every history checker in ordeal
// shares: the three-valued Verdict, the clocks a recording client stamps
// operations with, the fault windows a nemesis leaves in a history, and the
// glue to porcupine (checking with a time limit, the HTML timeline annotated
// with the fault windows).
//
// The per-SPI parts (the operations, the sequential model, the recording
// client) live in sub-packages such as raftlogmodel. They share the rest:
// Op is one recorded operation of a history file, whatever its input and
// output types; WriteJSON and ReadJSON write and read history files (the
// write is atomic); FaultLog records fault windows; Check runs porcupine
// and gives a Result with the Verdict and the annotated timeline.
//
// # Time
//
// Every call and return in one history is stamped from one Clock: either a
// Monotonic clock (nanoseconds since a base instant, strictly increasing) or
// a Logical one (a counter advanced by a deterministic scheduler, so that a
// replayed run yields the very same history). An operation whose outcome is
// unknown (no response before a crash, a timeout) returns at Infinity unless
// the recorder can bound it (an operation cut off by a crash cannot take
// effect after the crash, so it returns just before it).
//
// # Verdicts
//
// A check is Ok, Illegal or Unknown. Unknown means the checker ran out of
// time or could not decide: it is inconclusive and never a pass.
package linearizability
