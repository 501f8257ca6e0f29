package jepsenlite

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/tiered"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/durable"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/localfs"
	_ "github.com/ordeal-dev/ordeal/engines/tiered/memory"
	tieredmutants "github.com/ordeal-dev/ordeal/engines/tiered/mutants"
	"github.com/ordeal-dev/ordeal/linearizability/rlmmmodel"
	"github.com/ordeal-dev/ordeal/linearizability/tieredmodel"
)

// The tiered family: Kafka's tiered-storage SPI (KIP-405), a remote
// storage manager and a remote log metadata manager driven together as a
// broker drives them, checked by tieredmodel per partition.
//
// An engine is a pair. tiered/NAME runs the metadata manager NAME with
// the localfs storage manager, or, when NAME is a storage manager only
// (a third-party one, or a storage mutant), that storage manager with
// the durable metadata manager. Both are opened on the same file system,
// in DIR/rsm and DIR/rlmm; a copy writes the segment's local files in
// DIR/local. Parameters go to one of the two as rsm.KEY or rlmm.KEY.
func init() {
	Register(Spec[*tieredEngine, tieredmodel.Input, tieredmodel.Input, tieredmodel.Output, tieredmodel.Traits]{
		Name:    "tiered",
		Doc:     "tiered storage: remote storage and remote log metadata managers together (KIP-405)",
		Engines: tieredEngines,
		Mutants: func() []Mutant {
			var out []Mutant
			for _, m := range tieredmutants.List() {
				out = append(out, Mutant{Name: m.Name, Bug: m.Bug})
			}
			return out
		},
		Open:      openTiered,
		Close:     func(e *tieredEngine) error { return errors.Join(e.RSM.Close(), e.RLMM.Close()) },
		Apply:     (*tieredEngine).apply,
		Input:     func(in tieredmodel.Input) tieredmodel.Input { return in },
		Workload:  newTieredWorkload,
		Unknown:   tieredmodel.Unknown,
		IsUnknown: func(o tieredmodel.Output) bool { return o.Err == rlmmmodel.ErrUnknown },
		Crash: func(d string) tieredmodel.Input {
			return tieredmodel.Input{Input: rlmmmodel.Input{Kind: tieredmodel.KindCrash, Detail: d}}
		},
		IsCrash: func(in tieredmodel.Input) bool { return in.Kind == tieredmodel.KindCrash },
		Method:  func(in tieredmodel.Input) string { return string(in.Kind) },
		Outcome: func(o tieredmodel.Output) string { return outcomeClass(string(o.Err)) },
		Check:   tieredmodel.Check,
	}.Family())
}

// tieredEngine is an opened pair in its directory.
type tieredEngine struct {
	tieredmodel.Pair
	dir string
}

// apply runs in; an error's text names the directory DIR, so that a
// history does not depend on where the run put its files.
func (e *tieredEngine) apply(in tieredmodel.Input) tieredmodel.Output {
	out := tieredmodel.Apply(e.Pair, in)
	if out.Message != "" {
		out.Message = strings.ReplaceAll(out.Message, e.dir, "DIR")
	}
	return out
}

// tieredEngines names every pair: each metadata manager (mutants
// included) with localfs, and each other storage manager with durable.
func tieredEngines() []string {
	rlmms := tiered.RLMMs()
	out := slices.Clone(rlmms)
	for _, n := range tiered.RSMs() {
		if n != "localfs" && !slices.Contains(rlmms, n) {
			out = append(out, n)
		}
	}
	return out
}

// tieredPair resolves an engine name to its storage and metadata
// managers.
func tieredPair(engine string) (rsm, rlmm string, err error) {
	if slices.Contains(tiered.RLMMs(), engine) {
		return "localfs", engine, nil
	}
	if slices.Contains(tiered.RSMs(), engine) {
		return engine, "durable", nil
	}
	return "", "", fmt.Errorf("%w: unknown tiered engine %q (metadata managers %v, storage managers %v)", ErrUsage, engine, tiered.RLMMs(), tiered.RSMs())
}

