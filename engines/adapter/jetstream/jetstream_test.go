package jetstream

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

func TestParams(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		engine  string
		o       adapter.Options
		wantErr error
	}{
		{"unknown parameter", StorageType, adapter.Options{Dir: dir, Params: map[string]string{"fsync": "1"}}, adapter.ErrBadOption},
		{"bad sync interval", StorageType, adapter.Options{Dir: dir, Params: map[string]string{ParamSyncInterval: "sometimes"}}, adapter.ErrBadOption},
		{"zero sync interval", StorageType, adapter.Options{Dir: dir, Params: map[string]string{ParamSyncInterval: "0s"}}, adapter.ErrBadOption},
		{"preset overridden", SyncAlways, adapter.Options{Dir: dir, Params: map[string]string{ParamSyncInterval: "1s"}}, adapter.ErrBadOption},
		{"tiny max payload", StorageType, adapter.Options{Dir: dir, Params: map[string]string{ParamMaxPayload: "10"}}, adapter.ErrBadOption},
		{"bad max batch", StorageType, adapter.Options{Dir: dir, Params: map[string]string{ParamMaxBatch: "-1"}}, adapter.ErrBadOption},
		{"bad timeout", StorageType, adapter.Options{Dir: dir, Params: map[string]string{ParamTimeout: "soon"}}, adapter.ErrBadOption},
		{"in-memory FS", StorageType, adapter.Options{Dir: dir, FS: vfs.NewMem()}, adapter.ErrBadOption},
		{"no dir", StorageType, adapter.Options{}, adapter.ErrBadOption},
		{"unknown engine name", "jetstream-fast", adapter.Options{Dir: dir}, adapter.ErrUnknownStorageType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := OpenAs(tc.engine, tc.o)
			if err == nil {
				e.Close()
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestDefaultsAreJetStreams opens each registered engine through the
// registry and checks what the embedded server runs with: with no
// parameter, JetStream's own defaults; the preset, sync always.
func TestDefaultsAreJetStreams(t *testing.T) {
	for _, tc := range []struct {
		engine       string
		params       map[string]string
		syncAlways   bool
		syncInterval time.Duration
		maxPayload   int32
		syncOnWrite  bool
	}{
		{StorageType, nil, false, DefaultSyncInterval, DefaultMaxPayload, false},
		{StorageType, map[string]string{ParamSyncInterval: "1s", ParamMaxPayload: "2097152"}, false, time.Second, 2 << 20, false},
		{SyncAlways, nil, true, DefaultSyncInterval, DefaultMaxPayload, true},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			a, err := adapter.Open(tc.engine, adapter.Options{Dir: t.TempDir(), Params: tc.params})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			e := a.(*Engine)
			js := e.srv.JetStreamConfig()
			if js.SyncAlways != tc.syncAlways || js.SyncInterval != tc.syncInterval {
				t.Errorf("server runs sync_always %v, sync_interval %v; want %v, %v", js.SyncAlways, js.SyncInterval, tc.syncAlways, tc.syncInterval)
			}
			if got := e.nc.MaxPayload(); got != int64(tc.maxPayload) {
				t.Errorf("server max_payload %d, want %d", got, tc.maxPayload)
			}
			if caps := a.Capabilities(); caps != (adapter.Capabilities{Persistent: true, SyncOnWrite: tc.syncOnWrite}) {
				t.Errorf("capabilities %+v", caps)
			}
		})
	}
	// The server's own defaults, with no option set, are the engine's.
	e, err := Open(adapter.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := e.srv.JetStreamConfig().SyncInterval; got != DefaultSyncInterval {
		t.Errorf("JetStream's default sync interval is %v, the engine's %v", got, DefaultSyncInterval)
	}
}

// unescape inverts the plain form of streamName.
func unescape(s string) (string, bool) {
	s, ok := strings.CutPrefix(s, "S-")
	if !ok {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '_' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) {
			return "", false
		}
		switch s[i] {
		case '_':
			b.WriteByte('_')
		case 'd':
			b.WriteByte('.')
		default:
			return "", false
		}
	}
	return b.String(), true
}

func TestStreamNames(t *testing.T) {
	const chars = "ab_.-Z9"
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}
	names := []string{"a", "a.b", "a_db", "a_d", "a__", "_", ".x"[1:], strings.Repeat("x", adapter.MaxShardNameLen), strings.Repeat(".", 150) + "y"}
	for range 2000 {
		n := make([]byte, 1+rng.IntN(12))
		for i := range n {
			n[i] = chars[rng.IntN(len(chars))]
		}
		names = append(names, string(n))
	}
	for _, n := range names {
		s := streamName(n)
		if prev, ok := seen[s]; ok && prev != n {
			t.Fatalf("shards %q and %q share stream %s", prev, n, s)
		}
		seen[s] = n
		if len(s) > 255 || strings.ContainsAny(s, ". *>\t\r\n/") {
			t.Fatalf("shard %q: stream name %q is not a valid JetStream name", n, s)
		}
		if back, ok := unescape(s); ok && back != n {
			t.Fatalf("shard %q: stream %q reads back as %q", n, s, back)
		} else if !ok && !strings.HasPrefix(s, "H-") {
			t.Fatalf("shard %q: stream %q is neither plain nor hashed", n, s)
		}
	}
}

