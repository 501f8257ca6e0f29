// Package tieredwl is the tiered family of the workloads driver: it copies
// closed segments to the remote tier the way a broker does (the metadata
// manager records COPY_SEGMENT_STARTED, the storage manager copies the
// segment and its indexes, the metadata manager records
// COPY_SEGMENT_FINISHED), looks offsets up in a metadata manager preloaded
// with many segments, and fetches byte ranges back from the remote tier.
// Its engines pair a registered RemoteStorageManager with a registered
// RemoteLogMetadataManager ("durable" is localfs with the durable metadata
// manager; the reference implementations are imported here, others
// register when imported); its baseline, "rawcopy", copies the same segment
// bytes the way the disk allows at best: a temporary file written,
// fsynced, renamed into place, and the directory fsynced. The items of a copy are the segment's bytes, so each engine's
// copy throughput is reported as a fraction of the raw copy's.
//
// Importing it registers the family with the workloads package.
package tieredwl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	// The reference implementations.
	_ "github.com/ordeal-dev/ordeal/engines/tiered/durable"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/memory"
	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/workloads"
)

func init() { workloads.RegisterFamily(Family{}) }

// Name is the family's name.
const Name = "tiered"

// RawCopy is the baseline engine's name.
const RawCopy = "rawcopy"

// Operation indexes, in the order of Family.Ops.
const (
	OpCopy = iota
	OpLookup
	OpFetch
	OpHighest
)

var ops = []workloads.OpInfo{
	OpCopy:    {Name: "copy", Doc: "tier one segment of segment_size bytes: add COPY_SEGMENT_STARTED, CopyLogSegmentData, update COPY_SEGMENT_FINISHED; beyond retain segments per worker the oldest is deleted (DELETE_SEGMENT_STARTED, DeleteLogSegmentData, DELETE_SEGMENT_FINISHED)", Primary: true},
	OpLookup:  {Name: "lookup", Doc: "RemoteLogSegmentMetadata of a uniformly drawn offset of the preloaded segments (or of the copied ones without a preload)"},
	OpFetch:   {Name: "fetch", Doc: "look up a random offset of a copied segment and FetchLogSegment fetch_len bytes of it"},
	OpHighest: {Name: "highest", Doc: "HighestOffsetForEpoch of a random epoch of the preloaded segments"},
}

var params = []workloads.Param{
	{Name: "segment_size", Default: "1MiB", Doc: "bytes of log data per copied segment", Check: checkSize},
	{Name: "retain", Default: "4", Doc: "copied segments each worker keeps before deleting its oldest", Check: checkUint},
	{Name: "fetch_len", Default: "64KiB", Doc: "bytes one fetch reads", Check: checkSize},
	{Name: "fetch_segments", Default: "4", Doc: "segments copied before the run when the mix fetches", Check: checkUint},
	{Name: "metadata_fs", Default: "disk", Doc: "where a persistent metadata manager keeps its log: disk, or mem (a memory file system, so that a 100k-segment preload takes seconds; lookups never touch the log)", Check: checkFS},
}

func checkSize(s string) error {
	if n, err := faults.ParseSize(s); err != nil || n <= 0 || n > 1<<30 {
		return fmt.Errorf("%q: want a size in 1B..1GiB", s)
	}
	return nil
}

func checkUint(s string) error {
	if _, err := strconv.ParseUint(s, 10, 32); err != nil {
		return fmt.Errorf("%q: want a non-negative integer", s)
	}
	return nil
}

func checkFS(s string) error {
	if s != "disk" && s != "mem" {
		return fmt.Errorf("%q: want disk or mem", s)
	}
	return nil
}

// Family is the tiered workload family.
type Family struct{}

var _ workloads.Family = Family{}

func (Family) Name() string { return Name }
func (Family) Doc() string {
	return "tiered storage (KIP-405 RemoteStorageManager + RemoteLogMetadataManager pairs); baseline: rawcopy (temp file, write, fsync, rename, dir fsync)"
}
func (Family) Ops() []workloads.OpInfo   { return slices.Clone(ops) }
func (Family) Params() []workloads.Param { return slices.Clone(params) }
func (Family) ItemUnit() string          { return "bytes" }
func (Family) Baseline() string          { return RawCopy }