// tieredParams splits the parameters into the storage manager's (rsm.KEY)
// and the metadata manager's (rlmm.KEY).
func tieredParams(p map[string]string) (rsm, rlmm map[string]string, err error) {
	rsm, rlmm = map[string]string{}, map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(p)) {
		switch {
		case strings.HasPrefix(k, "rsm."):
			rsm[strings.TrimPrefix(k, "rsm.")] = p[k]
		case strings.HasPrefix(k, "rlmm."):
			rlmm[strings.TrimPrefix(k, "rlmm.")] = p[k]
		default:
			return nil, nil, fmt.Errorf("%w: tiered parameter %q: name the manager it is for, rsm.KEY or rlmm.KEY", tiered.ErrBadOption, k)
		}
	}
	return rsm, rlmm, nil
}

func openTiered(engine string, o OpenOptions) (*tieredEngine, Info, tieredmodel.Traits, error) {
	fail := func(err error) (*tieredEngine, Info, tieredmodel.Traits, error) {
		return nil, Info{}, tieredmodel.Traits{}, err
	}
	rsmName, rlmmName, err := tieredPair(engine)
	if err != nil {
		return fail(err)
	}
	rsmParams, rlmmParams, err := tieredParams(o.Params)
	if err != nil {
		return fail(err)
	}
	fsys := o.FS
	if fsys == nil {
		fsys = vfs.Default
	}
	// The pair's directory is the broker's: it is created, and made
	// durable, here; each manager makes its own entry in it durable.
	if err := fsys.MkdirAll(o.Dir, 0o755); err != nil {
		return fail(fmt.Errorf("tiered: create %s: %w", o.Dir, err))
	}
	if err := tieredSyncDir(fsys, fsys.PathDir(o.Dir)); err != nil {
		return fail(err)
	}
	local := fsys.PathJoin(o.Dir, "local")
	if err := fsys.MkdirAll(local, 0o755); err != nil {
		return fail(fmt.Errorf("tiered: create %s: %w", local, err))
	}
	rsm, err := tiered.OpenRSM(rsmName, tiered.Options{Dir: fsys.PathJoin(o.Dir, "rsm"), FS: o.FS, Params: rsmParams})
	if err != nil {
		return fail(fmt.Errorf("storage manager %s: %w", rsmName, err))
	}
	rlmm, err := tiered.OpenRLMM(rlmmName, tiered.Options{Dir: fsys.PathJoin(o.Dir, "rlmm"), FS: o.FS, Params: rlmmParams})
	if err != nil {
		_ = rsm.Close()
		return fail(fmt.Errorf("metadata manager %s: %w", rlmmName, err))
	}
	rc, mc := rsm.Capabilities(), rlmm.Capabilities()
	if o.FS != nil && (rc.Persistent && !rc.UsesFS || mc.Persistent && !mc.UsesFS) {
		_, _ = rsm.Close(), rlmm.Close()
		return fail(ErrNoFS)
	}
	info := Info{
		Persistent:  rc.Persistent && mc.Persistent,
		SyncOnWrite: rc.SyncOnWrite && mc.SyncOnWrite,
		UsesFS:      rc.UsesFS && mc.UsesFS,
	}
	e := &tieredEngine{Pair: tieredmodel.Pair{RSM: rsm, RLMM: rlmm, FS: fsys, LocalDir: local}, dir: o.Dir}
	return e, info, tieredmodel.TraitsOf(rc, mc), nil
}

func tieredSyncDir(fsys vfs.FS, dir string) error {
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("tiered: open directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tiered: sync directory %s: %w", dir, err)
	}
	return nil
}

// The tiered workload drives the two managers as brokers do, through
// Kafka's segment lifecycle: add (COPY_SEGMENT_STARTED), copy, update to
// COPY_SEGMENT_FINISHED; later, for retention, DELETE_SEGMENT_STARTED,
// delete of the data, DELETE_SEGMENT_FINISHED. A step whose outcome is
// unknown is retried as it was (every step is idempotent). Segments span
// leader epochs, are sometimes uploaded again by a new leader over
// segments already there, and come with empty, block-sized and missing
// parts. Reads aim at boundaries: each epoch's first and last offset in
// a segment, one past the end, byte ranges ending at and past the end of
// the log, every index type. Seeded deviations call for what must be
// refused: illegal transitions, bad metadata, a copy with a local file
// missing, ranges and indexes that do not exist. Partitions are stopped
// and assigned again, and deleted through MARKED, STARTED and FINISHED,
// after which a new topic of the same name takes the slot.

// tieredStep is the next step of a segment's lifecycle.
type tieredStep uint8

