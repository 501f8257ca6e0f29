package jepsenlite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ordeal-dev/ordeal/engines/streams"
	"github.com/ordeal-dev/ordeal/engines/streams/httpstore"
)

// The streams-http family: any Durable Streams server, reached over its
// HTTP protocol by a client in this process, and run by the harness,
// which owns its process and its data directory (on lazyfs for crash and
// fsync). The streams model checks the history. Engines: "ordeal" is
// ordeal's server over the acid store (this binary's streams-server
// command), "reference" the Node reference server (node and the npm
// package installed by .ci/run), "custom" the server of --server-cmd, and
// "mutant/NAME" ordeal's server over a streams mutant.
func init() {
	s := streamsSpec()
	s.Name, s.Doc = "streams-http", "any Durable Streams server over HTTP, run by the harness (--server-cmd)"
	s.Engines = func() []string { return []string{"custom", "ordeal", "reference"} }
	s.Mutants = streamsMutants
	s.Open = func(_ string, o OpenOptions) (streams.Store, Info, struct{}, error) {
		st, err := httpstore.Open(streams.Options{Params: o.Params})
		if err != nil {
			return nil, Info{}, struct{}{}, err
		}
		// A server acknowledges what it made durable: the protocol says so.
		return st, Info{Persistent: true, SyncOnWrite: true}, struct{}{}, nil
	}
	s.Server = streamsServer
	Register(s.Family())
}

// ReferenceServerDir is where the Node reference server's package is
// installed (npm ci), found from the working directory upwards unless
// ORDEAL_STREAMS_REFERENCE_DIR says.
func ReferenceServerDir() (string, error) {
	if d := os.Getenv("ORDEAL_STREAMS_REFERENCE_DIR"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		c := filepath.Join(dir, "engines", "streams", "httpserver", "conformance")
		if _, err := os.Stat(filepath.Join(c, "node_modules", "@durable-streams", "server")); err == nil {
			return c, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: the Node reference server is not installed (npm ci in engines/streams/httpserver/conformance), or set ORDEAL_STREAMS_REFERENCE_DIR", ErrSetup)
		}
		dir = parent
	}
}

func streamsServer(engine, override string) (*ServerSpec, error) {
	if override != "" {
		return &ServerSpec{Command: override}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	quoted := "'" + strings.ReplaceAll(exe, "'", `'\''`) + "'"
	switch {
	case engine == "ordeal":
		return &ServerSpec{Command: quoted + " streams-server --engine acid --dir {dir} --addr 127.0.0.1:{port}"}, nil
	case strings.HasPrefix(engine, "mutant/"):
		return &ServerSpec{Command: quoted + " streams-server --engine " + engine + " --dir {dir} --addr 127.0.0.1:{port}"}, nil
	case engine == "reference":
		dir, err := ReferenceServerDir()
		if err != nil {
			return nil, err
		}
		return &ServerSpec{Command: "node ref-server.mjs --port {port} --dir {dir}", WorkDir: dir}, nil
	case engine == "custom":
		return nil, fmt.Errorf("%w: streams-http/custom needs --server-cmd 'COMMAND --port {port} --dir {dir}'", ErrUsage)
	}
	return nil, fmt.Errorf("%w: unknown streams-http engine %q", ErrUsage, engine)
}
