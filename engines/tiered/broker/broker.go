// Package broker is a simulated Kafka broker that drives the tiered-storage
// SPIs the way a real one does, crashes it, and checks what survives. It
// rolls local segments of synthetic records, copies each through a
// RemoteStorageManager while recording its lifecycle in a
// RemoteLogMetadataManager (COPY_SEGMENT_STARTED, copy,
// COPY_SEGMENT_FINISHED), serves consumer fetches from the remote tier, and
// deletes the oldest segments by retention (DELETE_SEGMENT_STARTED, delete
// the data, DELETE_SEGMENT_FINISHED).
//
// # Crashes
//
// Both managers keep their files on one faults.Disk. Between every two
// steps of a copy, a deletion or a recovery, the campaign may cut the power
// (a seeded draw): the disk keeps what was synced and a seeded share of
// what was not, the managers are opened again on what is left, and the
// broker runs the recovery pass every broker runs at start: a segment left
// in COPY_SEGMENT_STARTED is moved to DELETE_SEGMENT_STARTED, its data
// deleted and the segment moved to DELETE_SEGMENT_FINISHED; a segment left
// in DELETE_SEGMENT_STARTED has its deletion finished. Each restart starts
// a new leader epoch. A metadata manager that keeps nothing across Close
// (memory) stands for a metadata service outside the crashed node: it is
// kept across the crash and only the remote storage is reopened.
//
// # Invariants
//
// Run checks, after every restart and at the end of the campaign:
//
//   - acked-survives: right after a reopen, every segment is in the state
//     its last acknowledged change left it in (a manager that declares
//     SyncOnWrite promises that);
//   - finished-readable: no segment is COPY_SEGMENT_FINISHED unless its
//     data and every index read back complete and unchanged;
//   - finished-survives: every segment acknowledged COPY_SEGMENT_FINISHED is
//     still COPY_SEGMENT_FINISHED, or being deleted because retention asked
//     for it (acknowledged DELETE_SEGMENT_STARTED);
//   - recovered: after the recovery pass no segment is in
//     COPY_SEGMENT_STARTED or DELETE_SEGMENT_STARTED;
//   - no-orphans: after the recovery pass every file of the remote tier is
//     the data of a segment the metadata manager lists (so not
//     DELETE_SEGMENT_FINISHED);
//   - lookup-finished: a lookup, the consumer fetch at the offset being
//     copied included, returns only COPY_SEGMENT_FINISHED segments, and
//     finds every acknowledged finished one;
//   - legal-transitions: the metadata manager refuses to bring back a
//     segment whose deletion finished, or to restart a finished copy.
//
// Crash points lie between the broker's calls, not inside them: a storage
// manager whose copy is not atomic (a torn file renamed into place before
// its data is synced) goes unseen here, because the broker only trusts a
// copy once COPY_SEGMENT_FINISHED is acknowledged and deletes what an
// interrupted one left; the conformance suite's crash-during-copy case
// catches that defect.
//
// The orphan check knows the file layout of localfs (one <segment
// id>.seg file per segment under the remote directory); for another
// storage manager, Config.Objects lists its objects.
package broker

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/faults"
)

// The invariants Run checks, as Violation.Invariant names them.
const (
	InvAckedSurvives    = "acked-survives"
	InvFinishedReadable = "finished-readable"
	InvFinishedSurvives = "finished-survives"
	InvRecovered        = "recovered"
	InvNoOrphans        = "no-orphans"
	InvLookupFinished   = "lookup-finished"
	InvLegalTransitions = "legal-transitions"
	// InvReopen is broken when a manager fails to open after a power loss
	// or refuses a change it must accept.
	InvReopen = "reopen"
)

// Directories on the shared disk.
const (
	RemoteDir = "/remote"
	RLMMDir   = "/rlmm"
	localDir  = "/local"
)