const (
	stepAdd tieredStep = iota
	stepCopy
	stepFinish
	stepLive // COPY_SEGMENT_FINISHED; deleted for retention
	stepDeleteStart
	stepDeleteData
	stepDeleteFinish
	stepDone
)

// tieredSeg is one segment of a run as the workload believes it.
type tieredSeg struct {
	seg     rlmmmodel.Seg // the metadata added
	content tieredmodel.Content
	step    tieredStep
	busy    bool // an operation on it is in flight
	copied  bool // a copy of it was acknowledged
	// verify is set when a copy's outcome is unknown: the segment is
	// fetched before the copy is tried again, as a broker that restarts
	// looks at what an interrupted upload left.
	verify bool
}

// tieredSlot is a partition of the run; once its deletion finished, a
// new topic of the same name (another topic ID) takes its place.
type tieredSlot struct {
	topic     string
	part      int32
	name      string // rlmmmodel.TP of the current topic
	assigned  bool
	assigning bool
	pdel      tiered.RemotePartitionDeleteState
	pdelBusy  bool
	pdelRetry tiered.RemotePartitionDeleteState // a step whose outcome is unknown
	deadOps   int                               // operations sent after its deletion finished
	logEnd    int64
	epoch     int32
	segs      []*tieredSeg
	orphans   []*tieredSeg // segments the metadata manager forgot in a crash
}

func (s *tieredSlot) deleting() bool {
	return s.pdel == tiered.DeletePartitionMarked || s.pdel == tiered.DeletePartitionStarted
}

func (s *tieredSlot) dead() bool { return s.pdel == tiered.DeletePartitionFinished }

// tieredTask is what a client's operation in flight is for.
type tieredTask struct {
	slot  *tieredSlot
	seg   *tieredSeg // a lifecycle step or a deviation on this segment
	named []*tieredSlot
	dev   bool // a deviation: success is not expected
}

type tieredWorkload struct {
	rng        *rand.Rand
	slots      []*tieredSlot
	tasks      []*tieredTask
	persistent bool // the metadata manager keeps its state across a crash
	fin        int
}

func newTieredWorkload(seed uint64, clients int, _ Info, tr tieredmodel.Traits) TypedWorkload[tieredmodel.Input, tieredmodel.Output] {
	w := &tieredWorkload{rng: rand.New(rand.NewPCG(seed, 0x7e1)), tasks: make([]*tieredTask, clients), persistent: tr.RLMM.Persistent}
	for i, name := range []string{"orders", "click.stream_v2-eu"} {
		w.slots = append(w.slots, w.newSlot(name, int32(7*i)))
	}
	return w
}

// newSlot returns a partition of a new topic named topic.
func (w *tieredWorkload) newSlot(topic string, part int32) *tieredSlot {
	tp := tiered.TopicIDPartition{TopicID: tiered.NewUUID(w.rng), Topic: topic, Partition: part}
	return &tieredSlot{topic: topic, part: part, name: rlmmmodel.TP(tp)}
}

func (w *tieredWorkload) input(kind tieredmodel.Kind, s *tieredSlot) tieredmodel.Input {
	return tieredmodel.Input{Input: rlmmmodel.Input{Kind: kind, TP: s.name}}
}

func (w *tieredWorkload) Next(client int) tieredmodel.Input {
	in, t := w.next()
	w.tasks[client] = t
	return in
}

func (w *tieredWorkload) next() (tieredmodel.Input, *tieredTask) {
	rng := w.rng
	// A slot not served is assigned first, mostly: the rest of the time
	// its calls meet ErrPartitionNotAssigned.
	if rng.IntN(10) > 0 {
		if in, t, ok := w.assign(); ok {
			return in, t
		}
	}
	i := rng.IntN(len(w.slots))
	s := w.slots[i]
	if s.dead() {
		if s.deadOps >= 4 {
			s = w.newSlot(s.topic, s.part)
			w.slots[i] = s
		} else {
			s.deadOps++
			return w.deadOp(s)
		}
	}
	if (s.deleting() || s.pdelRetry != tiered.PartitionDeleteNone) && !s.pdelBusy && rng.IntN(3) == 0 {
		if in, t, ok := w.partitionStep(s); ok {
			return in, t
		}
	}
	switch x := rng.IntN(1000); {
	case x < 380:
		if in, t, ok := w.lifecycle(s); ok {
			return in, t
		}
		return w.newSegment(s)
	case x < 480:
		return w.newSegment(s)
	case x < 520:
		if in, t, ok := w.retention(s); ok {
			return in, t
		}
	case x < 600:
		if in, t, ok := w.deviation(s); ok {
			return in, t
		}
	case x < 612:
		if s.assigned {
			return tieredmodel.Input{Input: rlmmmodel.Input{Kind: rlmmmodel.KindStop, Stopped: []string{s.name}}}, &tieredTask{named: []*tieredSlot{s}}
		}
	case x < 616:
		if s.pdel == tiered.PartitionDeleteNone && !s.pdelBusy {
			in := w.input(rlmmmodel.KindPartitionDelete, s)
			in.PartitionState = tiered.DeletePartitionMarked
			s.pdelBusy = true
			return in, &tieredTask{slot: s}
		}
	}
	return w.read(s), nil
}

