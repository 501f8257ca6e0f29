package linearizability

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Verdict is the outcome of a check. The zero value is Unknown.
type Verdict uint8

const (
	// Unknown means the check could not decide (it timed out, or the run
	// was cut short): inconclusive, never a pass.
	Unknown Verdict = iota
	// Ok means the history is linearizable (and durable).
	Ok
	// Illegal means the history has no linearization: a violation.
	Illegal
)

var verdictNames = [...]string{Unknown: "Unknown", Ok: "Ok", Illegal: "Illegal"}

// String returns "Ok", "Illegal" or "Unknown".
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// ParseVerdict returns the verdict whose String is s.
func ParseVerdict(s string) (Verdict, error) {
	for v, name := range verdictNames {
		if name == s {
			return Verdict(v), nil
		}
	}
	return Unknown, fmt.Errorf("%w: %q", ErrBadVerdict, s)
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) {
	if int(v) >= len(verdictNames) {
		return nil, fmt.Errorf("%w: %d", ErrBadVerdict, uint8(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Verdict) UnmarshalText(b []byte) error {
	p, err := ParseVerdict(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// ExitCode is the verdict as a command's exit status: 0 for Ok, 1 for
// Illegal, 3 for Unknown (2 is left for usage and setup errors).
func (v Verdict) ExitCode() int {
	switch v {
	case Ok:
		return 0
	case Illegal:
		return 1
	}
	return 3
}

// Worst returns the worse of two verdicts: Illegal over Unknown over Ok.
func Worst(a, b Verdict) Verdict {
	rank := func(v Verdict) int {
		switch v {
		case Ok:
			return 0
		case Unknown:
			return 1
		}
		return 2
	}
	if rank(a) >= rank(b) {
		return a
	}
	return b
}

// FromPorcupine converts porcupine's result.
func FromPorcupine(r porcupine.CheckResult) Verdict {
	switch r {
	case porcupine.Ok:
		return Ok
	case porcupine.Illegal:
		return Illegal
	}
	return Unknown
}