// Config is one crash campaign.
type Config struct {
	// RSM and RLMM are registered names (default "localfs" and
	// "durable"); the packages registering them must be imported.
	RSM, RLMM string
	// RSMParams and RLMMParams are passed to the managers.
	RSMParams, RLMMParams map[string]string
	Seed                  uint64
	// Steps is how many broker steps (tier a segment, fetch, apply
	// retention) run; default 40.
	Steps int
	// SegmentBytes is the size of each segment's log data; default 4096.
	SegmentBytes int
	// Retain is how many finished segments retention keeps; default 3.
	Retain int
	// CrashPercent is the chance, in percent, of a power loss at each crash
	// point; default 8. MaxCrashes bounds them; default 8, negative for a
	// crash-free run.
	CrashPercent, MaxCrashes int
	// Objects lists the segment IDs whose data the remote tier holds on fs
	// under dir, and the names of files that belong to no segment; nil
	// reads the localfs layout.
	Objects func(fs vfs.FS, dir string) (ids []tiered.UUID, strays []string, err error)
	// WrapRLMM, if set, wraps the metadata manager each time it is opened
	// (reopened is false the first time), so that a recording client can
	// log the broker's calls.
	WrapRLMM func(m tiered.RemoteLogMetadataManager, reopened bool) tiered.RemoteLogMetadataManager
}

func (c Config) withDefaults() Config {
	if c.RSM == "" {
		c.RSM = "localfs"
	}
	if c.RLMM == "" {
		c.RLMM = "durable"
	}
	if c.Steps == 0 {
		c.Steps = 40
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 4096
	}
	if c.Retain == 0 {
		c.Retain = 3
	}
	if c.CrashPercent == 0 {
		c.CrashPercent = 8
	}
	if c.MaxCrashes == 0 {
		c.MaxCrashes = 8
	}
	if c.Objects == nil {
		c.Objects = LocalfsObjects
	}
	return c
}

