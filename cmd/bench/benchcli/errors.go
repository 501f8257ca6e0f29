package benchcli

import "errors"

// errUsage marks errors in what the user asked for (exit code 2).
var errUsage = errors.New("bench: usage")

// errTruncated marks a bench.txt that was cut short or damaged.
var errTruncated = errors.New("bench: truncated bench.txt")

// errMachine marks two runs of different (or unknown) machines.
var errMachine = errors.New("bench: machine mismatch")

// errABRun marks an A/B iteration whose run failed.
var errABRun = errors.New("bench ab: a run failed")

// errABBuild marks a revision that could not be built.
var errABBuild = errors.New("bench ab: build")

// errPartial marks an A/B run cut short by an interrupt.
var errPartial = errors.New("bench ab: partial")
