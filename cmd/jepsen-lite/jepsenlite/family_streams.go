package jepsenlite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/ordeal-dev/ordeal/engines/streams"
	_ "github.com/ordeal-dev/ordeal/engines/streams/acid"
	_ "github.com/ordeal-dev/ordeal/engines/streams/memory"
	streamsmutants "github.com/ordeal-dev/ordeal/engines/streams/mutants"
	"github.com/ordeal-dev/ordeal/linearizability/streamsmodel"
)

// The streams family: the Durable Streams storage layer (hash-sharded
// stream store, forks, idempotent producers), checked by streamsmodel per
// tree of streams.
func init() {
	Register(Spec[streams.Store, streamsmodel.Input, streamsmodel.Input, streamsmodel.Output, struct{}]{
		Name:    "streams",
		Doc:     "Durable Streams storage (streams, forks, idempotent producers)",
		Engines: streams.Names,
		Mutants: func() []Mutant {
			var out []Mutant
			for _, m := range streamsmutants.All() {
				out = append(out, Mutant{Name: m.Name, Bug: m.Bug, SuiteOnly: m.SuiteOnly})
			}
			return out
		},
		Open: func(name string, o OpenOptions) (streams.Store, Info, struct{}, error) {
			s, err := streams.Open(name, streams.Options{Dir: o.Dir, FS: o.FS, Params: o.Params})
			if errors.Is(err, streams.ErrBadOption) && o.FS != nil {
				return nil, Info{}, struct{}{}, errors.Join(ErrNoFS, err)
			}
			if err != nil {
				return nil, Info{}, struct{}{}, err
			}
			c := s.Capabilities()
			if !c.UsesFS && o.FS != nil && c.Persistent {
				_ = s.Close()
				return nil, Info{}, struct{}{}, ErrNoFS
			}
			if c.Persistent && !c.SyncOnWrite {
				_ = s.Close()
				return nil, Info{}, struct{}{}, errors.New("streamsmodel checks stores that acknowledge durable mutations only (SyncOnWrite)")
			}
			return s, Info{Persistent: c.Persistent, SyncOnWrite: c.SyncOnWrite, UsesFS: c.UsesFS}, struct{}{}, nil
		},
		Close:     func(s streams.Store) error { return s.Close() },
		Apply:     streamsmodel.Apply,
		Input:     func(in streamsmodel.Input) streamsmodel.Input { return in },
		Workload:  newStreamsWorkload,
		Unknown:   streamsmodel.Unknown,
		IsUnknown: func(o streamsmodel.Output) bool { return o.Err == streamsmodel.ErrUnknown },
		Crash:     func(d string) streamsmodel.Input { return streamsmodel.Input{Kind: streamsmodel.KindCrash, Detail: d} },
		IsCrash:   func(in streamsmodel.Input) bool { return in.Kind == streamsmodel.KindCrash },
		Method:    func(in streamsmodel.Input) string { return string(in.Kind) },
		Outcome:   func(o streamsmodel.Output) string { return outcomeClass(string(o.Err)) },
		Check:     streamsmodel.Check,
		Methods:   []string{"create", "append", "read", "fork"},
		Outcomes:  []string{"ok", "unknown"},
	}.Family())
}

// streamsTrees are the trees of streams a run writes: a root each, and
// forks named root/fN.
var streamsTrees = []string{"a", "b"}

// maxForks bounds the forks of one tree.
const maxForks = 4

// streamsClient is one client's own state: its producer's sequence per
// stream, an append to retry, a fork waiting for the read of its source.
type streamsClient struct {
	rng      *rand.Rand
	producer string
	seqs     map[string]uint64
	retry    *streamsmodel.Input
	fork     *streamsmodel.Input // Stream and Source set, At to be drawn
}

// streamsWorkload: the trees are created first; then each client appends
// as an idempotent producer (retrying an append of unknown outcome as it
// was, same sequence, until its outcome is known), reads, and forks a
// stream at a message it read.
type streamsWorkload struct {
	clients []*streamsClient
	created map[string][]string // tree -> streams known to exist
	forks   map[string]int
	create  int // trees whose create was handed out
	fin     bool
}

