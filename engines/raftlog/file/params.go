package file

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Parameters the engine accepts in Options.Params.
const (
	// ParamSegmentSize is the size at which a segment is sealed and the next
	// one started ("64MiB", "1MB", "4096"). A batch larger than a segment
	// gets a segment of its own.
	ParamSegmentSize = "segment_size"
	// ParamPreallocate says whether segments are filled with zeros ahead of
	// the writes, so that a sync of appended data does not also have to
	// update the file's size: "auto" (the default: on for files of the
	// operating system, off for in-memory ones), "on" or "off".
	ParamPreallocate = "preallocate"
)

const (
	defaultSegmentSize = 64 << 20
	minSegmentSize     = 1 << 10
	maxSegmentSize     = 1 << 34
)

type preallocMode int

const (
	preallocAuto preallocMode = iota
	preallocOn
	preallocOff
)

type params struct {
	segmentSize int64
	prealloc    preallocMode
}

func parseParams(p map[string]string) (params, error) {
	out := params{segmentSize: defaultSegmentSize}
	if err := raftlog.CheckParams("file", p, ParamSegmentSize, ParamPreallocate); err != nil {
		return out, err
	}
	if s, ok := p[ParamSegmentSize]; ok {
		n, err := ParseSize(s)
		if err != nil {
			return out, fmt.Errorf("%w: engine file: parameter %s: %v", raftlog.ErrBadOption, ParamSegmentSize, err)
		}
		if n < minSegmentSize || n > maxSegmentSize {
			return out, fmt.Errorf("%w: engine file: parameter %s: %d bytes is outside [%d, %d]", raftlog.ErrBadOption, ParamSegmentSize, n, int64(minSegmentSize), int64(maxSegmentSize))
		}
		out.segmentSize = n
	}
	if s, ok := p[ParamPreallocate]; ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "auto", "":
			out.prealloc = preallocAuto
		case "on", "true", "1", "yes":
			out.prealloc = preallocOn
		case "off", "false", "0", "no":
			out.prealloc = preallocOff
		default:
			return out, fmt.Errorf("%w: engine file: parameter %s: %q is not auto, on or off", raftlog.ErrBadOption, ParamPreallocate, s)
		}
	}
	return out, nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so "KiB" is not taken for "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000}, {"tb", 1000 * 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseSize parses a byte size: a non-negative integer, optionally followed
// by a unit: B; KB, MB, GB, TB (powers of 1000); KiB, MiB, GiB, TiB or K, M,
// G, T (powers of 1024). Case and spaces before the unit do not matter.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q is not a number of bytes with an optional unit (B, KB, KiB, MB, MiB, GB, GiB)", s)
	}
	if n > 0 && n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}
