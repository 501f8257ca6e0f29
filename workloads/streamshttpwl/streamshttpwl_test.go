package streamshttpwl_test

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/workloads"
	"github.com/ordeal-dev/ordeal/workloads/streamshttpwl"
	"github.com/ordeal-dev/ordeal/workloads/workloadstest"
)

func spec(tb testing.TB, workers, preload int, mix map[string]float64) *workloads.Spec {
	tb.Helper()
	s := workloads.BuiltinDefaults()
	s.Name, s.Family, s.Workers, s.Mix, s.Preload = "t", streamshttpwl.Name, workers, mix, workloads.Size(preload)
	s.Duration, s.Warmup = workloads.Duration(300*time.Millisecond), workloads.Duration(10*time.Millisecond)
	if errs := s.Validate(); len(errs) > 0 {
		tb.Fatalf("spec: %v", errs)
	}
	return &s
}

func runEngine(t *testing.T, engine string) {
	t.Helper()
	for _, c := range []struct {
		workers, preload int
		mix              map[string]float64
	}{
		{1, 50, map[string]float64{"append": 1, "read": 1, "tail": 1}},
		{4, 0, map[string]float64{"append": 1, "tail": 1}},
	} {
		o, err := workloadstest.RunShort(context.Background(), spec(t, c.workers, c.preload, c.mix), engine, workloads.Config{Seed: 1, Dir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s x%d: %v", engine, c.workers, err)
		}
		if len(o.Errors) > 0 {
			t.Errorf("%s x%d: errors %v", engine, c.workers, o.Errors)
		}
		for _, op := range o.PerOp {
			if op.Ops == 0 {
				t.Errorf("%s x%d: %s never ran", engine, c.workers, op.Op)
			}
		}
	}
}

func TestOrdealRunsEveryOperation(t *testing.T) { runEngine(t, streamshttpwl.Ordeal) }

func TestReferenceRunsEveryOperation(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found: the reference engine runs the Node reference server")
	}
	if _, err := streamshttpwl.FindReferenceDir(); err != nil {
		t.Skip(err)
	}
	runEngine(t, streamshttpwl.Reference)
}

func TestSuiteFileParses(t *testing.T) {
	s, err := workloads.LoadSuite("streams-http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Workloads) == 0 {
		t.Fatal("no workloads")
	}
}

func TestValidateAndErrors(t *testing.T) {
	s := workloads.BuiltinDefaults()
	s.Name, s.Family, s.Mix = "t", streamshttpwl.Name, map[string]float64{"read": 1}
	if errs := s.Validate(); len(errs) == 0 {
		t.Error("a read of an empty stream validates")
	}
	_, err := streamshttpwl.Family{}.Open(context.Background(), "nope", spec(t, 1, 0, map[string]float64{"append": 1}), workloads.Env{Dir: t.TempDir()})
	if err == nil {
		t.Error("an unknown engine opens")
	}
	fam := streamshttpwl.Family{}
	if k := fam.ErrorKind(&streamshttpwl.StatusError{Status: 409}); k != "http_conflict" {
		t.Errorf("409 kind %q", k)
	}
	if k := fam.ErrorKind(errors.New("dial")); k != "transport" {
		t.Errorf("transport kind %q", k)
	}
}
