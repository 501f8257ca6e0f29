package benchcli

import "errors"

// errUsage marks errors in what the user asked for (exit code 2).
var errUsage = errors.New("bench: usage")