// assign assigns the slots not served, and now and then one that is.
func (w *tieredWorkload) assign() (tieredmodel.Input, *tieredTask, bool) {
	var named []*tieredSlot
	for _, s := range w.slots {
		if !s.assigned && !s.assigning || s.assigned && w.rng.IntN(50) == 0 {
			named = append(named, s)
		}
	}
	if !slices.ContainsFunc(named, func(s *tieredSlot) bool { return !s.assigned }) {
		return tieredmodel.Input{}, nil, false
	}
	in := rlmmmodel.Input{Kind: rlmmmodel.KindAssign}
	for _, s := range named {
		s.assigning = true
		if w.rng.IntN(3) == 0 {
			in.Followers = append(in.Followers, s.name)
		} else {
			in.Leaders = append(in.Leaders, s.name)
		}
	}
	return tieredmodel.Input{Input: in}, &tieredTask{named: named}, true
}

// lifecycle issues the next step of a segment of s that has one.
func (w *tieredWorkload) lifecycle(s *tieredSlot) (tieredmodel.Input, *tieredTask, bool) {
	var ready []*tieredSeg
	for _, g := range s.segs {
		if !g.busy && g.step != stepLive && g.step != stepDone {
			ready = append(ready, g)
		}
	}
	if len(ready) == 0 {
		return tieredmodel.Input{}, nil, false
	}
	g := ready[w.rng.IntN(len(ready))]
	in := w.input("", s)
	in.Seg = g.seg
	switch {
	case g.verify:
		in.Kind, in.End = tieredmodel.KindFetch, tiered.ToEnd
	default:
		w.step(g, &in)
	}
	g.busy = true
	return in, &tieredTask{slot: s, seg: g}, true
}

// step sets in to the next step of g's lifecycle.
func (w *tieredWorkload) step(g *tieredSeg, in *tieredmodel.Input) {
	switch g.step {
	case stepAdd:
		in.Kind = rlmmmodel.KindAdd
	case stepCopy:
		in.Kind = tieredmodel.KindCopy
		c := g.content
		if w.rng.IntN(20) == 0 {
			c.Missing = tieredmodel.Parts[w.rng.IntN(len(tieredmodel.Parts))]
		}
		in.Content = &c
	case stepFinish:
		if g.copied && w.rng.IntN(6) == 0 {
			// Copy again before finishing: a copy is idempotent.
			in.Kind, in.Content = tieredmodel.KindCopy, &g.content
			break
		}
		in.Kind, in.Seg = rlmmmodel.KindUpdate, rlmmmodel.Seg{ID: g.seg.ID, State: tiered.CopySegmentFinished}
	case stepDeleteStart:
		in.Kind, in.Seg = rlmmmodel.KindUpdate, rlmmmodel.Seg{ID: g.seg.ID, State: tiered.DeleteSegmentStarted}
	case stepDeleteData:
		in.Kind = tieredmodel.KindDeleteData
	case stepDeleteFinish:
		in.Kind, in.Seg = rlmmmodel.KindUpdate, rlmmmodel.Seg{ID: g.seg.ID, State: tiered.DeleteSegmentFinished}
	}
}

