package linearizability_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/linearizability"
)

type regIn struct {
	Write bool `json:"write"`
	Value int  `json:"value"`
}

type regOut struct {
	Value int `json:"value"`
}

type regOp = linearizability.Op[regIn, regOut]

type regFile struct {
	Engine string  `json:"engine"`
	Ops    []regOp `json:"ops"`
}

// register is a single integer register starting at 0.
var register = porcupine.Model{
	Init: func() any { return 0 },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(regIn), output.(regOut)
		if in.Write {
			return true, in.Value
		}
		return out.Value == state.(int), state
	},
	Equal: func(a, b any) bool { return a == b },
}

func TestJSONRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.json")
	want := regFile{Engine: "mem", Ops: []regOp{
		{Client: 1, Input: regIn{Write: true, Value: 7}, Call: 1, Return: 2},
		{Client: 2, Input: regIn{}, Output: regOut{Value: 7}, Call: 3, Return: linearizability.Infinity},
	}}
	if err := linearizability.WriteJSON(path, want); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files after the write, want 1", len(entries))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"ret": 9223372036854775807`)) || !bytes.HasSuffix(b, []byte("}\n")) {
		t.Fatalf("unexpected encoding:\n%s", b)
	}
	var got regFile
	if err := linearizability.ReadJSON(path, &got); err != nil {
		t.Fatal(err)
	}
	if got.Engine != want.Engine || len(got.Ops) != 2 || got.Ops[0] != want.Ops[0] || got.Ops[1] != want.Ops[1] {
		t.Fatalf("read %+v, wrote %+v", got, want)
	}
	if err := linearizability.CheckTimes(got.Ops); err != nil {
		t.Fatal(err)
	}
}

func TestReadJSONErrors(t *testing.T) {
	dir := t.TempDir()
	var v regFile
	if err := linearizability.ReadJSON(filepath.Join(dir, "missing.json"), &v); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := linearizability.ReadJSON(bad, &v); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad file: %v", err)
	}
	if err := linearizability.WriteJSON(filepath.Join(dir, "no", "such", "dir.json"), v); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestCheckTimes(t *testing.T) {
	ops := []regOp{{Call: 1, Return: 2}, {Call: 5, Return: 4}}
	err := linearizability.CheckTimes(ops)
	if err == nil || !strings.Contains(err.Error(), "op 1") {
		t.Fatalf("CheckTimes = %v, want op 1 flagged", err)
	}
}

func TestCheck(t *testing.T) {
	good := []regOp{
		{Client: 0, Input: regIn{Write: true, Value: 1}, Call: 1, Return: 3},
		{Client: 1, Input: regIn{}, Output: regOut{Value: 1}, Call: 4, Return: 5},
	}
	bad := []regOp{
		{Client: 0, Input: regIn{Write: true, Value: 1}, Call: 1, Return: 3},
		{Client: 1, Input: regIn{}, Output: regOut{Value: 2}, Call: 4, Return: 5},
	}
	faults := []linearizability.FaultWindow{{Nemesis: "crash", Detail: "power loss", Start: 2, End: 4}}
	opt := linearizability.CheckOptions{OkReason: "fine", IllegalReason: "broken"}
	tests := []struct {
		name     string
		ops      []regOp
		failures []string
		verdict  linearizability.Verdict
		reason   string
	}{
		{"ok", good, nil, linearizability.Ok, "fine"},
		{"illegal", bad, nil, linearizability.Illegal, "broken"},
		{"failure", good, []string{"panic"}, linearizability.Illegal, "engine failure: panic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opt
			o.Failures = tc.failures
			res := linearizability.Check(register, linearizability.Operations(tc.ops), faults, o)
			if res.Verdict != tc.verdict || res.Reason != tc.reason || res.Ops != 2 || res.Partitions != 1 {
				t.Fatalf("Check = %+v, want %v %q", res, tc.verdict, tc.reason)
			}
			if err := res.WriteTimeline(&bytes.Buffer{}); !errors.Is(err, linearizability.ErrNotVerbose) {
				t.Fatalf("timeline of a quiet check: %v", err)
			}
		})
	}
	o := opt
	o.Verbose = true
	res := linearizability.Check(register, linearizability.Operations(bad), faults, o)
	var b bytes.Buffer
	if err := res.WriteTimeline(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "power loss") {
		t.Fatal("timeline lacks the fault window")
	}
}

func TestFaultLog(t *testing.T) {
	l := linearizability.NewFaultLog(&linearizability.Logical{})
	a := l.Open("crash", "power loss")
	b := l.Open("pause", "")
	l.Close(a, "37% kept")
	l.Close(b, "resumed")
	w := l.Windows()
	want := []linearizability.FaultWindow{
		{Nemesis: "crash", Detail: "power loss; 37% kept", Start: 1, End: 3},
		{Nemesis: "pause", Detail: "resumed", Start: 2, End: 4},
	}
	if len(w) != len(want) || w[0] != want[0] || w[1] != want[1] {
		t.Fatalf("windows %+v, want %+v", w, want)
	}
	w[0].Detail = "changed"
	if l.Windows()[0].Detail == "changed" {
		t.Fatal("Windows shares its slice")
	}
	if c := l.Open("kill", ""); l.Windows()[c].End != linearizability.Infinity {
		t.Fatal("an open window does not end at infinity")
	}
}

func TestHistoryFile(t *testing.T) {
	type traits struct {
		Durable bool `json:"durable"`
	}
	dir := t.TempDir()
	tests := []struct {
		name    string
		h       linearizability.History[regIn, regOut, traits]
		absent  []string
		present []string
	}{
		{"plain", linearizability.History[regIn, regOut, traits]{Engine: "mem", Seed: 3, Clock: "logical",
			Traits: traits{Durable: true}, Ops: []regOp{{Client: 1, Call: 1, Return: 2}}},
			[]string{`"model"`, `"faults"`, `"failures"`}, []string{`"durable": true`, `"clock": "logical"`}},
		{"named", linearizability.History[regIn, regOut, traits]{Model: "reg", Engine: "mem", Failures: []string{"boom"}},
			[]string{`"traits"`, `"clock"`}, []string{`"model": "reg"`, `"failures"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".json")
			if err := tc.h.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.absent {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("file holds %s:\n%s", s, b)
				}
			}
			for _, s := range tc.present {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("file lacks %s:\n%s", s, b)
				}
			}
			got, err := linearizability.ReadHistory[regIn, regOut, traits](path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Model != tc.h.Model || got.Engine != tc.h.Engine || got.Traits != tc.h.Traits || got.Clock != tc.h.Clock ||
				len(got.Ops) != len(tc.h.Ops) || len(got.Failures) != len(tc.h.Failures) || len(got.Operations()) != len(tc.h.Ops) {
				t.Fatalf("read %+v, wrote %+v", got, tc.h)
			}
		})
	}
	bad := linearizability.History[regIn, regOut, traits]{Ops: []regOp{{Call: 9, Return: 3}}}
	path := filepath.Join(dir, "bad.json")
	if err := bad.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := linearizability.ReadHistory[regIn, regOut, traits](path); err == nil {
		t.Fatal("a return before its call was read")
	}
}