// pairs maps each engine name to its storage and metadata managers: every
// registered pair but the planted-bug mutants. A pair with localfs, the
// reference storage manager, is named after its metadata manager
// ("durable"); others are named <storage>-<metadata>.
func pairs() map[string][2]string {
	out := map[string][2]string{}
	for _, r := range tiered.RSMs() {
		if strings.Contains(r, "/") {
			continue
		}
		for _, m := range tiered.RLMMs() {
			if strings.Contains(m, "/") {
				continue
			}
			name := r + "-" + m
			if r == "localfs" {
				name = m
			}
			out[name] = [2]string{r, m}
		}
	}
	return out
}

// Engines lists the manager pairs and the baseline.
func (Family) Engines() []string {
	var out []string
	for n := range pairs() {
		out = append(out, n)
	}
	slices.Sort(out)
	return append(out, RawCopy)
}

// Supports reports whether engine can run s: the baseline only copies.
func (Family) Supports(engine string, s *workloads.Spec) bool {
	if engine != RawCopy {
		return true
	}
	for op := range s.Mix {
		if op != "copy" {
			return false
		}
	}
	return true
}

// Validate rejects mixes that cannot do what they say.
func (Family) Validate(s *workloads.Spec) []workloads.FieldError {
	var errs []workloads.FieldError
	_, copies := s.Mix["copy"]
	for _, op := range []string{"lookup", "highest"} {
		if _, ok := s.Mix[op]; ok && !copies && s.Preload == 0 {
			errs = append(errs, workloads.FieldError{Field: "mix." + op, Msg: op + " with no segment: add copy to the mix or a preload"})
		}
	}
	return errs
}

// ErrorKind names the tiered sentinel errors.
func (Family) ErrorKind(err error) string {
	return workloads.KindOf(err,
		workloads.ErrorName{Err: tiered.ErrRemoteResourceNotFound, Name: "not_found"},
		workloads.ErrorName{Err: tiered.ErrInvalidTransition, Name: "invalid_transition"},
		workloads.ErrorName{Err: tiered.ErrInvalidArgument, Name: "invalid_argument"},
		workloads.ErrorName{Err: tiered.ErrCorrupt, Name: "corrupt"},
		workloads.ErrorName{Err: tiered.ErrFailed, Name: "failed"},
		workloads.ErrorName{Err: tiered.ErrClosed, Name: "closed"},
		workloads.ErrorName{Err: errNoSegment, Name: "no_segment"},
	)
}

// settings are a spec's parameters, parsed.
type settings struct {
	segSize, fetchLen     int64
	retain, fetchSegments int
	metaOnMem             bool
	preload               int
	fetches               bool
}

func parseSettings(s *workloads.Spec) settings {
	size := func(name, def string) int64 {
		n, _ := faults.ParseSize(s.Param(name, def))
		return n
	}
	u := func(name, def string) int {
		v, _ := strconv.ParseUint(s.Param(name, def), 10, 32)
		return int(v)
	}
	_, fetches := s.Mix["fetch"]
	return settings{
		segSize: size("segment_size", "1MiB"), fetchLen: size("fetch_len", "64KiB"),
		retain: u("retain", "4"), fetchSegments: u("fetch_segments", "4"),
		metaOnMem: s.Param("metadata_fs", "disk") == "mem",
		preload:   int(s.Preload), fetches: fetches,
	}
}

// Open opens a manager pair in env.Dir, or the baseline.
func (Family) Open(ctx context.Context, engine string, s *workloads.Spec, env workloads.Env) (workloads.Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	set := parseSettings(s)
	if engine == RawCopy {
		return openRaw(env.Dir, set)
	}
	p, ok := pairs()[engine]
	if !ok {
		return nil, fmt.Errorf("%w: tiered engine %q", tiered.ErrUnknownEngine, engine)
	}
	return openPair(env, p[0], p[1], set)
}
