package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMainFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"--bogus"}},
		{"unknown engine", []string{"--engine", "streams/nope", "--dir", t.TempDir()}},
		{"acid without dir", []string{"--engine", "acid"}},
		{"bad params", []string{"--dir", t.TempDir(), "--params", "shards"}},
		{"bad engine params", []string{"--dir", t.TempDir(), "--params", "shards=3"}},
		{"bad log level", []string{"--dir", t.TempDir(), "--log-level", "loud"}},
		{"bad address", []string{"--dir", t.TempDir(), "--addr", "nowhere:-1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := Main(c.args, io.Discard, &stderr, nil); code != 2 {
				t.Errorf("exit %d, want 2 (%s)", code, stderr.String())
			}
			if stderr.Len() == 0 {
				t.Error("no message")
			}
		})
	}
}

// TestMainServesAndStops runs the server over acid, writes and reads a
// stream, and stops it, which must close the store cleanly (exit 0); a
// second run over the same directory serves the same stream.
func TestMainServesAndStops(t *testing.T) {
	dir := t.TempDir()
	for round, want := range []string{"hello", "hello"} {
		pr, pw := io.Pipe()
		stop := make(chan struct{})
		code := make(chan int, 1)
		go func() {
			code <- Main([]string{"--engine", "acid", "--dir", dir, "--addr", "127.0.0.1:0"}, pw, io.Discard, stop)
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		url := strings.TrimSpace(strings.TrimPrefix(line, "listening ")) + "/v1/stream/s"
		if round == 0 {
			req, _ := http.NewRequest("PUT", url, strings.NewReader("hello"))
			req.Header.Set("Content-Type", "text/plain")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 201 {
				t.Fatalf("create: %v %v", resp, err)
			}
			resp.Body.Close()
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("round %d: read %q, want %q", round, b, want)
		}
		close(stop)
		select {
		case c := <-code:
			if c != 0 {
				t.Fatalf("exit %d after stop", c)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("did not stop")
		}
	}
}

// TestMainStopsOnSIGTERM sends the process SIGTERM while Main serves: it
// must stop cleanly, ending a long-poll read in progress.
func TestMainStopsOnSIGTERM(t *testing.T) {
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- Main([]string{"--engine", "memory", "--addr", "127.0.0.1:0", "--long-poll-timeout", "1m"}, pw, io.Discard, nil)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening ")) + "/s"
	req, _ := http.NewRequest("PUT", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	polled := make(chan error, 1)
	go func() {
		resp, err := http.Get(url + "?offset=now&live=long-poll")
		if err == nil {
			resp.Body.Close()
		}
		polled <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d after SIGTERM", c)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
	select {
	case <-polled:
	case <-time.After(5 * time.Second):
		t.Fatal("the long-poll read did not end at shutdown")
	}
}
