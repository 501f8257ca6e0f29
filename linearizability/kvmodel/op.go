package kvmodel

import "fmt"

// Kind is an operation's kind.
type Kind string

// The operations.
const (
	KindRead  Kind = "read"
	KindWrite Kind = "write"
	KindCAS   Kind = "cas"
	// KindCrash marks a restart of some of the store's nodes; see the
	// package documentation.
	KindCrash Kind = "crash"
)

// Input is one call.
type Input struct {
	Kind Kind   `json:"kind"`
	Key  string `json:"key,omitempty"`
	// Value is what a write or a CAS sets.
	Value string `json:"value,omitempty"`
	// Old is the value a CAS expects.
	Old string `json:"old,omitempty"`
	// Detail describes a crash.
	Detail string `json:"detail,omitempty"`
}

func (in Input) String() string {
	switch in.Kind {
	case KindWrite:
		return fmt.Sprintf("write %s=%s", in.Key, in.Value)
	case KindCAS:
		return fmt.Sprintf("cas %s %s->%s", in.Key, in.Old, in.Value)
	case KindCrash:
		return "crash: " + in.Detail
	}
	return fmt.Sprintf("%s %s", in.Kind, in.Key)
}

// ErrClass is what an operation's error means to the model.
type ErrClass string

// The error classes.
const (
	ErrNone ErrClass = ""
	// ErrUnknown is an outcome the client does not know.
	ErrUnknown ErrClass = "unknown"
	// ErrMismatch is a CAS refused because the key does not hold Old.
	ErrMismatch ErrClass = "mismatch"
	// ErrUnavailable is an operation the store refused before it could
	// take effect (no node would take it): it changed nothing.
	ErrUnavailable ErrClass = "unavailable"
)

// Output is one response.
type Output struct {
	Err ErrClass `json:"err,omitempty"`
	// Found and Value are what the key holds: a read's answer, and what a
	// refused CAS found.
	Found bool   `json:"found,omitempty"`
	Value string `json:"value,omitempty"`
	// Message says why an outcome is unknown.
	Message string `json:"msg,omitempty"`
}

// Unknown is the output of an operation whose outcome is not known.
func Unknown(why string) Output { return Output{Err: ErrUnknown, Message: why} }

func (o Output) String() string {
	switch {
	case o.Err == ErrUnknown, o.Err == ErrUnavailable:
		return string(o.Err)
	case o.Err == ErrMismatch && o.Found:
		return "mismatch, holds " + o.Value
	case o.Err == ErrMismatch:
		return "mismatch, absent"
	case o.Found:
		return o.Value
	}
	return "ok"
}