func TestTokens(t *testing.T) {
	long := strings.Repeat("k", maxPlainToken+1)
	keys := []string{"k", "a.b", "a b", "*", ">", "ü", long, long + "x"}
	seen := map[string]string{}
	for _, k := range keys {
		tok := token(k)
		if prev, ok := seen[tok]; ok {
			t.Fatalf("keys %q and %q share token %s", prev, k, tok)
		}
		seen[tok] = k
		parts := strings.Split(tok, ".")
		if len(parts) != 2 || (parts[0] != "k" && parts[0] != "h") || parts[1] == "" || strings.ContainsAny(parts[1], " *>\t") {
			t.Fatalf("key %q: token %q is not two subject tokens", k, tok)
		}
	}
	if recordSubject("S-s", "") == recordSubject("S-s", "n") {
		t.Fatal("a record without a key shares the subject of key n")
	}
}

func TestRecordEncoding(t *testing.T) {
	for _, r := range []adapter.Record{
		{},
		{Key: "k", Tags: []string{"a", "a", "b"}, Timestamp: 1 << 62, Headers: []adapter.Header{{Name: "h", Value: []byte("v")}, {Name: "h"}, {Name: "", Value: []byte{0, 1}}}, Data: []byte("data\x00")},
		{Data: bytes.Repeat([]byte{0xff}, 1000)},
	} {
		got, err := decodeRecord(encodeRecord(r))
		if err != nil {
			t.Fatalf("decode %+v: %v", r, err)
		}
		if !reflect.DeepEqual(got.Clone(), r.Clone()) {
			t.Fatalf("round trip: got %+v, want %+v", got, r)
		}
	}
	// Damaged payloads decode to an error wrapping ErrCorrupt or to some
	// record, never to a panic.
	rng := rand.New(rand.NewPCG(3, 4))
	full := encodeRecord(adapter.Record{Key: "key", Tags: []string{"t1", "t2"}, Timestamp: 42, Headers: []adapter.Header{{Name: "n", Value: []byte("v")}}, Data: []byte("payload")})
	for i := range len(full) {
		if _, err := decodeRecord(full[:i]); i < len(full)-len("payload") && !errors.Is(err, adapter.ErrCorrupt) {
			t.Fatalf("payload cut to %d bytes: %v, want ErrCorrupt", i, err)
		}
	}
	for range 5000 {
		p := bytes.Clone(full)
		p[rng.IntN(len(p))] ^= byte(1 + rng.IntN(255))
		if _, err := decodeRecord(p); err != nil && !errors.Is(err, adapter.ErrCorrupt) {
			t.Fatalf("damaged payload: %v, want ErrCorrupt", err)
		}
	}
}

