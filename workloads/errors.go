package workloads

import (
	"errors"
	"fmt"
)

// Sentinel errors. Wrapped with %w and context; test with errors.Is.
var (
	// ErrSpec is the category of every error in a workload or suite file.
	ErrSpec = errors.New("workloads: bad spec")
	// ErrUnknownFamily reports a family that no driver registered.
	ErrUnknownFamily = errors.New("workloads: unknown family")
	// ErrUnknownTarget reports an engine a family does not know.
	ErrUnknownTarget = errors.New("workloads: unknown engine")
	// ErrUnknownSuite reports a suite name that is neither built in nor a file.
	ErrUnknownSuite = errors.New("workloads: unknown suite")
	// ErrUnsupported reports a workload a target cannot run (the physical
	// baseline has no reads, say).
	ErrUnsupported = errors.New("workloads: workload not supported by this engine")
)

// SpecError is an error in a spec file, located at a line and naming the field.
type SpecError struct {
	File  string
	Line  int
	Col   int
	Field string // dotted path: workloads[2].value.size
	Msg   string
}

func (e *SpecError) Error() string {
	loc := e.File
	if loc == "" {
		loc = "<spec>"
	}
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, e.Line)
		if e.Col > 0 {
			loc = fmt.Sprintf("%s:%d", loc, e.Col)
		}
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Unwrap makes every SpecError match ErrSpec.
func (e *SpecError) Unwrap() error { return ErrSpec }