// content draws a segment's local files: small ones, ones that end
// around a 4 KiB block boundary, ones spanning many blocks (which a power
// loss tears more often), empty ones.
func (w *tieredWorkload) content() tieredmodel.Content {
	rng := w.rng
	size := func(max int) int {
		if rng.IntN(20) == 0 {
			return 0
		}
		return rng.IntN(max + 1)
	}
	c := tieredmodel.Content{Seed: rng.Uint64(), Offset: size(256), Time: size(256), Producer: size(128), Txn: -1}
	switch x := rng.IntN(100); {
	case x < 5:
		c.Log = 0
	case x < 35:
		c.Log = 8192 + rng.IntN(32768)
	case x < 45:
		c.Log = 4096 - 8 + rng.IntN(16)
	default:
		c.Log = 1 + rng.IntN(3000)
	}
	if rng.IntN(5) >= 2 {
		c.Txn = size(128)
	}
	return c
}

// newSegment rolls a new segment of s and adds it. Most continue the log;
// a few are uploaded again by a new leader over a segment already there.
func (w *tieredWorkload) newSegment(s *tieredSlot) (tieredmodel.Input, *tieredTask) {
	rng := w.rng
	c := w.content()
	g := &tieredSeg{content: c}
	start, end := s.logEnd, s.logEnd+rng.Int64N(40)
	epochs := []tiered.EpochEntry{{Epoch: s.epoch, StartOffset: start}}
	var live []*tieredSeg
	for _, o := range s.segs {
		if o.step == stepLive {
			live = append(live, o)
		}
	}
	if len(live) > 0 && rng.IntN(12) == 0 {
		o := live[rng.IntN(len(live))]
		start = o.seg.Start
		if rng.IntN(2) == 0 {
			start += rng.Int64N(o.seg.End - o.seg.Start + 1)
		}
		end = max(start, o.seg.End-3+rng.Int64N(8))
		e := o.seg.Epochs[0].Epoch
		if rng.IntN(3) > 0 {
			s.epoch++
			e = s.epoch
		}
		epochs = []tiered.EpochEntry{{Epoch: e, StartOffset: start}}
	} else {
		for bumps := 0; end > epochs[len(epochs)-1].StartOffset && bumps < 2 && rng.IntN(4) == 0; bumps++ {
			last := epochs[len(epochs)-1].StartOffset
			s.epoch += 1 + int32(rng.IntN(2))
			epochs = append(epochs, tiered.EpochEntry{Epoch: s.epoch, StartOffset: last + 1 + rng.Int64N(end-last)})
		}
	}
	s.logEnd = max(s.logEnd, end+1)
	g.seg = rlmmmodel.Seg{ID: tiered.NewUUID(rng).String(), Start: start, End: end, Size: int64(c.Log), Epochs: epochs, State: tiered.CopySegmentStarted}
	s.segs = append(s.segs, g)
	in := w.input(rlmmmodel.KindAdd, s)
	in.Seg = g.seg
	g.busy = true
	return in, &tieredTask{slot: s, seg: g}
}

// retention starts the deletion of the oldest finished segment of s.
func (w *tieredWorkload) retention(s *tieredSlot) (tieredmodel.Input, *tieredTask, bool) {
	var oldest *tieredSeg
	for _, g := range s.segs {
		if g.step == stepLive && !g.busy && (oldest == nil || g.seg.Start < oldest.seg.Start) {
			oldest = g
		}
	}
	if oldest == nil {
		return tieredmodel.Input{}, nil, false
	}
	oldest.step, oldest.busy = stepDeleteStart, true
	in := w.input(rlmmmodel.KindUpdate, s)
	in.Seg = rlmmmodel.Seg{ID: oldest.seg.ID, State: tiered.DeleteSegmentStarted}
	return in, &tieredTask{slot: s, seg: oldest}, true
}

// partitionStep moves the deletion of s on: STARTED once MARKED, and
// FINISHED once every segment is deleted.
func (w *tieredWorkload) partitionStep(s *tieredSlot) (tieredmodel.Input, *tieredTask, bool) {
	in := w.input(rlmmmodel.KindPartitionDelete, s)
	switch {
	case s.pdelRetry != tiered.PartitionDeleteNone:
		in.PartitionState = s.pdelRetry
	case s.pdel == tiered.DeletePartitionMarked:
		in.PartitionState = tiered.DeletePartitionStarted
	case s.pdel == tiered.DeletePartitionStarted:
		if slices.ContainsFunc(s.segs, func(g *tieredSeg) bool { return g.busy || g.step != stepDone }) {
			return in, nil, false
		}
		in.PartitionState = tiered.DeletePartitionFinished
	}
	s.pdelBusy = true
	return in, &tieredTask{slot: s}, true
}

