package workloads

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const goodSuite = `name: t
defaults:
  family: noop
  duration: 300ms
  warmup: 0s
workloads:
  - name: a
    mix: {noop: 1}
  - name: b
    value: {dist: uniform, min: 64, max: 4KiB}
    batch: {dist: list, values: [1, 8, 64]}
    keys: {dist: latest, theta: 0.9, count: 100}
    mix: {noop: 3}
    sweep: {field: value.size, values: ["64", "1KiB"]}
`

func TestParseSuiteGood(t *testing.T) {
	s, err := ParseSuite("good.yaml", []byte(goodSuite))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range s.Workloads {
		names = append(names, w.Name)
	}
	if got, want := strings.Join(names, ","), "a,b/value=64,b/value=1KiB"; got != want {
		t.Fatalf("workloads %s, want %s", got, want)
	}
	a := s.Workloads[0]
	if a.Duration != Duration(300*time.Millisecond) || a.Mode != Closed || a.Workers != 1 || a.Keys.Dist != KeysZipfian || a.Keys.Theta != 0.99 {
		t.Errorf("defaults not applied: %+v", a)
	}
	b := s.Workloads[2]
	if b.Value.Dist != DistFixed || b.Value.Size != 1024 || b.Labels["value"] != "1KiB" || b.Base != "b" {
		t.Errorf("sweep point: %+v", b)
	}
	if b.Batch.Dist != DistList || len(b.Batch.Values) != 3 || b.Keys.Dist != KeysLatest {
		t.Errorf("fields: %+v", b)
	}
}

func TestParseSuiteErrors(t *testing.T) {
	head := "name: t\ndefaults: {family: noop}\nworkloads:\n"
	for _, tc := range []struct {
		name, body string
		line       int
		field      string
		msg        string
	}{
		{"unknown field", "  - name: a\n    mix: {noop: 1}\n    valu: {size: 3}\n", 6, "valu", "unknown field"},
		{"unknown nested field", "  - name: a\n    mix: {noop: 1}\n    value:\n      dist: fixed\n      sise: 3\n", 8, "sise", "unknown field"},
		{"bad size", "  - name: a\n    mix: {noop: 1}\n    value: {dist: fixed, size: 12X}\n", 6, "", "size \"12X\""},
		{"bad duration", "  - name: a\n    duration: fast\n    mix: {noop: 1}\n", 5, "", "want a duration"},
		{"unknown op", "  - name: a\n    mix:\n      noop: 1\n      fly: 2\n", 7, "workloads[0](a).mix.fly", "unknown operation"},
		{"zero weight", "  - name: a\n    mix: {noop: 0}\n", 5, "workloads[0](a).mix.noop", "weight 0"},
		{"uniform min above max", "  - name: a\n    mix: {noop: 1}\n    value:\n      dist: uniform\n      min: 4KiB\n      max: 1KiB\n", 8, "workloads[0](a).value.min", "above max"},
		{"list value too large", "  - name: a\n    mix: {noop: 1}\n    batch:\n      dist: list\n      values: [1, 2000000]\n", 8, "workloads[0](a).batch.values[1]", "want 1..1000000"},
		{"open without rate", "  - name: a\n    mode: open\n    mix: {noop: 1}\n", 4, "workloads[0](a).rate", "needs a rate"},
		{"closed with rate", "  - name: a\n    rate: 100\n    mix: {noop: 1}\n", 5, "workloads[0](a).rate", "closed-loop"},
		{"bad rate", "  - name: a\n    mode: open\n    rate: 120%\n    mix: {noop: 1}\n", 6, "", "percentage"},
		{"unknown family", "  - name: a\n    family: kv\n    mix: {noop: 1}\n", 5, "workloads[0](a).family", "unknown family"},
		{"unknown param", "  - name: a\n    mix: {noop: 1}\n    params: {x: 1}\n", 6, "workloads[0](a).params.x", "unknown parameter"},
		{"bad name", "  - name: A b\n    mix: {noop: 1}\n", 4, "workloads[0](A b).name", "lower-case"},
		{"duplicate", "  - name: a\n    mix: {noop: 1}\n  - name: a\n    mix: {noop: 1}\n", 6, "workloads[1](a).name", "already defined at line 4"},
		{"cycle with fractional weight", "  - name: a\n    pick: cycle\n    mix: {noop: 1.5}\n", 6, "workloads[0](a).mix.noop", "whole weights"},
		{"theta", "  - name: a\n    keys: {dist: zipfian, theta: 1.2}\n    mix: {noop: 1}\n", 5, "workloads[0](a).keys.theta", "0 < theta < 1"},
		{"bad sweep field", "  - name: a\n    mix: {noop: 1}\n    sweep: {field: colour, values: [a]}\n", 6, "workloads[0](a).sweep.field", "want value.size"},
		{"no workloads", "", 3, "workloads", "non-empty list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSuite("s.yaml", []byte(head+tc.body))
			if err == nil {
				t.Fatal("no error")
			}
			var se *SpecError
			if !errors.As(err, &se) || !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v (%T) is not a SpecError", err, err)
			}
			if se.File != "s.yaml" || se.Line != tc.line || se.Field != tc.field || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("got %q (line %d field %q), want line %d field %q and %q", err, se.Line, se.Field, tc.line, tc.field, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "s.yaml:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestParseSizeAndRate(t *testing.T) {
	for in, want := range map[string]Size{"0": 0, "256": 256, "4KiB": 4096, "1MiB": 1 << 20, "64B": 64, "2k": 2048} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5KiB", "KiB", "9999999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if r, err := ParseRate("50%"); err != nil || r.Percent != 50 {
		t.Errorf("ParseRate(50%%) = %+v, %v", r, err)
	}
	if r, err := ParseRate("2500"); err != nil || r.PerSec != 2500 {
		t.Errorf("ParseRate(2500) = %+v, %v", r, err)
	}
	for _, bad := range []string{"0", "-3", "0%", "101%", "x"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}
