package reports

import (
	"os"
	"testing"

	"github.com/ordeal-dev/ordeal/results"
	_ "github.com/ordeal-dev/ordeal/workloads/raftlogwl"
)

func TestScratchRender(t *testing.T) {
	dir := os.Getenv("SCRATCH_RUN")
	if dir == "" {
		t.Skip()
	}
	run, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, []*results.Run{run}, Options{}); err != nil {
		t.Fatal(err)
	}
}