// TestUnrecoveredStreamIsCorrupt damages a shard's stream metadata: the
// server skips the stream at start (with a warning), and the engine
// refuses to open with ErrCorrupt rather than lose the shard silently.
// With SkipRecoveryCheck planted, it opens without the shard.
func TestUnrecoveredStreamIsCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"kept", "damaged"} {
		if err := e.CreateShard(ctx, adapter.ShardConfig{Name: s}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Write(ctx, s, adapter.Record{Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(e.streamsDir(), streamName("damaged"), "meta.inf")
	b, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x55
	if err := os.WriteFile(meta, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(adapter.Options{Dir: dir}); !errors.Is(err, adapter.ErrCorrupt) {
		t.Fatalf("open with a damaged stream: %v, want ErrCorrupt", err)
	} else {
		t.Logf("open with a damaged stream: %v", err)
	}
	planted, err := OpenWithBugs(StorageType, adapter.Options{Dir: dir}, Bugs{SkipRecoveryCheck: true})
	if err != nil {
		t.Fatalf("open with SkipRecoveryCheck: %v", err)
	}
	defer planted.Close()
	infos, err := planted.ListShards(ctx, adapter.ShardFilter{})
	if err != nil || len(infos) != 1 || infos[0].Config.Name != "kept" {
		t.Fatalf("with SkipRecoveryCheck the damaged shard should vanish silently; shards %+v, %v", infos, err)
	}
}

// TestRetentionPurgeFinishedAtOpen stores a retention floor without
// purging, as a crash between the two steps of Retain leaves it: reads
// hide the records below the floor, and the next open purges them.
func TestRetentionPurgeFinishedAtOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s", Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := e.Write(ctx, "s", adapter.Record{Key: "k", Timestamp: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	sh, _ := e.lookup("s")
	if err := e.writeMeta(ctx, floorSubject(sh.inc), 4); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	infos, err := e.ListShards(ctx, adapter.ShardFilter{})
	if err != nil || len(infos) != 1 || infos[0].StartOffset != 4 || infos[0].NextOffset != 10 {
		t.Fatalf("after reopen: %+v, %v; want offsets 4..10", infos, err)
	}
	rs, err := e.ReadByOffset(ctx, "s", 0, 100)
	if err != nil || len(rs) != 6 || rs[0].Offset != 4 {
		t.Fatalf("read after reopen: %d records from %v, %v", len(rs), rs, err)
	}
	s, err := e.js.Stream(ctx, streamName("s"))
	if err != nil {
		t.Fatal(err)
	}
	if st := s.CachedInfo().State; st.FirstSeq != 5 || st.Msgs != 6 {
		t.Fatalf("stream after reopen: first sequence %d, %d messages; want 5, 6 (the purge finished)", st.FirstSeq, st.Msgs)
	}
}

// TestOffsetsSurvivePurgeAndRestart drops every record by retention and
// restarts the server: the stream's last sequence, NextOffset, survives,
// so the next write does not reuse an offset.
func TestOffsetsSurvivePurgeAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateShard(ctx, adapter.ShardConfig{Name: "s", Retention: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := e.Write(ctx, "s", adapter.Record{Timestamp: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Retain(ctx, time.UnixMilli(1000)); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	infos, err := e.ListShards(ctx, adapter.ShardFilter{})
	if err != nil || len(infos) != 1 || infos[0].StartOffset != 5 || infos[0].NextOffset != 5 {
		t.Fatalf("after purging everything and a restart: %+v, %v; want offsets 5..5", infos, err)
	}
	if o, err := e.Write(ctx, "s", adapter.Record{}); err != nil || o != 5 {
		t.Fatalf("write after purging everything and a restart: offset %d, %v; want 5", o, err)
	}
}

// TestDirectoryLocked opens a directory twice: the second open fails with
// ErrDirInUse, and succeeds once the first engine is closed.
func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(adapter.Options{Dir: dir}); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("second open: %v, want ErrDirInUse", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(adapter.Options{Dir: dir})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	_ = e.Close()
}