// deadOp calls a deleted partition: everything but a partition delete to
// FINISHED and an assignment is refused.
func (w *tieredWorkload) deadOp(s *tieredSlot) (tieredmodel.Input, *tieredTask) {
	switch w.rng.IntN(5) {
	case 0:
		in := w.input(rlmmmodel.KindPartitionDelete, s)
		in.PartitionState = []tiered.RemotePartitionDeleteState{tiered.DeletePartitionFinished, tiered.DeletePartitionMarked}[w.rng.IntN(2)]
		return in, &tieredTask{slot: s, dev: true}
	case 1:
		in := w.input(rlmmmodel.KindAdd, s)
		in.Seg = rlmmmodel.Seg{ID: tiered.NewUUID(w.rng).String(), Start: s.logEnd, End: s.logEnd, Epochs: []tiered.EpochEntry{{Epoch: s.epoch, StartOffset: s.logEnd}}, State: tiered.CopySegmentStarted}
		return in, &tieredTask{slot: s, dev: true}
	}
	return w.read(s), nil
}

// deviation calls for something the managers must refuse, or a repeat
// they must accept.
func (w *tieredWorkload) deviation(s *tieredSlot) (tieredmodel.Input, *tieredTask, bool) {
	rng := w.rng
	in := w.input(rlmmmodel.KindUpdate, s)
	var idle []*tieredSeg
	for _, g := range s.segs {
		if !g.busy && g.step != stepAdd {
			idle = append(idle, g)
		}
	}
	switch x := rng.IntN(10); {
	case x < 2 || len(idle) == 0:
		// Metadata an add must refuse: bad offsets, epochs or state.
		g := rlmmmodel.Seg{ID: tiered.NewUUID(rng).String(), Start: s.logEnd, End: s.logEnd + 5, Size: 10,
			Epochs: []tiered.EpochEntry{{Epoch: s.epoch, StartOffset: s.logEnd}}, State: tiered.CopySegmentStarted}
		switch rng.IntN(5) {
		case 0:
			g.End = g.Start - 1
		case 1:
			g.Epochs[0].StartOffset++
		case 2:
			g.Epochs = append(g.Epochs, tiered.EpochEntry{Epoch: s.epoch + 1, StartOffset: g.End + 1})
		case 3:
			g.Size = -1
		default:
			g.State = tiered.CopySegmentFinished
		}
		if rng.IntN(4) == 0 {
			// Or an update of a segment never added.
			in.Seg = rlmmmodel.Seg{ID: g.ID, State: tiered.CopySegmentFinished}
			return in, &tieredTask{slot: s, dev: true}, true
		}
		in.Kind, in.Seg = rlmmmodel.KindAdd, g
		return in, &tieredTask{slot: s, dev: true}, true
	case x < 4:
		// The storage manager on a segment it may not hold: a delete is
		// idempotent, a fetch of a bad range or index is refused.
		g := idle[rng.IntN(len(idle))]
		in.Seg = g.seg
		switch rng.IntN(3) {
		case 0:
			// A negative start, an end before the start, a start past
			// the end of the log.
			r := [][2]int64{{-1, 2}, {5, 4}, {int64(g.content.Log) + 1, tiered.ToEnd}}[rng.IntN(3)]
			in.Kind, in.Start, in.End = tieredmodel.KindFetch, r[0], r[1]
		case 1:
			in.Kind, in.Index = tieredmodel.KindFetchIndex, tiered.IndexType([]int{0, 6, 255}[rng.IntN(3)])
		default:
			if g.step != stepDone {
				return in, nil, false
			}
			in.Kind = tieredmodel.KindDeleteData
			g.busy = true
			return in, &tieredTask{slot: s, seg: g, dev: true}, true
		}
		return in, nil, true
	}
	// A state change the lifecycle forbids (or a repeat it allows).
	g := idle[rng.IntN(len(idle))]
	to := map[tieredStep][]tiered.RemoteLogSegmentState{
		stepCopy:         {tiered.DeleteSegmentFinished},
		stepFinish:       {tiered.DeleteSegmentFinished},
		stepLive:         {tiered.DeleteSegmentFinished, tiered.CopySegmentStarted, tiered.RemoteLogSegmentState(9), tiered.CopySegmentFinished},
		stepDeleteStart:  {tiered.DeleteSegmentFinished},
		stepDeleteData:   {tiered.CopySegmentFinished, tiered.DeleteSegmentStarted},
		stepDeleteFinish: {tiered.CopySegmentFinished},
		stepDone:         {tiered.CopySegmentFinished, tiered.DeleteSegmentStarted, tiered.DeleteSegmentFinished},
	}[g.step]
	if (g.step == stepLive || g.step == stepDone) && rng.IntN(3) == 0 {
		// Add again a segment past COPY_SEGMENT_STARTED.
		in.Kind, in.Seg = rlmmmodel.KindAdd, g.seg
	} else {
		in.Seg = rlmmmodel.Seg{ID: g.seg.ID, State: to[rng.IntN(len(to))]}
	}
	g.busy = true
	return in, &tieredTask{slot: s, seg: g, dev: true}, true
}

