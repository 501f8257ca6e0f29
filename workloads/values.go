package workloads

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Size is a byte or item count, written in YAML as an integer or with a
// binary suffix: 256, 4KiB, 1MiB, 64B.
type Size int64

var sizeSuffixes = []struct {
	suffix string
	mult   int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3},
	{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"k", 1 << 10},
	{"B", 1},
}

// ParseSize parses a Size from its text form.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, sf := range sizeSuffixes {
		if strings.HasSuffix(t, sf.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, sf.suffix)), sf.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is not a non-negative integer with an optional B, KiB, MiB or GiB suffix", s)
	}
	return Size(n * mult), nil
}

func (s Size) String() string {
	switch {
	case s >= 1<<30 && s%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", s>>30)
	case s >= 1<<20 && s%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", s>>20)
	case s >= 1<<10 && s%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", s>>10)
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalYAML writes the text form.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads an integer or a text form.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &SpecError{Line: n.Line, Col: n.Column, Msg: "want a size (256, 4KiB)"}
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return &SpecError{Line: n.Line, Col: n.Column, Msg: err.Error()}
	}
	*s = v
	return nil
}

// Duration is a time.Duration written as "2s", "500ms".
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the text form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText writes the text form (for JSON).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the text form (for JSON).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML reads a Go duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &SpecError{Line: n.Line, Col: n.Column, Msg: fmt.Sprintf("want a duration (2s, 500ms), got %q", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// Rate is an open-loop target rate: a number of operations per second, or a
// percentage of the maximum rate the probe measured ("50%").
type Rate struct {
	PerSec  float64 `json:"per_sec,omitempty"`
	Percent float64 `json:"percent,omitempty"`
}

// IsZero reports an unset rate.
func (r Rate) IsZero() bool { return r.PerSec == 0 && r.Percent == 0 }

func (r Rate) String() string {
	if r.Percent > 0 {
		return strconv.FormatFloat(r.Percent, 'g', -1, 64) + "%"
	}
	return strconv.FormatFloat(r.PerSec, 'g', -1, 64)
}

// ParseRate parses "2000" or "50%".
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(t, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v <= 0 || v > 100 || math.IsNaN(v) {
			return Rate{}, fmt.Errorf("rate %q: a percentage must be in (0, 100]", s)
		}
		return Rate{Percent: v}, nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return Rate{}, fmt.Errorf("rate %q: want operations per second (> 0) or a percentage of the probed maximum", s)
	}
	return Rate{PerSec: v}, nil
}

// MarshalYAML writes the text form.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// UnmarshalYAML reads a number or a percentage.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseRate(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		msg := fmt.Sprintf("want a rate, got %q", n.Value)
		if err != nil {
			msg = err.Error()
		}
		return &SpecError{Line: n.Line, Col: n.Column, Msg: msg}
	}
	*r = v
	return nil
}
