package jepsenlite_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
)

func runTiered(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := jepsenlite.MainIO(append([]string{"run"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTieredReferencePasses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, out, errs := runTiered(t, "--engine", "tiered/durable", "--nemesis", "crash", "--seed", "3", "--out", dir)
	if code != jepsenlite.ExitPass {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "replay     jepsen-lite run --engine tiered/durable --nemesis crash --seed 3") {
		t.Errorf("summary does not end with the replay command: %q", last)
	}
	for _, f := range []string{"history.json", "verdict.json", "summary.txt", "timeline.html"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "verdict.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Verdict string `json:"verdict"`
		Crashes int    `json:"crashes"`
		RLMMOps int    `json:"rlmm_ops"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Verdict != "Ok" || v.Crashes == 0 || v.RLMMOps == 0 {
		t.Errorf("verdict.json: %+v", v)
	}
}

func TestTieredMutantsAreViolations(t *testing.T) {
	for _, e := range []string{"tiered/mutant/rlmm-serve-copying", "tiered/mutant/rsm-copy-without-fsync", "tiered/mutant/rlmm-drop-last-record", "tiered/mutant/rlmm-accept-illegal-transition"} {
		code, out, _ := runTiered(t, "--engine", e, "--nemesis", "crash", "--seed", "2")
		if code != jepsenlite.ExitViolation {
			t.Errorf("%s: exit %d, want %d; %s", e, code, jepsenlite.ExitViolation, out)
		}
	}
}

func TestTieredUsageAndInconclusive(t *testing.T) {
	for _, args := range [][]string{
		{"--engine", "tiered/no-such", "--nemesis", "crash"},
		{"--engine", "tiered/durable", "--nemesis", "kill"},
		{"--engine", "tiered/durable", "--param", "steps=many"},
		{"--engine", "tiered/durable", "--param", "colour=1"},
	} {
		if code, _, _ := runTiered(t, args...); code != jepsenlite.ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, jepsenlite.ExitUsage)
		}
	}
	code, out, _ := runTiered(t, "--engine", "tiered/durable", "--nemesis", "crash", "--param", "max_crashes=-1")
	if code != jepsenlite.ExitInconclusive {
		t.Errorf("a crash run with no crash: exit %d, want %d; %s", code, jepsenlite.ExitInconclusive, out)
	}
	if code, _, _ := runTiered(t, "--engine", "tiered/memory"); code != jepsenlite.ExitPass {
		t.Errorf("a crash-free run: exit %d", code)
	}
}