// Event is one step of the campaign's history.
type Event struct {
	Step    int    `json:"step"`
	Op      string `json:"op"`
	Segment string `json:"segment,omitempty"`
	Offset  int64  `json:"offset,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Err     string `json:"err,omitempty"`
}

// Violation is one broken invariant.
type Violation struct {
	Invariant string `json:"invariant"`
	Step      int    `json:"step"`
	Detail    string `json:"detail"`
}

func (v Violation) String() string {
	return fmt.Sprintf("step %d: %s: %s", v.Step, v.Invariant, v.Detail)
}

// Result is what a campaign did and found.
type Result struct {
	RSM        string      `json:"rsm"`
	RLMM       string      `json:"rlmm"`
	Seed       uint64      `json:"seed"`
	Steps      int         `json:"steps"`
	Crashes    int         `json:"crashes"`
	Copied     int         `json:"copied"`
	Deleted    int         `json:"deleted"`
	Fetches    int         `json:"fetches"`
	Checks     int         `json:"checks"`
	Violations []Violation `json:"violations"`
	History    []Event     `json:"history"`
}

// OK reports whether no invariant was broken.
func (r *Result) OK() bool { return len(r.Violations) == 0 }

// seg is the broker's view of one segment: its metadata and the state of
// its last acknowledged change.
type seg struct {
	meta  tiered.RemoteLogSegmentMetadata
	acked tiered.RemoteLogSegmentState
	epoch int32
}

type broker struct {
	cfg        Config
	rng        *rand.Rand
	disk       *faults.Disk
	local      vfs.FS
	rsm        tiered.RemoteStorageManager
	rlmm       tiered.RemoteLogMetadataManager
	persistent bool
	tp         tiered.TopicIDPartition
	epoch      int32
	next       int64
	segs       map[tiered.UUID]*seg
	order      []tiered.UUID
	res        *Result
	step       int
	stopped    bool
}

// Run runs one crash campaign. It returns an error only when the campaign
// cannot start (an unknown manager, a bad parameter); broken invariants are
// in the result.
func Run(cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.Steps < 0 || cfg.SegmentBytes < 0 || cfg.Retain < 0 || cfg.CrashPercent < 0 || cfg.CrashPercent > 100 {
		return nil, fmt.Errorf("%w: negative setting or crash percent over 100", ErrConfig)
	}
	b := &broker{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x7469657265642d62)),
		disk:  faults.NewDisk(nil),
		local: vfs.NewMem(),
		segs:  map[tiered.UUID]*seg{},
		res:   &Result{RSM: cfg.RSM, RLMM: cfg.RLMM, Seed: cfg.Seed},
	}
	b.tp = tiered.TopicIDPartition{TopicID: tiered.NewUUID(b.rng), Topic: "orders", Partition: 0}
	for _, d := range []string{RemoteDir, RLMMDir} {
		if err := b.disk.FS().MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("broker: mkdir %s: %w", d, err)
		}
	}
	if err := syncDir(b.disk.FS(), "/"); err != nil {
		return nil, err
	}
	if err := b.openRSM(); err != nil {
		return nil, err
	}
	rl, err := tiered.OpenRLMM(cfg.RLMM, tiered.Options{Dir: RLMMDir, FS: b.disk.FS(), Params: cfg.RLMMParams})
	if err != nil {
		_ = b.rsm.Close()
		return nil, err
	}
	b.persistent = rl.Capabilities().Persistent
	b.rlmm = b.wrap(rl, false)
	if err := rl.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{b.tp}, nil); err != nil {
		b.close()
		return nil, fmt.Errorf("broker: assign partition: %w", err)
	}
	b.epoch = 1
	defer b.close()
	for b.step = 1; b.step <= cfg.Steps && !b.stopped; b.step++ {
		b.res.Steps = b.step
		var err error
		switch r := b.rng.IntN(10); {
		case r < 5:
			err = b.tierOne()
		case r < 8:
			err = b.fetch()
		default:
			err = b.retention()
		}
		if errors.Is(err, ErrCrashed) {
			b.restart()
		}
	}
	if !b.stopped {
		b.checkAll("end")
	}
	return b.res, nil
}

func (b *broker) wrap(m tiered.RemoteLogMetadataManager, reopened bool) tiered.RemoteLogMetadataManager {
	if b.cfg.WrapRLMM == nil {
		return m
	}
	return b.cfg.WrapRLMM(m, reopened)
}

func (b *broker) openRSM() error {
	s, err := tiered.OpenRSM(b.cfg.RSM, tiered.Options{Dir: RemoteDir, FS: b.disk.FS(), Params: b.cfg.RSMParams})
	if err != nil {
		return err
	}
	b.rsm = s
	return nil
}

func (b *broker) close() {
	if b.rsm != nil {
		_ = b.rsm.Close()
		b.rsm = nil
	}
	if b.rlmm != nil {
		_ = b.rlmm.Close()
		b.rlmm = nil
	}
}

func (b *broker) log(op string, s *seg, detail string, err error) {
	e := Event{Step: b.step, Op: op, Detail: detail}
	if s != nil {
		e.Segment, e.Offset = s.meta.ID.ID.String(), s.meta.StartOffset
	}
	if err != nil {
		e.Err = err.Error()
	}
	b.res.History = append(b.res.History, e)
}

func (b *broker) violate(inv, format string, args ...any) {
	v := Violation{Invariant: inv, Step: b.step, Detail: fmt.Sprintf(format, args...)}
	b.res.Violations = append(b.res.Violations, v)
	b.log("violation", nil, v.Invariant+": "+v.Detail, nil)
	b.stopped = true
}

// point is a crash point: with the configured chance it cuts the power and
// returns ErrCrashed.
func (b *broker) point() error {
	if b.cfg.MaxCrashes < 0 || b.res.Crashes >= b.cfg.MaxCrashes || b.rng.IntN(100) >= b.cfg.CrashPercent {
		return nil
	}
	b.res.Crashes++
	pct := b.rng.IntN(3) * 50
	seed := b.rng.Uint64()
	nd, err := b.disk.PowerLoss(seed, pct, nil)
	if err != nil {
		b.violate(InvReopen, "power loss: %v", err)
		return ErrCrashed
	}
	if b.rsm != nil {
		_ = b.rsm.Close()
		b.rsm = nil
	}
	if b.persistent && b.rlmm != nil {
		_ = b.rlmm.Close()
		b.rlmm = nil
	}
	b.disk = nd
	b.log("crash", nil, fmt.Sprintf("power loss, %d%% of unsynced blocks kept", pct), nil)
	return ErrCrashed
}

// restart reopens the managers after a power loss and runs the recovery
// pass, again after every crash that cuts it short.
func (b *broker) restart() {
	for !b.stopped {
		if err := b.openRSM(); err != nil {
			b.violate(InvReopen, "open %s after a power loss: %v", b.cfg.RSM, err)
			return
		}
		if b.rlmm == nil {
			rl, err := tiered.OpenRLMM(b.cfg.RLMM, tiered.Options{Dir: RLMMDir, FS: b.disk.FS(), Params: b.cfg.RLMMParams})
			if err != nil {
				b.violate(InvReopen, "open %s after a power loss: %v", b.cfg.RLMM, err)
				return
			}
			b.rlmm = b.wrap(rl, true)
		}
		if err := b.rlmm.OnPartitionLeadershipChanges([]tiered.TopicIDPartition{b.tp}, nil); err != nil {
			b.violate(InvReopen, "assign partition: %v", err)
			return
		}
		b.epoch++
		b.log("reopen", nil, fmt.Sprintf("leader epoch %d", b.epoch), nil)
		b.checkAcked()
		if b.stopped {
			return
		}
		err := b.recover()
		if errors.Is(err, ErrCrashed) {
			continue
		}
		if err == nil {
			b.checkAll("recovery")
		}
		return
	}
}

// must records an unexpected error from a manager as a violation.
func (b *broker) must(what string, s *seg, err error) error {
	b.log(what, s, "", err)
	if err != nil {
		b.violate(InvReopen, "%s of %s: %v", what, s.meta.ID.ID, err)
	}
	return err
}

func (b *broker) update(s *seg, to tiered.RemoteLogSegmentState) error {
	err := b.rlmm.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{
		ID: s.meta.ID, State: to, BrokerID: 1, EventTimestampMs: int64(b.step),
	})
	if b.must(to.String(), s, err) != nil {
		return err
	}
	s.acked = to
	return nil
}

// tierOne rolls a segment and copies it to the remote tier.
func (b *broker) tierOne() error {
	recs := int64(10 + b.rng.IntN(90))
	m := tiered.RemoteLogSegmentMetadata{
		ID:                  tiered.RemoteLogSegmentID{TopicIDPartition: b.tp, ID: tiered.NewUUID(b.rng)},
		StartOffset:         b.next,
		EndOffset:           b.next + recs - 1,
		MaxTimestampMs:      int64(b.step) * 1000,
		BrokerID:            1,
		EventTimestampMs:    int64(b.step),
		SegmentSizeInBytes:  int64(b.cfg.SegmentBytes),
		State:               tiered.CopySegmentStarted,
		SegmentLeaderEpochs: map[int32]int64{b.epoch: b.next},
	}
	b.next += recs
	s := &seg{meta: m, epoch: b.epoch}
	c := MakeContent(m.ID.ID, b.cfg.SegmentBytes)
	data, err := WriteLocal(b.local, localDir, m.ID.ID, c)
	if err != nil {
		b.violate(InvReopen, "write local segment: %v", err)
		return err
	}
	defer RemoveLocal(data)
	if err := b.must("add", s, b.rlmm.AddRemoteLogSegmentMetadata(m)); err != nil {
		return err
	}
	b.segs[m.ID.ID] = s
	b.order = append(b.order, m.ID.ID)
	s.acked = tiered.CopySegmentStarted
	if err := b.point(); err != nil {
		return err
	}
	// A consumer fetches the offset being tiered: it must not be served
	// from a copy that has not finished.
	b.lookupInFlight(s)
	if b.stopped {
		return nil
	}
	_, err = b.rsm.CopyLogSegmentData(m, data)
	if b.must("copy", s, err) != nil {
		return err
	}
	if err := b.point(); err != nil {
		return err
	}
	if err := b.update(s, tiered.CopySegmentFinished); err != nil {
		return err
	}
	b.res.Copied++
	if err := b.point(); err != nil {
		return err
	}
	return b.retention()
}

func (b *broker) lookupInFlight(s *seg) {
	got, ok, err := b.rlmm.RemoteLogSegmentMetadata(b.tp, s.epoch, s.meta.StartOffset)
	b.log("lookup", s, fmt.Sprintf("in flight, found %v", ok), err)
	if err != nil {
		b.violate(InvLookupFinished, "lookup of offset %d: %v", s.meta.StartOffset, err)
		return
	}
	if ok {
		b.violate(InvLookupFinished, "lookup of offset %d being copied returned segment %s in %s", s.meta.StartOffset, got.ID.ID, got.State)
	}
}

// finished lists the segments acknowledged finished, oldest first.
func (b *broker) finished() []*seg {
	var out []*seg
	for _, id := range b.order {
		if s := b.segs[id]; s.acked == tiered.CopySegmentFinished {
			out = append(out, s)
		}
	}
	return out
}

// retention deletes the oldest finished segments beyond Retain.
func (b *broker) retention() error {
	for {
		fin := b.finished()
		if len(fin) <= b.cfg.Retain {
			return nil
		}
		if err := b.deleteSeg(fin[0]); err != nil {
			return err
		}
	}
}

func (b *broker) deleteSeg(s *seg) error {
	if s.acked != tiered.DeleteSegmentStarted {
		if err := b.update(s, tiered.DeleteSegmentStarted); err != nil {
			return err
		}
		if err := b.point(); err != nil {
			return err
		}
	}
	if err := b.must("delete", s, b.rsm.DeleteLogSegmentData(s.meta)); err != nil {
		return err
	}
	if err := b.point(); err != nil {
		return err
	}
	if err := b.update(s, tiered.DeleteSegmentFinished); err != nil {
		return err
	}
	b.res.Deleted++
	return b.point()
}

// fetch serves a consumer fetch of a random offset of a finished segment.
func (b *broker) fetch() error {
	fin := b.finished()
	if len(fin) == 0 {
		return nil
	}
	s := fin[b.rng.IntN(len(fin))]
	off := s.meta.StartOffset + b.rng.Int64N(s.meta.EndOffset-s.meta.StartOffset+1)
	b.res.Fetches++
	got, ok, err := b.rlmm.RemoteLogSegmentMetadata(b.tp, s.epoch, off)
	b.log("fetch", s, fmt.Sprintf("offset %d", off), err)
	switch {
	case err != nil:
		b.violate(InvLookupFinished, "lookup of offset %d: %v", off, err)
	case !ok:
		b.violate(InvLookupFinished, "offset %d of finished segment %s not found", off, s.meta.ID.ID)
	case got.State != tiered.CopySegmentFinished || got.ID != s.meta.ID:
		b.violate(InvLookupFinished, "offset %d resolved to %s in %s, want %s", off, got.ID.ID, got.State, s.meta.ID.ID)
	default:
		size := int64(b.cfg.SegmentBytes)
		start := b.rng.Int64N(size + 1)
		end := start + b.rng.Int64N(size-start+1)
		want := MakeContent(s.meta.ID.ID, b.cfg.SegmentBytes).Log
		if start <= end && end < size {
			want = want[start : end+1]
		} else {
			want = want[start:]
		}
		r, err := b.rsm.FetchLogSegment(got, start, end)
		gotb, err := readAll(r, err)
		if err != nil || !slices.Equal(gotb, want) {
			b.violate(InvFinishedReadable, "fetch of %s bytes [%d, %d]: %d bytes, err %v", s.meta.ID.ID, start, end, len(gotb), err)
		}
	}
	return nil
}

// recover is the broker's start-up pass over the partition's segments.
func (b *broker) recover() error {
	list, err := b.rlmm.ListRemoteLogSegments(b.tp)
	b.log("recover", nil, fmt.Sprintf("%d segments listed", len(list)), err)
	if err != nil {
		b.violate(InvReopen, "list segments: %v", err)
		return err
	}
	for _, m := range list {
		s := b.segs[m.ID.ID]
		if s == nil {
			s = &seg{meta: m, acked: m.State, epoch: m.Epochs()[0].Epoch}
			b.segs[m.ID.ID] = s
			b.order = append(b.order, m.ID.ID)
		}
		switch m.State {
		case tiered.CopySegmentStarted, tiered.DeleteSegmentStarted:
			if err := b.deleteSeg(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// state returns the listed state of every segment.
func (b *broker) listed() (map[tiered.UUID]tiered.RemoteLogSegmentMetadata, error) {
	list, err := b.rlmm.ListRemoteLogSegments(b.tp)
	if err != nil {
		return nil, err
	}
	out := make(map[tiered.UUID]tiered.RemoteLogSegmentMetadata, len(list))
	for _, m := range list {
		out[m.ID.ID] = m
	}
	return out, nil
}

// checkAcked checks, right after a reopen, that every acknowledged change
// survived.
func (b *broker) checkAcked() {
	b.res.Checks++
	got, err := b.listed()
	if err != nil {
		b.violate(InvReopen, "list segments: %v", err)
		return
	}
	for _, id := range b.order {
		s := b.segs[id]
		m, ok := got[id]
		switch {
		case s.acked == tiered.DeleteSegmentFinished && ok:
			b.violate(InvAckedSurvives, "segment %s acknowledged %s is back in %s", id, s.acked, m.State)
		case s.acked != tiered.DeleteSegmentFinished && !ok:
			b.violate(InvAckedSurvives, "segment %s acknowledged %s is gone", id, s.acked)
		case ok && m.State != s.acked:
			b.violate(InvAckedSurvives, "segment %s acknowledged %s is in %s", id, s.acked, m.State)
		}
		if b.stopped {
			return
		}
	}
}

// checkAll checks every invariant of a recovered broker.
func (b *broker) checkAll(when string) {
	b.res.Checks++
	b.log("check", nil, when, nil)
	got, err := b.listed()
	if err != nil {
		b.violate(InvReopen, "list segments: %v", err)
		return
	}
	for _, id := range b.order {
		s := b.segs[id]
		m, ok := got[id]
		if s.acked == tiered.CopySegmentFinished && (!ok || m.State != tiered.CopySegmentFinished) {
			state := tiered.StateNone
			if ok {
				state = m.State
			}
			b.violate(InvFinishedSurvives, "segment %s acknowledged %s is in %s (%s)", id, s.acked, state, when)
			return
		}
	}
	for _, id := range b.order {
		m, ok := got[id]
		if !ok {
			continue
		}
		if m.State != tiered.CopySegmentFinished {
			b.violate(InvRecovered, "segment %s left in %s (%s)", id, m.State, when)
			return
		}
		if err := b.readable(m); err != nil {
			b.violate(InvFinishedReadable, "segment %s: %v (%s)", id, err, when)
			return
		}
		s := b.segs[id]
		off := m.EndOffset
		l, ok, err := b.rlmm.RemoteLogSegmentMetadata(b.tp, s.epoch, off)
		if err != nil || !ok || l.ID != m.ID || l.State != tiered.CopySegmentFinished {
			b.violate(InvLookupFinished, "lookup of offset %d of finished segment %s: found %v, %s in %s, err %v (%s)", off, id, ok, l.ID.ID, l.State, err, when)
			return
		}
	}
	ids, strays, err := b.cfg.Objects(b.disk.FS(), RemoteDir)
	if err != nil {
		b.violate(InvReopen, "list remote objects: %v", err)
		return
	}
	if len(strays) > 0 {
		b.violate(InvNoOrphans, "files of no segment in the remote tier: %v (%s)", strays, when)
		return
	}
	for _, id := range ids {
		if _, ok := got[id]; !ok {
			state := "unknown to the metadata manager"
			if s := b.segs[id]; s != nil {
				state = s.acked.String()
			}
			b.violate(InvNoOrphans, "remote data of segment %s, %s (%s)", id, state, when)
			return
		}
	}
	b.probeTransitions(when)
}

// readable reads the segment's data and every index back and compares them
// with what was copied.
func (b *broker) readable(m tiered.RemoteLogSegmentMetadata) error {
	want := MakeContent(m.ID.ID, int(m.SegmentSizeInBytes))
	r, err := b.rsm.FetchLogSegment(m, 0, tiered.ToEnd)
	got, err := readAll(r, err)
	if err != nil {
		return fmt.Errorf("log data: %w", err)
	}
	if !slices.Equal(got, want.Log) {
		return fmt.Errorf("log data differs: %d bytes read, %d copied", len(got), len(want.Log))
	}
	for _, t := range tiered.IndexTypes() {
		r, err := b.rsm.FetchIndex(m, t)
		got, err := readAll(r, err)
		w := want.Index(t)
		if w == nil {
			if !errors.Is(err, tiered.ErrRemoteResourceNotFound) {
				return fmt.Errorf("%s index of a segment copied without it: %d bytes, err %v", t, len(got), err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s index: %w", t, err)
		}
		if !slices.Equal(got, w) {
			return fmt.Errorf("%s index differs", t)
		}
	}
	return nil
}

// probeTransitions asks the manager for changes it must refuse.
func (b *broker) probeTransitions(when string) {
	for _, id := range b.order {
		s := b.segs[id]
		var err error
		var what string
		switch s.acked {
		case tiered.DeleteSegmentFinished:
			what = "DELETE_SEGMENT_FINISHED -> COPY_SEGMENT_FINISHED"
			err = b.rlmm.UpdateRemoteLogSegmentMetadata(tiered.RemoteLogSegmentMetadataUpdate{ID: s.meta.ID, State: tiered.CopySegmentFinished, BrokerID: 1})
		case tiered.CopySegmentFinished:
			what = "COPY_SEGMENT_FINISHED -> COPY_SEGMENT_STARTED"
			err = b.rlmm.AddRemoteLogSegmentMetadata(s.meta)
		default:
			continue
		}
		b.log("probe", s, what, err)
		if !errors.Is(err, tiered.ErrInvalidTransition) {
			b.violate(InvLegalTransitions, "segment %s: %s returned %v, want an invalid transition (%s)", id, what, err, when)
		}
		return
	}
}

// LocalfsObjects lists the segments whose data localfs holds under dir of
// fs (files <segment id>.seg in one directory per partition), and every
// other file as a stray.
func LocalfsObjects(fs vfs.FS, dir string) (ids []tiered.UUID, strays []string, err error) {
	parts, err := fs.List(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("broker: list %s: %w", dir, err)
	}
	slices.Sort(parts)
	for _, p := range parts {
		pdir := fs.PathJoin(dir, p)
		st, err := fs.Stat(pdir)
		if err != nil {
			return nil, nil, fmt.Errorf("broker: stat %s: %w", pdir, err)
		}
		if !st.IsDir() {
			strays = append(strays, pdir)
			continue
		}
		names, err := fs.List(pdir)
		if err != nil {
			return nil, nil, fmt.Errorf("broker: list %s: %w", pdir, err)
		}
		slices.Sort(names)
		for _, n := range names {
			base, ok := strings.CutSuffix(n, ".seg")
			id, perr := tiered.ParseUUID(base)
			if !ok || perr != nil {
				strays = append(strays, fs.PathJoin(pdir, n))
				continue
			}
			ids = append(ids, id)
		}
	}
	return ids, strays, nil
}

func readAll(r io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("broker: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("broker: sync %s: %w", dir, err)
	}
	return nil
}
