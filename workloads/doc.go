// Package workloads describes benchmark workloads and drives them against
// storage engines.
//
// # Specs
//
// A workload is a Spec, written in YAML inside a Suite (see ParseSuite and
// the built-in suites "quick" and "nightly" under suites/). A spec names its
// family (the storage SPI: raftlog, and later adapter, tiered, streams), an
// operation mix drawn from the family's operations, value and batch size
// distributions (fixed, uniform, a list), a key distribution (uniform,
// zipfian with theta 0.99 by default, latest), a preload, and how to drive
// it: a closed loop of N workers or an open loop at a target rate. A sweep
// expands a spec into one workload per value of a field (value sizes, batch
// sizes). Every error in a suite file names file:line and the field.
//
// # Families
//
// A Family knows one SPI: its operations, parameters, engines and baseline,
// and how to run an operation against an engine. Families register with
// RegisterFamily; package raftlogwl registers the raftlog family with its
// physical baseline (framed writes made durable by fdatasync, no index:
// the best of append, preallocated overwrite and O_DIRECT on this disk).
//
// # Driver
//
// Run opens an engine, preloads it, and drives the workload. Each worker
// keeps its own HDR histograms (per operation, corrected and uncorrected),
// its per-second series, error counts by kind and byte counts; they are
// merged at the end. Operations that start during the warm-up are run but
// not recorded. In an open loop, operation i is due at i/rate: latency is
// measured from that intended start (Corrected) and from the actual start
// (Uncorrected), and how late each operation started is kept apart (Slip).
// MeasureOverhead reports the driver's own cost per operation and the
// highest rate it reaches, against the built-in no-op family.
package workloads
