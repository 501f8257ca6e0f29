package linearizability

import (
	"errors"
	"testing"

	"github.com/anishathalye/porcupine"
)

func TestVerdictText(t *testing.T) {
	for _, v := range []Verdict{Ok, Illegal, Unknown} {
		b, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Verdict
		if err := got.UnmarshalText(b); err != nil || got != v {
			t.Errorf("round trip of %v: got %v, %v", v, got, err)
		}
	}
	if _, err := ParseVerdict("Pass"); !errors.Is(err, ErrBadVerdict) {
		t.Errorf("ParseVerdict(Pass) error = %v, want ErrBadVerdict", err)
	}
}

func TestVerdictExitAndWorst(t *testing.T) {
	tests := []struct {
		a, b  Verdict
		worst Verdict
	}{
		{Ok, Ok, Ok},
		{Ok, Unknown, Unknown},
		{Unknown, Ok, Unknown},
		{Unknown, Illegal, Illegal},
		{Illegal, Ok, Illegal},
	}
	for _, tt := range tests {
		if got := Worst(tt.a, tt.b); got != tt.worst {
			t.Errorf("Worst(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.worst)
		}
	}
	if Ok.ExitCode() != 0 || Illegal.ExitCode() != 1 || Unknown.ExitCode() != 3 {
		t.Errorf("exit codes: ok %d illegal %d unknown %d", Ok.ExitCode(), Illegal.ExitCode(), Unknown.ExitCode())
	}
	if FromPorcupine(porcupine.Unknown) != Unknown || FromPorcupine(porcupine.Illegal) != Illegal || FromPorcupine(porcupine.Ok) != Ok {
		t.Error("FromPorcupine maps wrongly")
	}
}

func TestClocksIncrease(t *testing.T) {
	for name, c := range map[string]Clock{"monotonic": NewMonotonic(), "logical": &Logical{}} {
		last := int64(-1)
		for range 1000 {
			now := c.Now()
			if now <= last {
				t.Fatalf("%s clock: %d after %d", name, now, last)
			}
			last = now
		}
	}
}
