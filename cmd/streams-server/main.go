// Command streams-server serves the Durable Streams HTTP protocol over a
// registered streams engine:
//
//	streams-server --engine streams/acid --dir /var/lib/streams --addr 127.0.0.1:4437
//
// It logs one structured record per request at debug level (--log-level)
// and stops gracefully on SIGTERM or SIGINT: live reads end, requests in
// flight finish, the store closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ordeal-dev/ordeal/engines/streams"
	_ "github.com/ordeal-dev/ordeal/engines/streams/acid"
	"github.com/ordeal-dev/ordeal/engines/streams/httpserver"
	_ "github.com/ordeal-dev/ordeal/engines/streams/memory"
)

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, nil)) }

// Main runs the server with args until a signal, or until stop is closed
// when it is not nil, and returns the exit code: 0 after a clean stop, 2
// for bad flags or a store that does not open, 1 for a serving failure.
func Main(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	fs := flag.NewFlagSet("streams-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := fs.String("engine", "streams/acid", "streams engine: "+strings.Join(engineNames(), ", "))
	dir := fs.String("dir", "", "data directory of the engine")
	addr := fs.String("addr", "127.0.0.1:4437", "listen address (port 0 picks a free port)")
	params := fs.String("params", "", "engine parameters, k=v,k=v")
	longPoll := fs.Duration("long-poll-timeout", httpserver.DefaultLongPollTimeout, "how long a long-poll read waits for data")
	sseDur := fs.Duration("sse-duration", httpserver.DefaultSSEDuration, "how long an SSE response stays open")
	maxTotal := fs.Uint64("max-total-bytes", 0, "byte limit of all streams (0: none)")
	maxStream := fs.Uint64("max-stream-bytes", 0, "byte limit of one stream (0: none)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "streams-server: --log-level %q: %v\n", *level, err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	p, err := parseParams(*params)
	if err != nil {
		fmt.Fprintf(stderr, "streams-server: --params: %v\n", err)
		return 2
	}
	name := strings.TrimPrefix(*engine, "streams/")
	if name != "memory" && *dir == "" {
		fmt.Fprintf(stderr, "streams-server: --dir is required for engine %q\n", *engine)
		return 2
	}
	store, err := streams.Open(name, streams.Options{Dir: *dir, Params: p, MaxTotalBytes: *maxTotal, MaxStreamBytes: *maxStream})
	if err != nil {
		fmt.Fprintf(stderr, "streams-server: open %s: %v\n", *engine, err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = store.Close()
		fmt.Fprintf(stderr, "streams-server: listen %s: %v\n", *addr, err)
		return 2
	}
	h := httpserver.New(store, httpserver.Options{LongPollTimeout: *longPoll, SSEDuration: *sseDur, Logger: log})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	log.Info("serving", "engine", *engine, "dir", *dir, "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	code := 0
	select {
	case s := <-sig:
		log.Info("stopping", "signal", s.String())
	case <-stop:
		log.Info("stopping", "signal", "stop")
	case err := <-served:
		log.Error("serve", "err", err)
		code = 1
	}
	h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("shutdown", "err", err)
		code = 1
	}
	if err := store.Close(); err != nil {
		log.Error("close store", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

func engineNames() []string {
	var out []string
	for _, n := range streams.Names() {
		out = append(out, "streams/"+n)
	}
	return out
}

func parseParams(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not k=v", kv)
		}
		out[k] = v
	}
	return out, nil
}
