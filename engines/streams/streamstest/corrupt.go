package streamstest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/internal/corruptcase"
)

// DefaultMetaFiles are the files the corruption case damages as metadata
// when a Harness names none: the acid store's layout manifest and the
// meta pages of its bbolt shards.
const DefaultMetaFiles = "LAYOUT|*.db|MANIFEST-*|OPTIONS-*|marker.*"

// streamPlan is what one stream must hold after the corruption case's
// history.
type streamPlan struct {
	name string
	own  [][]byte // the messages appended to the stream itself
	// forkOf and forkAt name the source of a fork and how many of its
	// messages the fork sees.
	forkOf   string
	forkAt   int
	closed   bool
	deleted  bool // deleted with no forks: not found
	gone     bool // deleted with forks: a tombstone
	producer *streams.Producer
}

// corruptPlan is the corruption case's history.
type corruptPlan struct {
	ops     []func(s streams.Store) error
	streams map[string]*streamPlan
	order   []string
}

// makeCorruptPlan draws a history over 20 streams of some 300 messages
// (0.4 MB; three times that in the long form, see corruptcase.Scale: each
// append is a synced commit), five of them written by idempotent producers, with streams
// closed, deleted, and forked (one source deleted under its fork).
func makeCorruptPlan(seed uint64) *corruptPlan {
	rng := rand.New(rand.NewPCG(seed, 0x57E4))
	p := &corruptPlan{streams: map[string]*streamPlan{}}
	add := func(sp *streamPlan) {
		p.streams[sp.name] = sp
		p.order = append(p.order, sp.name)
	}
	for i := 0; i < 20; i++ {
		sp := &streamPlan{name: fmt.Sprintf("s%02d", i)}
		if i < 5 {
			sp.producer = &streams.Producer{ID: fmt.Sprintf("p%d", i)}
		}
		add(sp)
		cfg := streams.Config{ContentType: "text/plain"}
		p.ops = append(p.ops, func(s streams.Store) error {
			_, err := s.Create(sp.name, cfg)
			return err
		})
	}
	appendTo := func(sp *streamPlan) {
		data := make([]byte, 20+rng.IntN(2700))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		sp.own = append(sp.own, data)
		var o streams.AppendOptions
		if sp.producer != nil {
			pr := *sp.producer
			pr.Seq = uint64(len(sp.own) - 1)
			o.Producer = &pr
		}
		p.ops = append(p.ops, func(s streams.Store) error {
			_, err := s.Append(sp.name, data, o)
			return err
		})
	}
	fork := func(name, source string) {
		src := p.streams[source]
		sp := &streamPlan{name: name, forkOf: source, forkAt: len(src.own)}
		add(sp)
		p.ops = append(p.ops, func(s streams.Store) error {
			_, err := s.Fork(name, source, streams.Now, streams.Config{})
			return err
		})
	}
	total := 300 * corruptcase.Scale()
	for n := 0; n < total; n++ {
		if n == total/2 {
			fork("f10", "s10")
			fork("f11", "s11")
		}
		name := p.order[rng.IntN(len(p.order))]
		appendTo(p.streams[name])
	}
	for _, name := range []string{"s05", "s06", "f10"} {
		p.streams[name].closed = true
		p.ops = append(p.ops, func(s streams.Store) error { return s.CloseStream(name) })
	}
	for _, name := range []string{"s07", "s08", "s09", "s11"} {
		sp := p.streams[name]
		if name == "s11" {
			sp.gone = true // f11 still reads through it
		} else {
			sp.deleted = true
		}
		p.ops = append(p.ops, func(s streams.Store) error { return s.Delete(name) })
	}
	return p
}

// messages is what a read of the whole stream must return.
func (p *corruptPlan) messages(sp *streamPlan) [][]byte {
	if sp.forkOf == "" {
		return sp.own
	}
	src := p.messages(p.streams[sp.forkOf])
	return append(slices.Clone(src[:min(sp.forkAt, len(src))]), sp.own...)
}