func newStreamsWorkload(seed uint64, clients int, _ Info, _ struct{}) TypedWorkload[streamsmodel.Input, streamsmodel.Output] {
	w := &streamsWorkload{created: map[string][]string{}, forks: map[string]int{}}
	for c := range clients {
		w.clients = append(w.clients, &streamsClient{rng: rand.New(rand.NewPCG(seed, uint64(c)+1)), producer: fmt.Sprint("p", c), seqs: map[string]uint64{}})
	}
	return w
}

func (w *streamsWorkload) Next(client int) streamsmodel.Input {
	c := w.clients[client]
	if w.create < len(streamsTrees) {
		w.create++
		return streamsmodel.Input{Kind: streamsmodel.KindCreate, Stream: streamsTrees[w.create-1]}
	}
	if c.retry != nil {
		return *c.retry
	}
	tree := streamsTrees[c.rng.IntN(len(streamsTrees))]
	names := w.created[tree]
	if len(names) == 0 {
		return streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: tree}
	}
	name := names[c.rng.IntN(len(names))]
	switch x := c.rng.IntN(100); {
	case x < 65:
		return streamsmodel.Input{Kind: streamsmodel.KindAppend, Stream: name, Producer: c.producer, Seq: c.seqs[name],
			Data: fmt.Sprintf("%s.%s.%d", c.producer, name, c.seqs[name])}
	case x >= 92 && w.forks[tree] < maxForks:
		// Fork: read the source first, then fork it at a message read.
		w.forks[tree]++
		c.fork = &streamsmodel.Input{Kind: streamsmodel.KindFork, Stream: fmt.Sprintf("%s/f%d", tree, w.forks[tree]), Source: name}
	}
	return streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: name}
}

func (w *streamsWorkload) Observe(client int, in streamsmodel.Input, out streamsmodel.Output) {
	if client >= len(w.clients) {
		return
	}
	c := w.clients[client]
	known := out.Err != streamsmodel.ErrUnknown
	switch in.Kind {
	case streamsmodel.KindCreate:
		if out.Err == streamsmodel.ErrNone {
			w.addStream(in.Stream)
		} else {
			w.create = slices.Index(streamsTrees, in.Stream) // create it again
		}
	case streamsmodel.KindAppend:
		if !known {
			c.retry = &in
			return
		}
		c.retry = nil
		if out.Err == streamsmodel.ErrNone {
			c.seqs[in.Stream] = in.Seq + 1
		}
	case streamsmodel.KindFork:
		if !known {
			c.retry = &in
			return
		}
		c.retry = nil
		if out.Err == streamsmodel.ErrNone {
			w.addStream(in.Stream)
		}
	case streamsmodel.KindRead:
		if f := c.fork; f != nil && f.Source == in.Stream {
			c.fork = nil
			if out.Err != streamsmodel.ErrNone {
				return
			}
			// The offset of message k of any stream, a fork included, has
			// read sequence k and byte part the size of the messages
			// before it.
			at := uint64(c.rng.IntN(len(out.Data) + 1))
			var bytes uint64
			for _, d := range out.Data[:at] {
				bytes += uint64(len(d))
			}
			f.At, f.Offset = at, streams.Offset{ReadSeq: at, ByteOffset: bytes}
			c.retry = f
		}
	}
}

func (w *streamsWorkload) addStream(name string) {
	t := streamsmodel.Tree(name)
	if !slices.Contains(w.created[t], name) {
		w.created[t] = append(w.created[t], name)
	}
}

func (w *streamsWorkload) Crashed() {}

// Final reads every stream once more.
func (w *streamsWorkload) Final() []streamsmodel.Input {
	if w.fin {
		return nil
	}
	w.fin = true
	var out []streamsmodel.Input
	for _, t := range streamsTrees {
		for _, s := range w.created[t] {
			out = append(out, streamsmodel.Input{Kind: streamsmodel.KindRead, Stream: s})
		}
	}
	return out
}
