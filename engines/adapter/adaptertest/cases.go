package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

var cases = []Case{
	{"shards/lifecycle", testShardLifecycle},
	{"shards/unknown", testUnknownShard},
	{"shards/invalid", testInvalidArguments},
	{"shards/recreate", testRecreate},
	{"write/offsets", testOffsets},
	{"write/roundtrip", testRoundTrip},
	{"write/batch-atomic", testBatchAtomic},
	{"write/offsets-not-reused", testOffsetsNotReused},
	{"write/large", testLarge},
	{"read/offset", testReadByOffset},
	{"read/tag", testReadByTag},
	{"read/key", testReadByKey},
	{"delete/missing", testDeleteMissing},
	{"delete/by-key", testDeleteByKey},
	{"timestamp", testOffsetByTimestamp},
	{"groups", testGroups},
	{"closed", testClosed},
	{"concurrent/writers", testConcurrentWriters},
	{"reopen/durable", testReopen},
	{"retention", testRetention},
	{"crash/power-loss", testPowerLoss},
	{"crash/sync-failure", testSyncFailure},
	{"crash/corruption", testCorruption},
}

func testShardLifecycle(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	a := e.create("orders-1", 0)
	b := e.create("orders-2", 1)
	c := e.create("users", 2)
	wantErr(t, "create existing shard", e.a.CreateShard(ctx, a), adapter.ErrShardExists)
	other := a
	other.SegmentSize = 1 << 20
	wantErr(t, "create existing shard with another config", e.a.CreateShard(ctx, other), adapter.ErrShardExists)

	all, err := e.a.ListShards(ctx, adapter.ShardFilter{})
	wantOK(t, "list all", err)
	if got := names(all); !slices.Equal(got, []string{"orders-1", "orders-2", "users"}) {
		t.Fatalf("list all: got %v", got)
	}
	for _, in := range all {
		want := map[string]adapter.ShardConfig{"orders-1": a, "orders-2": b, "users": c}[in.Config.Name]
		if in.Config != want || in.NextOffset != 0 || in.StartOffset != 0 {
			t.Fatalf("list: got %+v, want config %+v at offsets 0..0", in, want)
		}
	}
	pre, err := e.a.ListShards(ctx, adapter.ShardFilter{Prefix: "orders-"})
	wantOK(t, "list by prefix", err)
	if got := names(pre); !slices.Equal(got, []string{"orders-1", "orders-2"}) {
		t.Fatalf("list by prefix: got %v", got)
	}
	one, err := e.a.ListShards(ctx, adapter.ShardFilter{Name: "users"})
	wantOK(t, "list by name", err)
	if got := names(one); !slices.Equal(got, []string{"users"}) {
		t.Fatalf("list by name: got %v", got)
	}
	if len(h.StorageTypes) > 0 {
		byType, err := e.a.ListShards(ctx, adapter.ShardFilter{StorageType: a.StorageType})
		wantOK(t, "list by storage type", err)
		for _, in := range byType {
			if in.Config.StorageType != a.StorageType {
				t.Fatalf("list by storage type %q returned %+v", a.StorageType, in)
			}
		}
		if !slices.Contains(names(byType), "orders-1") {
			t.Fatalf("list by storage type %q: got %v, want orders-1 in it", a.StorageType, names(byType))
		}
	}
	none, err := e.a.ListShards(ctx, adapter.ShardFilter{Name: "nope"})
	wantOK(t, "list missing name", err)
	if len(none) != 0 {
		t.Fatalf("list missing name: got %v", names(none))
	}

	e.write("orders-2", rec(1, "k"))
	wantOK(t, "delete shard", e.a.DeleteShard(ctx, "orders-2"))
	wantErr(t, "delete deleted shard", e.a.DeleteShard(ctx, "orders-2"), adapter.ErrShardNotFound)
	all, err = e.a.ListShards(ctx, adapter.ShardFilter{})
	wantOK(t, "list after delete", err)
	if got := names(all); !slices.Equal(got, []string{"orders-1", "users"}) {
		t.Fatalf("list after delete: got %v", got)
	}
	if e.persistent() {
		e.reopen()
		all, err = e.a.ListShards(ctx, adapter.ShardFilter{})
		wantOK(t, "list after reopen", err)
		if got := names(all); !slices.Equal(got, []string{"orders-1", "users"}) {
			t.Fatalf("list after reopen: got %v", got)
		}
		if in := e.info("orders-1"); in.Config != a {
			t.Fatalf("config after reopen: got %+v, want %+v", in.Config, a)
		}
	}
}

func names(infos []adapter.ShardInfo) []string {
	out := []string{}
	for _, in := range infos {
		out = append(out, in.Config.Name)
	}
	return out
}

