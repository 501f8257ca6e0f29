package corruptcase_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/internal/corruptcase"
)

// A toy store: the file "log" holds records of a length, a CRC-32 and a
// payload; the file "meta" holds the record count. An honest reader checks
// both; the planted readers do not.
var errCorrupt = errors.New("toy: corrupt")

const toyRecords = 300

func toyPayload(i int) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x5A}, 1+i%40) }

func writeToy(t testing.TB, dir string, _ uint64) bool {
	t.Helper()
	var log []byte
	for i := 0; i < toyRecords; i++ {
		p := toyPayload(i)
		log = binary.LittleEndian.AppendUint32(log, uint32(len(p)))
		log = binary.LittleEndian.AppendUint32(log, crc32.ChecksumIEEE(p))
		log = append(log, p...)
	}
	if err := os.WriteFile(filepath.Join(dir, "log"), log, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta"), fmt.Appendf(nil, "%d", toyRecords), 0o644); err != nil {
		t.Fatal(err)
	}
	return true
}

// readToy returns the records of dir; with checked it verifies the
// checksums and the count.
func readToy(dir string, checked bool) ([][]byte, error) {
	log, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	meta, err := os.ReadFile(filepath.Join(dir, "meta"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	var out [][]byte
	for len(log) >= 8 {
		n, sum := binary.LittleEndian.Uint32(log), binary.LittleEndian.Uint32(log[4:])
		if int(n) > len(log)-8 {
			if checked {
				return nil, fmt.Errorf("%w: record %d runs past the end", errCorrupt, len(out))
			}
			break
		}
		p := log[8 : 8+n]
		if checked && crc32.ChecksumIEEE(p) != sum {
			return nil, fmt.Errorf("%w: record %d checksum", errCorrupt, len(out))
		}
		out = append(out, p)
		log = log[8+n:]
	}
	if checked && (len(log) != 0 || string(meta) != fmt.Sprint(len(out))) {
		return nil, fmt.Errorf("%w: %d records and %d stray bytes, meta says %q", errCorrupt, len(out), len(log), meta)
	}
	return out, nil
}

func toySubject(checked bool) corruptcase.Subject {
	return corruptcase.Subject{
		Name:      fmt.Sprintf("toy/checked=%v", checked),
		Meta:      "meta",
		IsCorrupt: func(err error) bool { return errors.Is(err, errCorrupt) },
		Write:     writeToy,
		Check: func(dir string, _ uint64, v *corruptcase.Verdict) {
			got, err := readToy(dir, checked)
			if v.Err("read", err) {
				return
			}
			for i := range toyRecords {
				switch {
				case i >= len(got):
					v.Lost("record %d", i)
				case !bytes.Equal(got[i], toyPayload(i)):
					v.Wrong("record %d", i)
				}
			}
		},
	}
}

func TestCheckedReaderPasses(t *testing.T) {
	results := corruptcase.Run(t, toySubject(true), corruptcase.Trials(3))
	if want := 1 + (len(corruptcase.Columns())-1)*3; len(results) != want {
		t.Fatalf("%d results, want %d", len(results), want)
	}
	for _, r := range results {
		if !r.Outcome.Pass() {
			t.Errorf("%s", r)
		}
	}
}

// The planted reader ignores its checksums: the case sees wrong data or
// losses, in a child and in process alike.
func TestUncheckedReaderCaught(t *testing.T) {
	check := func(t testing.TB, results []corruptcase.Result) {
		bad := map[corruptcase.Outcome]int{}
		for _, r := range results {
			if !r.Outcome.Pass() {
				bad[r.Outcome]++
			}
		}
		if bad[corruptcase.Wrong] == 0 || bad[corruptcase.Lost] == 0 {
			t.Errorf("the unchecked reader was not caught with both wrong data and losses: %v", bad)
		}
	}
	check(t, corruptcase.Run(t, toySubject(false), corruptcase.Trials(3)))
	t.Run("in process", func(t *testing.T) {
		check(t, corruptcase.Run(recorder{t}, toySubject(false), corruptcase.Trials(3)))
	})
}

// recorder is a testing.TB that is not a *testing.T, as a suite's
// Failures runs cases: trials then run in process.
type recorder struct{ *testing.T }

func TestCrashAndHangInChild(t *testing.T) {
	s := toySubject(true)
	s.Name = "toy/misbehaving"
	s.Check = func(dir string, _ uint64, v *corruptcase.Verdict) {
		_, logErr := os.Stat(filepath.Join(dir, "log"))
		meta, _ := os.ReadFile(filepath.Join(dir, "meta"))
		switch {
		case logErr != nil:
			// Die in a goroutine of our own, as bbolt does at open.
			go func() { panic("toy: the log is gone") }()
			time.Sleep(time.Hour)
		case !bytes.Equal(meta, []byte(fmt.Sprint(toyRecords))):
			time.Sleep(time.Hour)
		default:
			panic("toy: panics in the reading goroutine")
		}
	}
	defer func(d time.Duration) { corruptcase.Timeout = d }(corruptcase.Timeout)
	corruptcase.Timeout = time.Second
	var trials []corruptcase.Trial
	for seed := uint64(1); seed <= 3; seed++ {
		trials = append(trials, corruptcase.Trial{Column: "delete", Seed: seed})
	}
	trials = append(trials, corruptcase.Trial{Column: corruptcase.MetaColumn, Seed: 1}, corruptcase.Trial{Column: "garbage", Seed: 1}, corruptcase.Trial{Column: "garbage", Seed: 2})
	seen := map[corruptcase.Outcome]bool{}
	for _, r := range corruptcase.Run(t, s, trials) {
		want := corruptcase.Panicked
		switch {
		case strings.Contains(r.Damage, "delete log"):
			want = corruptcase.Crashed
		case strings.Contains(r.Damage, " meta "):
			want = corruptcase.Hung
		}
		seen[want] = true
		if r.Outcome != want {
			t.Errorf("%s: want %s", r, want)
		}
		if r.Outcome == corruptcase.Crashed && !strings.Contains(r.Detail, "toy: the log is gone") {
			t.Errorf("%s: the detail does not quote the panic", r)
		}
	}
	if len(seen) != 3 {
		t.Errorf("the trials saw only %v; want a crash, a hang and a panic", seen)
	}
}

func TestVerdictKeepsTheWorst(t *testing.T) {
	v := corruptcase.NewVerdict(func(err error) bool { return errors.Is(err, errCorrupt) })
	if v.Outcome() != corruptcase.Correct || v.Err("nothing", nil) {
		t.Fatalf("empty verdict: %s", v.Outcome())
	}
	v.Err("read", errCorrupt)
	if v.Outcome() != corruptcase.Detected {
		t.Fatalf("after a corruption error: %s", v.Outcome())
	}
	v.Err("read", errors.New("disk on fire"))
	v.Lost("record 3")
	v.Wrong("record 4")
	v.Resurrected("record 5")
	if v.Outcome() != corruptcase.Wrong || !strings.HasPrefix(v.Detail(), "record 4") {
		t.Fatalf("verdict %s (%s), want wrong led by record 4", v.Outcome(), v.Detail())
	}
	for _, o := range corruptcase.Outcomes() {
		if o.Pass() != (o == corruptcase.Correct || o == corruptcase.Detected) {
			t.Errorf("%s.Pass() = %v", o, o.Pass())
		}
	}
}

func TestTrialCorruptions(t *testing.T) {
	for _, tr := range corruptcase.Trials(4)[1:] {
		c := tr.Corruption("meta|*.db")
		if err := c.Validate(); err != nil {
			t.Fatalf("%+v: %v", tr, err)
		}
		if tr.Column == corruptcase.MetaColumn {
			if c.At != faults.RegionHead || c.Path != "meta|*.db" || c.Kind == faults.CorruptDelete || c.Kind == faults.CorruptGarbage {
				t.Errorf("metadata trial %+v is %s", tr, c)
			}
			continue
		}
		if string(tr.Column) != c.Kind.String() || c.Path != "" || c.Seed != tr.Seed {
			t.Errorf("trial %+v is %s", tr, c)
		}
	}
}