var corruptClock = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func corruptSubject(h Harness) corruptcase.Subject {
	meta := h.MetaFiles
	if meta == "" {
		meta = DefaultMetaFiles
	}
	open := func(dir string) (streams.Store, error) {
		return h.Open(streams.Options{Dir: dir, Params: h.Params, Clock: func() time.Time { return corruptClock }})
	}
	return corruptcase.Subject{
		Name:      h.Name,
		Meta:      meta,
		IsCorrupt: func(err error) bool { return errors.Is(err, streams.ErrCorrupt) },
		Write: func(t testing.TB, dir string, seed uint64) bool {
			t.Helper()
			s, err := open(dir)
			if err != nil {
				t.Fatalf("%s: open: %v", h.Name, err)
			}
			if !s.Capabilities().Persistent {
				_ = s.Close()
				t.Skipf("%s keeps nothing across Close: the corruption case does not apply", h.Name)
				return false
			}
			for k, op := range makeCorruptPlan(seed).ops {
				if err := op(s); err != nil {
					_ = s.Close()
					t.Fatalf("%s: step %d of the history: %v", h.Name, k, err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatalf("%s: close: %v", h.Name, err)
			}
			return true
		},
		Check: func(dir string, seed uint64, v *corruptcase.Verdict) {
			s, err := open(dir)
			if v.Err("open", err) {
				return
			}
			defer func() { v.Err("close", s.Close()) }()
			checkCorrupted(s, makeCorruptPlan(seed), v)
		},
	}
}

// checkCorrupted reads every stream of p back from s.
func checkCorrupted(s streams.Store, p *corruptPlan, v *corruptcase.Verdict) {
	for _, name := range p.order {
		sp := p.streams[name]
		md, err := s.Metadata(name)
		switch {
		case sp.deleted && errors.Is(err, streams.ErrNotFound):
			continue
		case sp.gone && errors.Is(err, streams.ErrGone):
			continue
		case (sp.deleted || sp.gone) && err == nil:
			v.Resurrected("stream %s, deleted, is back", name)
			continue
		case errors.Is(err, streams.ErrNotFound) || errors.Is(err, streams.ErrGone):
			v.Lost("stream %s: %v", name, err)
			continue
		case v.Err(fmt.Sprintf("Metadata(%s)", name), err):
			continue
		}
		if sp.closed && !md.Closed {
			v.Wrong("stream %s was closed and is open again", name)
		}
		if !sp.closed && md.Closed {
			v.Wrong("stream %s was never closed and is closed", name)
		}
		var own uint64
		for _, m := range sp.own {
			own += uint64(len(m))
		}
		// A fork's bytes are its own; some stores (over HTTP, where forks
		// are transparent) count its source's too: only a stream's own are
		// compared.
		if sp.forkOf == "" && md.Bytes != own {
			v.Wrong("stream %s: Metadata.Bytes %d, want %d", name, md.Bytes, own)
		}
		r, err := s.Read(name, streams.Start)
		if v.Err(fmt.Sprintf("Read(%s)", name), err) {
			continue
		}
		want := p.messages(sp)
		for i, m := range r.Messages {
			if i >= len(want) {
				v.Wrong("stream %s: message %d was never appended", name, i)
				break
			}
			if !bytes.Equal(m.Data, want[i]) {
				v.Wrong("stream %s: message %d at %s has %d other bytes, want the %d appended", name, i, m.Offset, len(m.Data), len(want[i]))
			}
		}
		if len(r.Messages) < len(want) {
			v.Lost("stream %s: %d messages read, want %d", name, len(r.Messages), len(want))
		}
		if sp.producer != nil && len(sp.own) > 0 && !sp.closed {
			// A retry of the last append must be a duplicate.
			pr := *sp.producer
			pr.Seq = uint64(len(sp.own) - 1)
			res, err := s.Append(name, sp.own[len(sp.own)-1], streams.AppendOptions{Producer: &pr})
			switch {
			case v.Err(fmt.Sprintf("retry the last append of %s", name), err):
			case !res.Duplicate:
				v.Wrong("stream %s: a retry of producer %s seq %d is written again: the producer state is lost", name, pr.ID, pr.Seq)
			}
		}
	}
}

func corruption(t testing.TB, h Harness) {
	corruptcase.Report(t, h.Name, corruptcase.Run(t, corruptSubject(h), corruptcase.Default()))
}

// Corruption runs the corruption case's trials on h and returns every
// result, passing or not: the corruption table is made of them. Under a
// *testing.T each trial reopens the store in a child process re-running
// t's test, which must therefore call Corruption the same way.
func Corruption(t testing.TB, h Harness, trials []corruptcase.Trial) []corruptcase.Result {
	t.Helper()
	return corruptcase.Run(t, corruptSubject(h), trials)
}
