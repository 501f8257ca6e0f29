package benchcli

import "errors"

// errUsage marks errors in what the user asked for (exit code 2).
var errUsage = errors.New("bench: usage")

// errTruncated marks a bench.txt that was cut short or damaged.
var errTruncated = errors.New("bench: truncated bench.txt")