// read draws a query of either manager on s, aimed at boundaries.
func (w *tieredWorkload) read(s *tieredSlot) tieredmodel.Input {
	rng := w.rng
	in := w.input("", s)
	segs := append(slices.Clone(s.segs), s.orphans...)
	var g *tieredSeg
	if len(segs) > 0 {
		g = segs[rng.IntN(len(segs))]
		in.Seg = g.seg
	}
	epoch := func() int32 {
		if rng.IntN(30) == 0 {
			return -1
		}
		return int32(rng.IntN(int(s.epoch) + 2))
	}
	switch x := rng.IntN(100); {
	case x < 30:
		in.Kind = rlmmmodel.KindLookup
		if g == nil || rng.IntN(6) == 0 {
			in.Epoch, in.Offset = epoch(), rng.Int64N(s.logEnd+3)
			if rng.IntN(30) == 0 {
				in.Offset = -1
			}
			break
		}
		i := rng.IntN(len(g.seg.Epochs))
		e := g.seg.Epochs[i]
		last := g.seg.End
		if i+1 < len(g.seg.Epochs) {
			last = g.seg.Epochs[i+1].StartOffset - 1
		}
		in.Epoch = e.Epoch
		in.Offset = []int64{e.StartOffset, last, last + 1, max(e.StartOffset-1, 0), g.seg.End}[rng.IntN(5)]
	case x < 40:
		in.Kind, in.Epoch = rlmmmodel.KindHighest, epoch()
	case x < 46:
		in.Kind = rlmmmodel.KindList
	case x < 52:
		in.Kind, in.Epoch = rlmmmodel.KindListEpoch, epoch()
	case x < 58:
		in.Kind, in.Epoch = rlmmmodel.KindSize, epoch()
	case x < 88 && g != nil:
		in.Kind = tieredmodel.KindFetch
		n := int64(g.content.Log)
		r := [][2]int64{{0, tiered.ToEnd}, {0, 0}, {0, n - 1}, {max(n-1, 0), n - 1}, {n, tiered.ToEnd},
			{4095, 4096}, {rng.Int64N(n + 1), n + rng.Int64N(10)}, {max(n-10, 0), tiered.ToEnd}}[rng.IntN(8)]
		in.Start, in.End = r[0], max(r[0], r[1])
	case g != nil:
		in.Kind, in.Index = tieredmodel.KindFetchIndex, tiered.IndexTypes()[rng.IntN(5)]
	default:
		in.Kind = rlmmmodel.KindList
	}
	return in
}