func testUnknownShard(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("present", 0)
	const s = "absent"
	nf := adapter.ErrShardNotFound
	wantErr(t, "DeleteShard", e.a.DeleteShard(ctx, s), nf)
	_, err := e.a.Write(ctx, s, rec(1, "k"))
	wantErr(t, "Write", err, nf)
	_, err = e.a.BatchWrite(ctx, s, []adapter.Record{rec(1, "k")})
	wantErr(t, "BatchWrite", err, nf)
	_, err = e.a.ReadByOffset(ctx, s, 0, 10)
	wantErr(t, "ReadByOffset", err, nf)
	_, err = e.a.ReadByTag(ctx, s, "t", 0, 10)
	wantErr(t, "ReadByTag", err, nf)
	_, err = e.a.ReadByKey(ctx, s, "k")
	wantErr(t, "ReadByKey", err, nf)
	wantErr(t, "DeleteByOffset", e.a.DeleteByOffset(ctx, s, 0), nf)
	wantErr(t, "DeleteByKey", e.a.DeleteByKey(ctx, s, "k"), nf)
	_, err = e.a.OffsetByTimestamp(ctx, s, 0)
	wantErr(t, "OffsetByTimestamp", err, nf)
	_, err = e.a.OffsetByGroup(ctx, "g", s)
	wantErr(t, "OffsetByGroup", err, nf)
	wantErr(t, "CommitOffset", e.a.CommitOffset(ctx, "g", s, 1), nf)
	_, err = e.a.BatchWrite(ctx, s, nil)
	wantErr(t, "empty BatchWrite", err, nf)
}

