package jetstream_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
)

// repoRoot is the repository's root, seen from this package's directory.
const repoRoot = "../../.."

// TestKnownFindings checks that every JetStream cell the campaigns fail on
// is registered with jepsen-lite as a known finding, and that each
// registration points at its report in findings/, which names it, the
// cell and a replay command, with its evidence beside it.
func TestKnownFindings(t *testing.T) {
	want := []struct{ id, engine, nemesis string }{
		{"jetstream-default-power-loss", "adapter/jetstream", "crash"},
		{"jetstream-new-stream-dirs-unsynced", "adapter/jetstream-sync-always", "crash"},
		{"jetstream-eio-tail-adopted", "adapter/jetstream-sync-always", "fsync"},
	}
	for _, w := range want {
		t.Run(w.id, func(t *testing.T) {
			var k *jepsenlite.KnownFinding
			for i := range jepsenlite.KnownFindings {
				if jepsenlite.KnownFindings[i].ID == w.id {
					k = &jepsenlite.KnownFindings[i]
				}
			}
			if k == nil {
				t.Fatalf("%s is not in jepsenlite.KnownFindings", w.id)
			}
			if k.Engine != w.engine || k.Nemesis != w.nemesis {
				t.Fatalf("%s is registered for %s x %s, want %s x %s", w.id, k.Engine, k.Nemesis, w.engine, w.nemesis)
			}
			if want := "engines/adapter/jetstream/findings/" + w.id + ".md"; k.Report != want {
				t.Fatalf("%s: report %q, want %q", w.id, k.Report, want)
			}
			report, err := os.ReadFile(filepath.Join(repoRoot, k.Report))
			if err != nil {
				t.Fatalf("%s: %v", w.id, err)
			}
			for _, s := range []string{"`" + w.id + "`", w.engine, "jepsen-lite run --engine "} {
				if !strings.Contains(string(report), s) {
					t.Errorf("%s: the report does not mention %q", w.id, s)
				}
			}
			evidence := strings.TrimSuffix(filepath.Join(repoRoot, k.Report), ".md")
			for _, pattern := range []string{"seed-*-summary.txt", "seed-*-verdict.json", "seed-*-history-excerpt.txt"} {
				if m, _ := filepath.Glob(filepath.Join(evidence, pattern)); len(m) == 0 {
					t.Errorf("%s: no %s in %s", w.id, pattern, evidence)
				}
			}
		})
	}
}