func (w *tieredWorkload) Observe(client int, in tieredmodel.Input, out tieredmodel.Output) {
	if client >= len(w.tasks) {
		return
	}
	t := w.tasks[client]
	w.tasks[client] = nil
	if t == nil {
		return
	}
	ok := out.Err == rlmmmodel.ErrNone
	retry := out.Err == rlmmmodel.ErrUnknown || out.Err == rlmmmodel.ErrStorage
	for _, s := range t.named {
		s.assigning = false
		if ok {
			s.assigned = in.Kind == rlmmmodel.KindAssign
		}
	}
	if t.slot == nil {
		return
	}
	s := t.slot
	if out.Err == rlmmmodel.ErrNotAssigned {
		s.assigned = false
	}
	if in.Kind == rlmmmodel.KindPartitionDelete && !t.dev {
		s.pdelBusy, s.pdelRetry = false, tiered.PartitionDeleteNone
		switch {
		case ok:
			s.pdel = in.PartitionState
			w.settle(s)
		case retry:
			s.pdelRetry = in.PartitionState
		}
		return
	}
	g := t.seg
	if g == nil {
		return
	}
	g.busy = false
	switch {
	case in.Kind == tieredmodel.KindFetch:
		g.verify = false
	case in.Kind == tieredmodel.KindCopy && retry:
		g.verify = true
	case t.dev:
		if ok && in.Kind == rlmmmodel.KindUpdate {
			// A repeat, or a forbidden change accepted (a planted bug):
			// follow it.
			step, known := map[tiered.RemoteLogSegmentState]tieredStep{
				tiered.CopySegmentFinished: stepLive, tiered.DeleteSegmentStarted: stepDeleteData, tiered.DeleteSegmentFinished: stepDone,
			}[in.Seg.State]
			if known {
				g.step = step
			}
		}
	case ok:
		switch {
		case in.Kind == tieredmodel.KindCopy:
			if in.Content.Missing == "" {
				g.copied = true
				g.step = stepFinish
			}
		case g.step != stepLive && g.step != stepDone:
			g.step++
		}
	case retry:
	case out.Err == rlmmmodel.ErrNotAssigned:
	case in.Kind == tieredmodel.KindCopy && in.Content.Missing != "":
	default:
		// Refused: the segment is gone from the metadata (its partition
		// deleted, or forgotten), or the belief was wrong. Leave it.
		g.step = stepDone
	}
	w.settle(s)
}

// settle turns the lifecycle of the idle segments of a partition being
// deleted towards their deletion.
func (w *tieredWorkload) settle(s *tieredSlot) {
	switch {
	case s.dead():
		s.segs = nil
	case s.deleting():
		for _, g := range s.segs {
			switch {
			case g.busy:
			case g.step == stepAdd:
				g.step = stepDone
			case g.step < stepDeleteStart:
				g.step = stepDeleteStart
			}
		}
	}
}

// Crashed forgets the assignments (a restarted manager serves nothing),
// and, for a metadata manager that keeps nothing, every segment's
// metadata: their data stay in the remote tier, where reads still aim.
func (w *tieredWorkload) Crashed() {
	for _, s := range w.slots {
		s.assigned, s.assigning = false, false
		if w.persistent {
			continue
		}
		for _, g := range s.segs {
			if g.copied {
				s.orphans = append(s.orphans, g)
			}
		}
		s.segs, s.pdel, s.pdelBusy = nil, tiered.PartitionDeleteNone, false
	}
}

// Final assigns every partition, then reads the whole state back: the
// lists, each epoch's highest offset, list and size, each segment's
// bounds per epoch, and every segment a copy of which was acknowledged
// or may have landed, fetched whole with its leader-epoch and transaction
// indexes.
func (w *tieredWorkload) Final() []tieredmodel.Input {
	w.fin++
	switch w.fin {
	case 1:
		in := rlmmmodel.Input{Kind: rlmmmodel.KindAssign}
		for _, s := range w.slots {
			in.Leaders = append(in.Leaders, s.name)
		}
		return []tieredmodel.Input{{Input: in}}
	case 2:
		var out []tieredmodel.Input
		for _, s := range w.slots {
			out = append(out, w.input(rlmmmodel.KindList, s))
			for e := int32(0); e <= s.epoch+1; e++ {
				for _, k := range []tieredmodel.Kind{rlmmmodel.KindHighest, rlmmmodel.KindListEpoch, rlmmmodel.KindSize} {
					in := w.input(k, s)
					in.Epoch = e
					out = append(out, in)
				}
			}
			for _, g := range append(slices.Clone(s.segs), s.orphans...) {
				if g.step != stepDone {
					first, last := g.seg.Epochs[0], g.seg.Epochs[len(g.seg.Epochs)-1]
					for _, q := range [][2]int64{{int64(first.Epoch), first.StartOffset}, {int64(last.Epoch), g.seg.End}} {
						in := w.input(rlmmmodel.KindLookup, s)
						in.Epoch, in.Offset = int32(q[0]), q[1]
						out = append(out, in)
					}
				}
				if !g.copied && !g.verify {
					continue
				}
				in := w.input(tieredmodel.KindFetch, s)
				in.Seg, in.End = g.seg, tiered.ToEnd
				out = append(out, in)
				for _, t := range []tiered.IndexType{tiered.IndexLeaderEpoch, tiered.IndexTransaction} {
					in := w.input(tieredmodel.KindFetchIndex, s)
					in.Seg, in.Index = g.seg, t
					out = append(out, in)
				}
			}
		}
		return out
	}
	return nil
}