func testInvalidArguments(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	inv := adapter.ErrInvalidArgument
	for _, name := range []string{"", ".hidden", "a/b", "a b", "ä", string(make([]byte, adapter.MaxShardNameLen+1))} {
		c := e.cfg(name, 0)
		wantErr(t, fmt.Sprintf("create shard %q", name), e.a.CreateShard(ctx, c), inv)
	}
	bad := e.cfg("neg", 0)
	bad.SegmentSize = -1
	wantErr(t, "create with negative segment size", e.a.CreateShard(ctx, bad), inv)
	bad = e.cfg("neg", 0)
	bad.Retention = -time.Second
	wantErr(t, "create with negative retention", e.a.CreateShard(ctx, bad), inv)

	e.create("s", 0)
	r := rec(1, "k")
	r.Timestamp = -1
	_, err := e.a.Write(ctx, "s", r)
	wantErr(t, "write negative timestamp", err, inv)
	_, err = e.a.Write(ctx, "s", rec(1, "k", "ok", ""))
	wantErr(t, "write empty tag", err, inv)
	_, err = e.a.ReadByOffset(ctx, "s", 0, 0)
	wantErr(t, "read limit 0", err, inv)
	_, err = e.a.ReadByTag(ctx, "s", "t", 0, 0)
	wantErr(t, "read by tag limit 0", err, inv)
	_, err = e.a.ReadByTag(ctx, "s", "", 0, 1)
	wantErr(t, "read by empty tag", err, inv)
	_, err = e.a.ReadByKey(ctx, "s", "")
	wantErr(t, "read by empty key", err, inv)
	wantErr(t, "delete by empty key", e.a.DeleteByKey(ctx, "s", ""), inv)
	_, err = e.a.OffsetByGroup(ctx, "", "s")
	wantErr(t, "offset of empty group", err, inv)
	wantErr(t, "commit empty group", e.a.CommitOffset(ctx, "", "s", 1), inv)
	if got := e.info("s").NextOffset; got != 0 {
		t.Fatalf("rejected writes moved NextOffset to %d", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.a.Write(cctx, "s", rec(1, "k"))
	wantErr(t, "write with a canceled context", err, context.Canceled)
}

func testRecreate(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	e.batch("s", []adapter.Record{rec(1, "a", "t"), rec(2, "b", "t")})
	wantOK(t, "commit", e.a.CommitOffset(ctx, "g", "s", 2))
	wantOK(t, "delete shard", e.a.DeleteShard(ctx, "s"))
	e.create("s", 1)
	check := func(when string) {
		if rs := e.readAll("s"); len(rs) != 0 {
			t.Fatalf("%s: recreated shard holds %d records", when, len(rs))
		}
		if _, err := e.a.ReadByKey(ctx, "s", "a"); !errors.Is(err, adapter.ErrNotFound) {
			t.Fatalf("%s: read old key from recreated shard: %v", when, err)
		}
		rs, err := e.a.ReadByTag(ctx, "s", "t", 0, 10)
		wantOK(t, when+": read by tag", err)
		if len(rs) != 0 {
			t.Fatalf("%s: recreated shard has %d records tagged t", when, len(rs))
		}
		_, err = e.a.OffsetByGroup(ctx, "g", "s")
		wantErr(t, when+": group offset in recreated shard", err, adapter.ErrNotFound)
		_, err = e.a.OffsetByTimestamp(ctx, "s", 0)
		wantErr(t, when+": offset by timestamp in recreated shard", err, adapter.ErrNotFound)
	}
	check("after recreate")
	if e.persistent() {
		e.reopen()
		check("after reopen")
	}
	if o := e.write("s", rec(3, "c")); o != 0 {
		t.Fatalf("first write to recreated shard got offset %d, want 0", o)
	}
}

func testOffsets(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("a", 0)
	e.create("b", 1)
	for i := range 3 {
		if o := e.write("a", rec(i, "")); o != uint64(i) {
			t.Fatalf("write %d to a: offset %d", i, o)
		}
	}
	if o := e.write("b", rec(9, "")); o != 0 {
		t.Fatalf("first write to b: offset %d, want 0 (offsets are per shard)", o)
	}
	offs := e.batch("a", []adapter.Record{rec(3, ""), rec(4, ""), rec(5, "")})
	if !slices.Equal(offs, []uint64{3, 4, 5}) {
		t.Fatalf("batch offsets %v, want [3 4 5]", offs)
	}
	empty, err := e.a.BatchWrite(e.ctx, "a", nil)
	wantOK(t, "empty batch", err)
	if len(empty) != 0 {
		t.Fatalf("empty batch returned offsets %v", empty)
	}
	if o := e.write("a", rec(6, "")); o != 6 {
		t.Fatalf("write after batch: offset %d, want 6", o)
	}
	if in := e.info("a"); in.NextOffset != 7 || in.StartOffset != 0 {
		t.Fatalf("info a: %+v, want offsets 0..7", in)
	}
	if got := offsetsOf(e.readAll("a")); !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("offsets read back %v", got)
	}
}

func testRoundTrip(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", 0)
	full := adapter.Record{
		Offset:    12345, // ignored
		Key:       "key-1",
		Tags:      []string{"red", "blue"},
		Timestamp: 1_700_000_000_123,
		Headers:   []adapter.Header{{Name: "h1", Value: []byte("v1")}, {Name: "h2", Value: nil}, {Name: "h1", Value: []byte("again")}},
		Data:      []byte("hello\x00world"),
	}
	bare := adapter.Record{}
	big := rec(3, "big")
	big.Data = make([]byte, 70_000)
	for i := range big.Data {
		big.Data[i] = byte(i * 7)
	}
	in := []adapter.Record{full.Clone(), bare, big.Clone()}
	offs := e.batch("s", in)
	// The caller may reuse what it passed.
	in[0].Data[0] = 'X'
	in[0].Tags[0] = "mutated"
	in[2].Data[1] = 0xff
	check := func(when string) {
		rs := e.readAll("s")
		if len(rs) != 3 {
			t.Fatalf("%s: read %d records, want 3", when, len(rs))
		}
		wantRecord(t, when+": full record", rs[0], withOffset(full, offs[0]))
		wantRecord(t, when+": bare record", rs[1], withOffset(bare, offs[1]))
		wantRecord(t, when+": big record", rs[2], withOffset(big, offs[2]))
		// Returned records belong to the caller.
		rs[0].Data[0] = 'Y'
		rs[0].Headers[0].Value[0] = 'Z'
		again, err := e.a.ReadByOffset(e.ctx, "s", 0, 1)
		wantOK(t, when+": reread", err)
		wantRecord(t, when+": record after the caller changed a returned copy", again[0], withOffset(full, offs[0]))
	}
	check("before reopen")
	if e.persistent() {
		e.reopen()
		check("after reopen")
	}
}

func testBatchAtomic(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", 0)
	e.write("s", rec(0, "k0", "t"))
	bad := rec(2, "k2", "t")
	bad.Timestamp = -5
	_, err := e.a.BatchWrite(e.ctx, "s", []adapter.Record{rec(1, "k1", "t"), bad})
	wantErr(t, "batch with an invalid record", err, adapter.ErrInvalidArgument)
	if rs := e.readAll("s"); len(rs) != 1 {
		t.Fatalf("a rejected batch left %d records, want 1", len(rs))
	}
	if _, err := e.a.ReadByKey(e.ctx, "s", "k1"); !errors.Is(err, adapter.ErrNotFound) {
		t.Fatalf("a rejected batch left key k1: %v", err)
	}
	if o := e.write("s", rec(3, "k3")); o != 1 {
		t.Fatalf("write after a rejected batch got offset %d, want 1", o)
	}
}

// Sizes testLarge writes: the SPI bounds neither a record nor a batch.
const (
	largeRecord = 2 << 20
	largeBatch  = 1500
)

func testLarge(t testing.TB, h Harness) {
	e := newEnv(t, h)
	e.create("s", 0)
	big := rec(0, "big", "t")
	big.Data = bytes.Repeat([]byte("0123456789abcdef"), largeRecord/16)
	want := []adapter.Record{withOffset(big, e.write("s", big))}
	rs := make([]adapter.Record, largeBatch)
	for i := range rs {
		rs[i] = rec(i+1, fmt.Sprintf("k%d", i%10), "t")
	}
	for i, o := range e.batch("s", rs) {
		want = append(want, withOffset(rs[i], o))
	}
	check := func(when string) {
		got := e.readAll("s")
		if len(got) != len(want) {
			t.Fatalf("%s: read %d records, want %d", when, len(got), len(want))
		}
		for i := range got {
			wantRecord(t, fmt.Sprintf("%s: record %d", when, i), got[i], want[i])
		}
	}
	check("fresh")
	if e.persistent() {
		e.reopen()
		check("after reopen")
	}
}

func testOffsetsNotReused(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	e.batch("s", []adapter.Record{rec(0, "a"), rec(1, "b"), rec(2, "c")})
	wantOK(t, "delete last offset", e.a.DeleteByOffset(ctx, "s", 2))
	if o := e.write("s", rec(3, "d")); o != 3 {
		t.Fatalf("write after deleting the last record got offset %d, want 3", o)
	}
	wantOK(t, "delete by key d", e.a.DeleteByKey(ctx, "s", "d"))
	wantOK(t, "delete 0", e.a.DeleteByOffset(ctx, "s", 0))
	wantOK(t, "delete 1", e.a.DeleteByOffset(ctx, "s", 1))
	if rs := e.readAll("s"); len(rs) != 0 {
		t.Fatalf("%d records left after deleting all", len(rs))
	}
	if in := e.info("s"); in.NextOffset != 4 {
		t.Fatalf("NextOffset after deleting everything: %d, want 4", in.NextOffset)
	}
	if e.persistent() {
		e.reopen()
		if in := e.info("s"); in.NextOffset != 4 {
			t.Fatalf("NextOffset after reopen: %d, want 4", in.NextOffset)
		}
	}
	if o := e.write("s", rec(4, "e")); o != 4 {
		t.Fatalf("write after deleting everything got offset %d, want 4", o)
	}
	if rs := e.readAll("s"); len(rs) != 1 || !same(rs[0], withOffset(rec(4, "e"), 4)) {
		t.Fatalf("read after deletes and a write: %v", offsetsOf(rs))
	}
}

func testReadByOffset(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	var want []adapter.Record
	for i := range 10 {
		r := rec(i, fmt.Sprintf("k%d", i))
		want = append(want, withOffset(r, e.write("s", r)))
	}
	wantOK(t, "delete 3", e.a.DeleteByOffset(ctx, "s", 3))
	wantOK(t, "delete 4", e.a.DeleteByOffset(ctx, "s", 4))
	live := slices.Concat(want[:3], want[5:])
	for _, tc := range []struct {
		offset uint64
		limit  int
		want   []adapter.Record
	}{
		{0, 100, live},
		{0, 2, live[:2]},
		{2, 2, []adapter.Record{want[2], want[5]}},
		{3, 1, []adapter.Record{want[5]}},
		{4, 3, want[5:8]},
		{9, 5, want[9:]},
		{10, 5, nil},
		{1 << 40, 5, nil},
	} {
		got, err := e.a.ReadByOffset(ctx, "s", tc.offset, tc.limit)
		wantOK(t, "read", err)
		if len(got) != len(tc.want) {
			t.Fatalf("read from %d limit %d: offsets %v, want %v", tc.offset, tc.limit, offsetsOf(got), offsetsOf(tc.want))
		}
		for i := range got {
			wantRecord(t, fmt.Sprintf("read from %d limit %d, record %d", tc.offset, tc.limit, i), got[i], tc.want[i])
		}
	}
}

func testReadByTag(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	e.create("other", 1)
	e.write("other", rec(100, "x", "red"))
	var red []adapter.Record
	for i := range 12 {
		tags := []string{"all"}
		if i%3 == 0 {
			tags = append(tags, "red", "red") // a repeated tag counts once
		}
		r := rec(i, "", tags...)
		o := e.write("s", r)
		if i%3 == 0 {
			red = append(red, withOffset(r, o))
		}
	}
	wantOK(t, "delete 6", e.a.DeleteByOffset(ctx, "s", 6))
	liveRed := []adapter.Record{red[0], red[1], red[3]} // offsets 0, 3, 9
	check := func(when string) {
		for _, tc := range []struct {
			offset uint64
			limit  int
			want   []adapter.Record
		}{
			{0, 10, liveRed},
			{0, 2, liveRed[:2]},
			{3, 10, liveRed[1:]},
			{4, 10, liveRed[2:]},
			{9, 1, liveRed[2:]},
			{10, 10, nil},
		} {
			got, err := e.a.ReadByTag(ctx, "s", "red", tc.offset, tc.limit)
			wantOK(t, when+": read by tag", err)
			if len(got) != len(tc.want) {
				t.Fatalf("%s: red from %d limit %d: offsets %v, want %v", when, tc.offset, tc.limit, offsetsOf(got), offsetsOf(tc.want))
			}
			for i := range got {
				wantRecord(t, fmt.Sprintf("%s: red from %d, record %d", when, tc.offset, i), got[i], tc.want[i])
			}
		}
		all, err := e.a.ReadByTag(ctx, "s", "all", 0, 100)
		wantOK(t, when+": read tag all", err)
		if len(all) != 11 {
			t.Fatalf("%s: %d records tagged all, want 11", when, len(all))
		}
		none, err := e.a.ReadByTag(ctx, "s", "green", 0, 100)
		wantOK(t, when+": read unknown tag", err)
		if len(none) != 0 {
			t.Fatalf("%s: unknown tag returned %v", when, offsetsOf(none))
		}
	}
	check("before reopen")
	if e.persistent() {
		e.reopen()
		check("after reopen")
		// Indexes keep working for records written after the reopen.
		r := rec(50, "", "red")
		o := e.write("s", r)
		got, err := e.a.ReadByTag(ctx, "s", "red", o, 10)
		wantOK(t, "read tag after reopen and write", err)
		if len(got) != 1 || !same(got[0], withOffset(r, o)) {
			t.Fatalf("tag index after reopen misses a new record: got %v", offsetsOf(got))
		}
	}
}

func testReadByKey(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	a1 := rec(1, "a")
	o1 := e.write("s", a1)
	e.write("s", rec(2, "b"))
	a3 := rec(3, "a")
	o3 := e.write("s", a3)
	check := func(when string) {
		got, err := e.a.ReadByKey(ctx, "s", "a")
		wantOK(t, when+": read key a", err)
		wantRecord(t, when+": latest record for a", got, withOffset(a3, o3))
		wantOK(t, when+": delete the latest a", e.a.DeleteByOffset(ctx, "s", o3))
		got, err = e.a.ReadByKey(ctx, "s", "a")
		wantOK(t, when+": read key a after deleting its latest", err)
		wantRecord(t, when+": key a falls back to the older live record", got, withOffset(a1, o1))
		_, err = e.a.ReadByKey(ctx, "s", "missing")
		wantErr(t, when+": read a missing key", err, adapter.ErrNotFound)
	}
	check("fresh")
	if e.persistent() {
		o3 = e.write("s", a3)
		e.reopen()
		check("after reopen")
	}
}

func testDeleteMissing(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	e.batch("s", []adapter.Record{rec(0, "a"), rec(1, "b")})
	wantErr(t, "delete an offset never written", e.a.DeleteByOffset(ctx, "s", 2), adapter.ErrNotFound)
	wantErr(t, "delete a far offset", e.a.DeleteByOffset(ctx, "s", 1<<50), adapter.ErrNotFound)
	wantOK(t, "delete 0", e.a.DeleteByOffset(ctx, "s", 0))
	wantErr(t, "delete 0 again", e.a.DeleteByOffset(ctx, "s", 0), adapter.ErrNotFound)
	wantErr(t, "delete a key never written", e.a.DeleteByKey(ctx, "s", "zzz"), adapter.ErrNotFound)
	wantErr(t, "delete the key of a deleted record", e.a.DeleteByKey(ctx, "s", "a"), adapter.ErrNotFound)
	if rs := e.readAll("s"); len(rs) != 1 || rs[0].Offset != 1 {
		t.Fatalf("after deletes: offsets %v, want [1]", offsetsOf(rs))
	}
}

func testDeleteByKey(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	e.batch("s", []adapter.Record{rec(0, "k", "t"), rec(1, "other", "t"), rec(2, "k", "t"), rec(3, "k", "t")})
	wantOK(t, "delete key k", e.a.DeleteByKey(ctx, "s", "k"))
	check := func(when string) {
		_, err := e.a.ReadByKey(ctx, "s", "k")
		wantErr(t, when+": read deleted key", err, adapter.ErrNotFound)
		if got := offsetsOf(e.readAll("s")); !slices.Equal(got, []uint64{1}) {
			t.Fatalf("%s: offsets after delete by key %v, want [1]", when, got)
		}
		rs, err := e.a.ReadByTag(ctx, "s", "t", 0, 10)
		wantOK(t, when+": read by tag", err)
		if got := offsetsOf(rs); !slices.Equal(got, []uint64{1}) {
			t.Fatalf("%s: tag read after delete by key %v, want [1]", when, got)
		}
		_, err = e.a.OffsetByTimestamp(ctx, "s", rec(2, "").Timestamp)
		wantErr(t, when+": timestamp of deleted records", err, adapter.ErrNotFound)
	}
	check("fresh")
	if e.persistent() {
		e.reopen()
		check("after reopen")
	}
	o := e.write("s", rec(9, "k"))
	got, err := e.a.ReadByKey(ctx, "s", "k")
	wantOK(t, "read key rewritten after delete", err)
	wantRecord(t, "rewritten key", got, withOffset(rec(9, "k"), o))
}

func testOffsetByTimestamp(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	_, err := e.a.OffsetByTimestamp(ctx, "s", 0)
	wantErr(t, "timestamp in an empty shard", err, adapter.ErrNotFound)
	// Timestamps need not grow with offsets.
	tss := []int64{100, 300, 200, 300, 500, 400, 700}
	for i, ts := range tss {
		r := rec(i, "")
		r.Timestamp = ts
		e.write("s", r)
	}
	wantOK(t, "delete 4", e.a.DeleteByOffset(ctx, "s", 4))
	check := func(when string) {
		for _, tc := range []struct {
			ts   int64
			want uint64
			ok   bool
		}{
			{0, 0, true}, {100, 0, true}, {101, 1, true}, {200, 1, true}, {300, 1, true},
			{301, 5, true}, // 4 (500) is deleted; 5 (400) is the first live one >= 301
			{450, 6, true}, {700, 6, true}, {701, 0, false},
		} {
			got, err := e.a.OffsetByTimestamp(ctx, "s", tc.ts)
			if !tc.ok {
				wantErr(t, fmt.Sprintf("%s: timestamp %d", when, tc.ts), err, adapter.ErrNotFound)
				continue
			}
			wantOK(t, fmt.Sprintf("%s: timestamp %d", when, tc.ts), err)
			if got != tc.want {
				t.Fatalf("%s: offset by timestamp %d: got %d, want %d", when, tc.ts, got, tc.want)
			}
		}
	}
	check("fresh")
	if e.persistent() {
		e.reopen()
		check("after reopen")
	}
}

func testGroups(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("a", 0)
	e.create("b", 1)
	_, err := e.a.OffsetByGroup(ctx, "g1", "a")
	wantErr(t, "offset never committed", err, adapter.ErrNotFound)
	wantOK(t, "commit g1 a", e.a.CommitOffset(ctx, "g1", "a", 5))
	wantOK(t, "commit g1 b", e.a.CommitOffset(ctx, "g1", "b", 7))
	wantOK(t, "commit g2 a", e.a.CommitOffset(ctx, "g2", "a", 1))
	wantOK(t, "commit g1 a again", e.a.CommitOffset(ctx, "g1", "a", 9))
	wantOK(t, "commit g2 a backwards", e.a.CommitOffset(ctx, "g2", "a", 0))
	check := func(when string) {
		for _, tc := range []struct {
			group, shard string
			want         uint64
		}{{"g1", "a", 9}, {"g1", "b", 7}, {"g2", "a", 0}} {
			got, err := e.a.OffsetByGroup(ctx, tc.group, tc.shard)
			wantOK(t, fmt.Sprintf("%s: offset of %s in %s", when, tc.group, tc.shard), err)
			if got != tc.want {
				t.Fatalf("%s: offset of %s in %s: got %d, want %d", when, tc.group, tc.shard, got, tc.want)
			}
		}
		_, err := e.a.OffsetByGroup(ctx, "g2", "b")
		wantErr(t, when+": g2 never committed in b", err, adapter.ErrNotFound)
	}
	check("fresh")
	if e.persistent() {
		e.reopen()
		check("after reopen")
	}
	wantOK(t, "delete shard b", e.a.DeleteShard(ctx, "b"))
	_, err = e.a.OffsetByGroup(ctx, "g1", "b")
	wantErr(t, "offset in a deleted shard", err, adapter.ErrShardNotFound)
}

func testClosed(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	a := e.a
	wantOK(t, "close", a.Close())
	e.a = nil
	c := adapter.ErrClosed
	wantErr(t, "second close", a.Close(), c)
	wantErr(t, "CreateShard", a.CreateShard(ctx, e.cfg("t", 0)), c)
	wantErr(t, "DeleteShard", a.DeleteShard(ctx, "s"), c)
	_, err := a.ListShards(ctx, adapter.ShardFilter{})
	wantErr(t, "ListShards", err, c)
	_, err = a.Write(ctx, "s", rec(1, "k"))
	wantErr(t, "Write", err, c)
	_, err = a.BatchWrite(ctx, "s", []adapter.Record{rec(1, "k")})
	wantErr(t, "BatchWrite", err, c)
	_, err = a.ReadByOffset(ctx, "s", 0, 1)
	wantErr(t, "ReadByOffset", err, c)
	_, err = a.ReadByTag(ctx, "s", "t", 0, 1)
	wantErr(t, "ReadByTag", err, c)
	_, err = a.ReadByKey(ctx, "s", "k")
	wantErr(t, "ReadByKey", err, c)
	wantErr(t, "DeleteByOffset", a.DeleteByOffset(ctx, "s", 0), c)
	wantErr(t, "DeleteByKey", a.DeleteByKey(ctx, "s", "k"), c)
	_, err = a.OffsetByTimestamp(ctx, "s", 0)
	wantErr(t, "OffsetByTimestamp", err, c)
	_, err = a.OffsetByGroup(ctx, "g", "s")
	wantErr(t, "OffsetByGroup", err, c)
	wantErr(t, "CommitOffset", a.CommitOffset(ctx, "g", "s", 0), c)
}

func testConcurrentWriters(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx
	e.create("s", 0)
	e.create("t", 1)
	const writers, ops = 4, 20
	type wrote struct {
		off uint64
		r   adapter.Record
	}
	var (
		mu     sync.Mutex
		all    []wrote
		wg     sync.WaitGroup
		errs   = make(chan error, writers*2)
		shards = []string{"s", "t"}
	)
	for w := range writers * 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shard := shards[w%2]
			for i := range ops {
				n := 1 + (i % 3)
				rs := make([]adapter.Record, n)
				for j := range rs {
					rs[j] = rec(w*10_000+i*10+j, fmt.Sprintf("w%d", w), fmt.Sprintf("w%d", w))
				}
				var offs []uint64
				var err error
				if n == 1 && i%2 == 0 {
					var o uint64
					o, err = e.a.Write(ctx, shard, rs[0])
					offs = []uint64{o}
				} else {
					offs, err = e.a.BatchWrite(ctx, shard, rs)
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d op %d: %w", w, i, err)
					return
				}
				for j := 1; j < len(offs); j++ {
					if offs[j] != offs[j-1]+1 {
						errs <- fmt.Errorf("writer %d: batch offsets %v not consecutive", w, offs)
						return
					}
				}
				mu.Lock()
				for j, o := range offs {
					if shard == "s" {
						all = append(all, wrote{o, rs[j]})
					}
				}
				mu.Unlock()
				if i%5 == 0 {
					if err := e.a.CommitOffset(ctx, fmt.Sprintf("g%d", w), shard, uint64(i)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writers: %v", err)
	}
	slices.SortFunc(all, func(a, b wrote) int { return int(a.off) - int(b.off) })
	for i, w := range all {
		if w.off != uint64(i) {
			t.Fatalf("offsets of shard s are not unique and contiguous: position %d has offset %d", i, w.off)
		}
	}
	got := e.readAll("s")
	if len(got) != len(all) {
		t.Fatalf("read %d records, wrote %d", len(got), len(all))
	}
	for i := range got {
		wantRecord(t, fmt.Sprintf("record %d", i), got[i], withOffset(all[i].r, all[i].off))
	}
	if in := e.info("s"); in.NextOffset != uint64(len(all)) {
		t.Fatalf("NextOffset %d after %d concurrent writes", in.NextOffset, len(all))
	}
}

func testReopen(t testing.TB, h Harness) {
	e := newEnv(t, h)
	if !e.persistent() {
		t.Skip("engine is not persistent")
	}
	ctx := e.ctx
	e.create("s", 0)
	e.create("u", 1)
	var want []adapter.Record
	for i := range 30 {
		r := rec(i, fmt.Sprintf("k%d", i%7), fmt.Sprintf("t%d", i%4))
		want = append(want, withOffset(r, e.write("s", r)))
	}
	e.batch("u", []adapter.Record{rec(1, "x"), rec(2, "y")})
	wantOK(t, "delete 5", e.a.DeleteByOffset(ctx, "s", 5))
	wantOK(t, "delete k3", e.a.DeleteByKey(ctx, "s", "k3"))
	wantOK(t, "commit", e.a.CommitOffset(ctx, "g", "s", 17))
	live := slices.DeleteFunc(slices.Clone(want), func(r adapter.Record) bool { return r.Offset == 5 || r.Key == "k3" })
	for round := range 2 {
		e.reopen()
		got := e.readAll("s")
		if len(got) != len(live) {
			t.Fatalf("reopen %d: %d records, want %d", round, len(got), len(live))
		}
		for i := range got {
			wantRecord(t, fmt.Sprintf("reopen %d: record %d", round, i), got[i], live[i])
		}
		g, err := e.a.OffsetByGroup(ctx, "g", "s")
		wantOK(t, "group offset after reopen", err)
		if g != 17 {
			t.Fatalf("reopen %d: group offset %d, want 17", round, g)
		}
		if in := e.info("u"); in.NextOffset != 2 {
			t.Fatalf("reopen %d: shard u NextOffset %d, want 2", round, in.NextOffset)
		}
	}
	if o := e.write("s", rec(99, "")); o != 30 {
		t.Fatalf("write after reopen got offset %d, want 30", o)
	}
}

func testRetention(t testing.TB, h Harness) {
	e := newEnv(t, h)
	ret, ok := e.a.(adapter.Retainer)
	if !ok {
		t.Skip("engine does not implement adapter.Retainer")
	}
	ctx := e.ctx
	cfg := e.cfg("s", 0)
	cfg.SegmentSize = 512
	cfg.Retention = time.Hour
	wantOK(t, "create", e.a.CreateShard(ctx, cfg))
	keep := e.cfg("keep", 1)
	keep.SegmentSize = 512
	wantOK(t, "create keep", e.a.CreateShard(ctx, keep))
	t0 := time.UnixMilli(1_700_000_000_000)
	const n = 60
	for i := range n {
		r := rec(i, fmt.Sprintf("k%d", i), "t")
		r.Timestamp = t0.Add(time.Duration(i) * time.Minute).UnixMilli()
		e.write("s", r)
		e.write("keep", r)
	}
	wantOK(t, "commit", e.a.CommitOffset(ctx, "g", "s", 3))
	now := t0.Add(80 * time.Minute) // cutoff at minute 20
	wantOK(t, "retain", ret.Retain(ctx, now))
	check := func(when string) {
		in := e.info("s")
		if in.StartOffset == 0 || in.StartOffset > 20 {
			t.Fatalf("%s: StartOffset %d, want in 1..20 (records 0..19 expired, segments of 512 bytes)", when, in.StartOffset)
		}
		if in.NextOffset != n {
			t.Fatalf("%s: NextOffset %d, want %d", when, in.NextOffset, n)
		}
		rs := e.readAll("s")
		if len(rs) == 0 || rs[0].Offset != in.StartOffset || rs[len(rs)-1].Offset != n-1 || len(rs) != int(n-in.StartOffset) {
			t.Fatalf("%s: read after retention: %d records from %v, want %d..%d", when, len(rs), offsetsOf(rs[:min(1, len(rs))]), in.StartOffset, n-1)
		}
		got, err := e.a.OffsetByTimestamp(ctx, "s", 0)
		wantOK(t, when+": offset by timestamp 0", err)
		if got != in.StartOffset {
			t.Fatalf("%s: offset by timestamp 0: %d, want StartOffset %d", when, got, in.StartOffset)
		}
		tagged, err := e.a.ReadByTag(ctx, "s", "t", 0, 1)
		wantOK(t, when+": read by tag", err)
		if len(tagged) != 1 || tagged[0].Offset != in.StartOffset {
			t.Fatalf("%s: first tagged record %v, want offset %d", when, offsetsOf(tagged), in.StartOffset)
		}
		_, err = e.a.ReadByKey(ctx, "s", "k0")
		wantErr(t, when+": read a retained-away key", err, adapter.ErrNotFound)
		wantErr(t, when+": delete a retained-away offset", e.a.DeleteByOffset(ctx, "s", 0), adapter.ErrNotFound)
		if g, err := e.a.OffsetByGroup(ctx, "g", "s"); err != nil || g != 3 {
			t.Fatalf("%s: group offset after retention: %d, %v", when, g, err)
		}
		if in := e.info("keep"); in.StartOffset != 0 {
			t.Fatalf("%s: shard without retention lost records: StartOffset %d", when, in.StartOffset)
		}
	}
	check("after retain")
	if e.persistent() {
		e.reopen()
		check("after reopen")
	}
	ret = e.a.(adapter.Retainer)
	wantOK(t, "retain far in the future", ret.Retain(ctx, now.Add(1000*time.Hour)))
	if o := e.write("s", rec(100, "")); o != n {
		t.Fatalf("write after retaining everything got offset %d, want %d", o, n)
	}
}
