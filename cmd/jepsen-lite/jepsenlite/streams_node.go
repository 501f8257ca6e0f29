package jepsenlite

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/acid"
	// The streams engines a node serves.
	_ "github.com/ordeal-dev/ordeal/engines/streams/memory"
	"github.com/ordeal-dev/ordeal/linearizability/streamsmodel"
)

// StreamsPrefix starts the name of every streams engine jepsen-lite runs
// ("streams/acid"); the rest is its name in the streams registry, or
// mutant/NAME for an acid store with a planted bug (StreamsMutants).
const StreamsPrefix = "streams/"

// IsStreamsEngine reports whether name names a streams engine.
func IsStreamsEngine(name string) bool { return strings.HasPrefix(name, StreamsPrefix) }

// StreamsMutants are the acid stores with planted bugs a run can name as
// streams/mutant/NAME.
var StreamsMutants = map[string]acid.Bugs{
	"producer-state-outside-txn": {ProducerStateOutsideTxn: true},
	"fork-read-past-offset":      {ForkReadPastOffset: true},
}

// openStreams opens a streams engine by its jepsen-lite name.
func openStreams(engine, dir string, params map[string]string) (streams.Store, error) {
	name := strings.TrimPrefix(engine, StreamsPrefix)
	if m, ok := strings.CutPrefix(name, "mutant/"); ok {
		bugs, known := StreamsMutants[m]
		if !known {
			return nil, fmt.Errorf("%w: no streams mutant %q", streams.ErrUnknownEngine, m)
		}
		return acid.OpenWithBugs(streams.Options{Dir: dir, Params: params}, bugs)
	}
	return streams.Open(name, streams.Options{Dir: dir, Params: params})
}

// The streams node protocol: JSON lines. The node writes a hello (the
// store's capabilities, or an error), then answers each request with one
// response carrying its id. Requests run concurrently, so answers come in
// any order.
type streamsRequest struct {
	ID int                `json:"id"`
	In streamsmodel.Input `json:"in"`
}

type streamsResponse struct {
	ID    int                   `json:"id"`
	Out   streamsmodel.Output   `json:"out"`
	Caps  *streams.Capabilities `json:"caps,omitempty"`
	Error string                `json:"error,omitempty"`
	Panic string                `json:"panic,omitempty"`
	Stack string                `json:"stack,omitempty"`
}

// isStreamsNode reports whether node arguments name a streams engine.
func isStreamsNode(args []string) bool {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--engine="); ok {
			return IsStreamsEngine(v)
		}
		if (a == "--engine" || a == "-engine") && i+1 < len(args) {
			return IsStreamsEngine(args[i+1])
		}
	}
	return false
}

// streamsNodeMain serves a streams store over standard input and output.
func streamsNodeMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := fs.String("engine", "", "streams engine to serve")
	dir := fs.String("dir", "", "directory of the engine's files")
	params := paramFlag{}
	fs.Var(params, "param", "engine parameter key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	var mu sync.Mutex
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	send := func(r streamsResponse) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(r)
		_ = w.Flush()
	}
	s, err := openStreams(*engine, *dir, params)
	if err != nil {
		send(streamsResponse{Error: err.Error()})
		return 1
	}
	defer s.Close()
	caps := s.Capabilities()
	send(streamsResponse{Caps: &caps})
	dec := json.NewDecoder(bufio.NewReader(stdin))
	var wg sync.WaitGroup
	defer wg.Wait()
	panicked := make(chan struct{})
	var once sync.Once
	for {
		var req streamsRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(stderr, "node: bad request:", err)
			return ExitUsage
		}
		select {
		case <-panicked:
			return 1
		default:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := streamsResponse{ID: req.ID}
			func() {
				defer func() {
					if p := recover(); p != nil {
						resp.Panic, resp.Stack = fmt.Sprint(p), string(debug.Stack())
						once.Do(func() { close(panicked) })
					}
				}()
				resp.Out = streamsmodel.Apply(s, req.In)
			}()
			send(resp)
		}()
	}
}

// streamsMutantBugs says what each streams mutant gets wrong.
var streamsMutantBugs = map[string]string{
	"producer-state-outside-txn": "acid keeping producer state in memory, not in the append's transaction",
	"fork-read-past-offset":      "acid reading a fork's source past the fork offset",
}

func listStreamsEngines(w io.Writer) {
	for _, e := range streams.Names() {
		fmt.Fprintf(w, "  %s%s\n", StreamsPrefix, e)
	}
}

func listStreamsMutants(w io.Writer) {
	names := make([]string, 0, len(StreamsMutants))
	for n := range StreamsMutants {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-40s %s\n", StreamsPrefix+"mutant/"+n, streamsMutantBugs[n])
	}
}
