package file

import "errors"

// ErrHardStateTooLarge reports a hard state whose candidate is too long to
// be saved (its record would pass 2MiB).
var ErrHardStateTooLarge = errors.New("file: hard state too large")
