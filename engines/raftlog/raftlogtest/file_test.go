package raftlogtest_test

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ordeal-dev/ordeal/engines/raftlog"
	"github.com/ordeal-dev/ordeal/engines/raftlog/file"
	"github.com/ordeal-dev/ordeal/engines/raftlog/raftlogtest"
)

// fileHarness opens the file engine with bugs planted and segments small
// enough that the cases create, seal and remove several of them. With
// inMemory, the cases the suite runs on the operating system's file system
// run on an in-memory one instead (one per directory), which keeps the
// mutant tests off the disk.
func fileHarness(name string, bugs file.Bugs, inMemory bool) raftlogtest.Harness {
	var mu sync.Mutex
	mems := map[string]*vfs.MemFS{}
	return raftlogtest.Harness{
		Name: name,
		Open: func(o raftlog.Options) (raftlog.Engine, error) {
			o.Params = map[string]string{file.ParamSegmentSize: "16KiB"}
			if inMemory && o.FSOrDefault() == vfs.Default && strings.HasPrefix(filepath.Base(o.Dir), "raftlogtest-") {
				mu.Lock()
				if mems[o.Dir] == nil {
					mems[o.Dir] = vfs.NewMem()
				}
				o.FS = mems[o.Dir]
				mu.Unlock()
			}
			return file.OpenWithBugs(o, bugs)
		},
	}
}

func TestFileSmallSegments(t *testing.T) {
	raftlogtest.Run(t, fileHarness("file", file.Bugs{}, false))
}

// TestFileMutantsCaught shows that the suite catches each defect the file
// engine can plant, and names a case that catches it.
func TestFileMutantsCaught(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bugs   file.Bugs
		caught string
	}{
		{"skip_sync", file.Bugs{SkipSync: true}, "power_loss"},
		{"retry_sync_after_error", file.Bugs{RetrySyncAfterError: true}, "fsync_failure"},
		{"forget_purge_boundary", file.Bugs{ForgetPurgeBoundary: true}, "purge_all_reopen"},
		{"skip_dir_sync", file.Bugs{SkipDirSync: true}, "power_loss"},
		{"volatile_truncate", file.Bugs{VolatileTruncate: true}, "reopen_truncate_purge"},
		{"accept_torn_record", file.Bugs{AcceptTornRecord: true}, "torn_record"},
		{"stale_last_index", file.Bugs{StaleLastIndex: true}, "truncate"},
		{"trust_page_cache", file.Bugs{TrustPageCache: true}, "fsync_failure_at_open"},
		{"ignore_write_back_error", file.Bugs{IgnoreWriteBackError: true}, "fsync_failure_at_open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := raftlogtest.Failures(fileHarness("file-"+tc.name, tc.bugs, true))
			if len(f) == 0 {
				t.Fatal("no case caught the defect")
			}
			if _, ok := f[tc.caught]; !ok {
				t.Errorf("case %s did not catch the defect; the cases that did: %s", tc.caught, strings.Join(keys(f), ", "))
			}
			t.Logf("caught by %s; %s: %s", strings.Join(keys(f), ", "), tc.caught, f[tc.caught])
		})
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
