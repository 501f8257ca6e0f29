package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// JetStream API subjects and headers the engine uses directly.
const (
	apiPrefix      = "$JS.API."
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
	hdrSequence    = "Nats-Sequence"
	hdrNumPending  = "Nats-Num-Pending"
	hdrStatus      = "Status"
	statusNoMsgs   = "404"
	statusEOB      = "204"
	statusNoAnswer = "503"
	scanBatch      = 1024
	scanMaxBytes   = 16 << 20
	// msgOverhead bounds what a record's message adds to its payload in
	// the server's max_payload: the header block with the batch headers.
	msgOverhead = 256
)

// CreateShard creates the shard's stream, with its configuration and a new
// incarnation in the stream's metadata.
func (e *Engine) CreateShard(ctx context.Context, cfg adapter.ShardConfig) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.shards[cfg.Name]; ok {
		return fmt.Errorf("%w: %q", adapter.ErrShardExists, cfg.Name)
	}
	sh := &shard{cfg: cfg, stream: streamName(cfg.Name), inc: nuid.Next(), sem: make(chan struct{}, maxInflightBatches)}
	sc := jetstream.StreamConfig{
		Name:               sh.stream,
		Subjects:           []string{recordFilter(sh.stream)},
		Storage:            jetstream.FileStorage,
		Replicas:           1,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardOld,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		Metadata: map[string]string{
			mdShard:       cfg.Name,
			mdStorageType: cfg.StorageType,
			mdSegmentSize: strconv.FormatInt(cfg.SegmentSize, 10),
			mdRetention:   strconv.FormatInt(int64(cfg.Retention), 10),
			mdIncarnation: sh.inc,
		},
	}
	tctx, cancel := e.withTimeout(ctx)
	defer cancel()
	if _, err := e.js.CreateStream(tctx, sc); err != nil {
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("%w: %q (stream %s exists)", adapter.ErrShardExists, cfg.Name, sh.stream)
		}
		return e.mutationErr(ctx, "create shard "+cfg.Name, err)
	}
	e.shards[cfg.Name] = sh
	return nil
}

// DeleteShard deletes the shard's stream, then its group offsets and
// retention floor.
func (e *Engine) DeleteShard(ctx context.Context, name string) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	sh, ok := e.shards[name]
	if !ok {
		return fmt.Errorf("%w: %q", adapter.ErrShardNotFound, name)
	}
	tctx, cancel := e.withTimeout(ctx)
	defer cancel()
	if err := e.js.DeleteStream(tctx, sh.stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return e.mutationErr(ctx, "delete shard "+name, err)
	}
	delete(e.shards, name)
	// The meta subjects carry the incarnation, so a shard created later
	// under the same name never sees these; removing them only frees space.
	if _, err := e.purge(tctx, metaStream, purgeRequest{Filter: incarnationFilter(sh.inc)}); err != nil {
		return e.mutationErr(ctx, "delete the group offsets of shard "+name, err)
	}
	return nil
}

// ListShards returns the matching shards with their stream's last sequence
// as NextOffset and the retention floor as StartOffset.
func (e *Engine) ListShards(ctx context.Context, f adapter.ShardFilter) ([]adapter.ShardInfo, error) {
	if err := e.enter(ctx); err != nil {
		return nil, err
	}
	e.mu.RLock()
	var shs []*shard
	for _, sh := range e.shards {
		if f.Match(sh.cfg) {
			shs = append(shs, sh)
		}
	}
	e.mu.RUnlock()
	out := make([]adapter.ShardInfo, 0, len(shs))
	for _, sh := range shs {
		last, err := e.lastSeq(ctx, sh)
		if err != nil {
			if errors.Is(err, adapter.ErrShardNotFound) {
				continue // deleted meanwhile
			}
			return nil, err
		}
		out = append(out, adapter.ShardInfo{Config: sh.cfg, StartOffset: min(sh.floor.Load(), last), NextOffset: last})
	}
	adapter.SortShardInfos(out)
	return out, nil
}

// lastSeq returns the stream's last sequence: the number of offsets ever
// assigned.
func (e *Engine) lastSeq(ctx context.Context, sh *shard) (uint64, error) {
	tctx, cancel := e.withTimeout(ctx)
	defer cancel()
	s, err := e.js.Stream(tctx, sh.stream)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, fmt.Errorf("%w: %q", adapter.ErrShardNotFound, sh.cfg.Name)
		}
		return 0, readErr("stream info of shard "+sh.cfg.Name, err)
	}
	return s.CachedInfo().State.LastSeq, nil
}

// Write publishes one record and waits for the server's acknowledgement.
func (e *Engine) Write(ctx context.Context, shard string, r adapter.Record) (uint64, error) {
	return adapter.FirstOffset(e.BatchWrite(ctx, shard, []adapter.Record{r}))
}

// BatchWrite publishes the records as one JetStream atomic batch (one
// record: a plain publish) and waits for the acknowledgement of its
// commit.
func (e *Engine) BatchWrite(ctx context.Context, shard string, rs []adapter.Record) ([]uint64, error) {
	if err := e.enter(ctx); err != nil {
		return nil, err
	}
	if err := adapter.CheckRecords(rs); err != nil {
		return nil, err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil
	}
	msgs := make([]*nats.Msg, len(rs))
	for i, r := range rs {
		m := nats.NewMsg(recordSubject(sh.stream, r.Key))
		m.Data = encodeRecord(r)
		if n := len(m.Data) + msgOverhead; n > e.set.maxPayload {
			return nil, fmt.Errorf("%w: record %d encodes to %d bytes with its headers, over the server's max_payload of %d", adapter.ErrInvalidArgument, i, n, e.set.maxPayload)
		}
		msgs[i] = m
	}
	first, err := e.publish(ctx, sh, msgs)
	if err != nil {
		return nil, err
	}
	offs := make([]uint64, len(rs))
	for i := range offs {
		offs[i] = first + uint64(i)
	}
	return offs, nil
}

// pubAck is the server's answer to a publish.
type pubAck struct {
	Error  *jetstream.APIError `json:"error,omitempty"`
	Stream string              `json:"stream"`
	Seq    uint64              `json:"seq"`
	Batch  string              `json:"batch,omitempty"`
	Count  int                 `json:"count,omitempty"`
}

// publish publishes msgs to sh's stream, several as one atomic batch, and
// returns the offset of the first.
func (e *Engine) publish(ctx context.Context, sh *shard, msgs []*nats.Msg) (uint64, error) {
	n := len(msgs)
	last := msgs[n-1]
	if n > 1 {
		select {
		case sh.sem <- struct{}{}:
			defer func() { <-sh.sem }()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		id := nuid.Next()
		for i, m := range msgs {
			m.Header.Set(hdrBatchID, id)
			m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		}
		last.Header.Set(hdrBatchCommit, "1")
		for _, m := range msgs[:n-1] {
			if err := e.nc.PublishMsg(m); err != nil {
				return 0, e.mutationErr(ctx, "publish to shard "+sh.cfg.Name, err)
			}
		}
	}
	ack, err := e.ack(ctx, sh.stream, last)
	if err != nil {
		return 0, e.mutationErr(ctx, "publish to shard "+sh.cfg.Name, err)
	}
	if ack.Seq < uint64(n) || (n > 1 && ack.Count != n) {
		return 0, e.mutationErr(ctx, "publish to shard "+sh.cfg.Name, fmt.Errorf("%w: acknowledgement of %d records at sequence %d, count %d", errBadAnswer, n, ack.Seq, ack.Count))
	}
	return ack.Seq - uint64(n), nil
}

// ack sends m as a request and reads the publish acknowledgement from
// stream.
func (e *Engine) ack(ctx context.Context, stream string, m *nats.Msg) (pubAck, error) {
	tctx, cancel := e.withTimeout(ctx)
	defer cancel()
	resp, err := e.nc.RequestMsgWithContext(tctx, m)
	if err != nil {
		return pubAck{}, err
	}
	var a pubAck
	if err := json.Unmarshal(resp.Data, &a); err != nil {
		return pubAck{}, fmt.Errorf("%w: publish acknowledgement %q: %v", errBadAnswer, resp.Data, err)
	}
	if a.Error != nil {
		return pubAck{}, a.Error
	}
	if a.Stream != stream {
		return pubAck{}, fmt.Errorf("%w: acknowledged by stream %q, want %q", errBadAnswer, a.Stream, stream)
	}
	return a, nil
}

// ReadByOffset returns live records from offset on.
func (e *Engine) ReadByOffset(ctx context.Context, shard string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := e.enter(ctx); err != nil {
		return nil, err
	}
	if err := adapter.CheckLimit(limit); err != nil {
		return nil, err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return nil, err
	}
	var out []adapter.Record
	err = e.scan(ctx, sh, offset, min(limit, scanBatch), func(r adapter.Record) bool {
		out = append(out, r)
		return len(out) < limit
	})
	return out, err
}

// ReadByTag scans live records from offset on for the tag.
func (e *Engine) ReadByTag(ctx context.Context, shard, tag string, offset uint64, limit int) ([]adapter.Record, error) {
	if err := e.enter(ctx); err != nil {
		return nil, err
	}
	if err := adapter.CheckTagRead(tag, limit); err != nil {
		return nil, err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return nil, err
	}
	var out []adapter.Record
	err = e.scan(ctx, sh, offset, scanBatch, func(r adapter.Record) bool {
		if r.HasTag(tag) {
			out = append(out, r)
		}
		return len(out) < limit
	})
	return out, err
}

// ReadByKey returns the last message on the key's subject.
func (e *Engine) ReadByKey(ctx context.Context, shard, key string) (adapter.Record, error) {
	if err := e.enter(ctx); err != nil {
		return adapter.Record{}, err
	}
	if err := adapter.CheckKey(key); err != nil {
		return adapter.Record{}, err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return adapter.Record{}, err
	}
	m, err := e.lastBySubject(ctx, sh.stream, recordSubject(sh.stream, key))
	if err != nil {
		return adapter.Record{}, readErr("read key in shard "+shard, err)
	}
	if m == nil {
		return adapter.Record{}, fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, shard)
	}
	r, err := recordOf(m)
	if err != nil {
		return adapter.Record{}, fmt.Errorf("jetstream: read key in shard %q: %w", shard, err)
	}
	if r.Offset < sh.floor.Load() {
		return adapter.Record{}, fmt.Errorf("%w: key %q in shard %q (dropped by retention)", adapter.ErrNotFound, key, shard)
	}
	if r.Key != key {
		return adapter.Record{}, fmt.Errorf("%w: the subject of key %q holds a record of key %q", adapter.ErrCorrupt, key, r.Key)
	}
	return r, nil
}

// msgDelete is a JetStream message delete request and its answer.
type msgDelete struct {
	Seq     uint64 `json:"seq"`
	NoErase bool   `json:"no_erase"`
}

type successResp struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Success bool                `json:"success"`
	Purged  uint64              `json:"purged"`
}

// DeleteByOffset deletes the message at the offset's sequence.
func (e *Engine) DeleteByOffset(ctx context.Context, shard string, offset uint64) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return err
	}
	if offset < sh.floor.Load() || offset == ^uint64(0) {
		return fmt.Errorf("%w: offset %d in shard %q", adapter.ErrNotFound, offset, shard)
	}
	var resp successResp
	err = e.api(ctx, "STREAM.MSG.DELETE."+sh.stream, msgDelete{Seq: offset + 1, NoErase: true}, &resp)
	if err == nil && !resp.Success {
		err = fmt.Errorf("%w: delete answered without success", errBadAnswer)
	}
	if missingMessage(err) {
		return fmt.Errorf("%w: offset %d in shard %q", adapter.ErrNotFound, offset, shard)
	}
	return e.mutationErr(ctx, fmt.Sprintf("delete offset %d in shard %s", offset, shard), err)
}

// DeleteByKey purges the key's subject.
func (e *Engine) DeleteByKey(ctx context.Context, shard, key string) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	if err := adapter.CheckKey(key); err != nil {
		return err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return err
	}
	n, err := e.purge(ctx, sh.stream, purgeRequest{Filter: recordSubject(sh.stream, key)})
	if err != nil {
		return e.mutationErr(ctx, fmt.Sprintf("delete key %q in shard %s", key, shard), err)
	}
	if n == 0 {
		return fmt.Errorf("%w: key %q in shard %q", adapter.ErrNotFound, key, shard)
	}
	return nil
}

// purgeRequest is a JetStream purge: by subject, below a sequence, or
// both.
type purgeRequest struct {
	Filter string `json:"filter,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// purge purges stream and returns how many messages went.
func (e *Engine) purge(ctx context.Context, stream string, req purgeRequest) (uint64, error) {
	var resp successResp
	if err := e.api(ctx, "STREAM.PURGE."+stream, req, &resp); err != nil {
		return 0, err
	}
	if !resp.Success {
		return 0, fmt.Errorf("%w: purge answered without success", errBadAnswer)
	}
	return resp.Purged, nil
}

// OffsetByTimestamp scans for the first live record at or after ts.
func (e *Engine) OffsetByTimestamp(ctx context.Context, shard string, ts int64) (uint64, error) {
	if err := e.enter(ctx); err != nil {
		return 0, err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return 0, err
	}
	var (
		found bool
		off   uint64
	)
	err = e.scan(ctx, sh, 0, scanBatch, func(r adapter.Record) bool {
		if r.Timestamp >= ts {
			found, off = true, r.Offset
		}
		return !found
	})
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w: no record at or after timestamp %d in shard %q", adapter.ErrNotFound, ts, shard)
	}
	return off, nil
}

// OffsetByGroup reads the group's subject of the shard's incarnation in
// the meta stream.
func (e *Engine) OffsetByGroup(ctx context.Context, group, shard string) (uint64, error) {
	if err := e.enter(ctx); err != nil {
		return 0, err
	}
	if err := adapter.CheckGroup(group); err != nil {
		return 0, err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return 0, err
	}
	v, ok, err := e.readMeta(ctx, groupSubject(sh.inc, group))
	if err != nil {
		return 0, fmt.Errorf("jetstream: offset of group %q in shard %q: %w", group, shard, err)
	}
	if !ok {
		return 0, fmt.Errorf("%w: group %q has no offset in shard %q", adapter.ErrNotFound, group, shard)
	}
	return v, nil
}

// CommitOffset publishes the offset on the group's subject of the shard's
// incarnation in the meta stream, which keeps one message per subject.
func (e *Engine) CommitOffset(ctx context.Context, group, shard string, offset uint64) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	if err := adapter.CheckGroup(group); err != nil {
		return err
	}
	sh, err := e.lookup(shard)
	if err != nil {
		return err
	}
	return e.mutationErr(ctx, fmt.Sprintf("commit offset of group %q in shard %s", group, shard), e.writeMeta(ctx, groupSubject(sh.inc, group), offset))
}

// writeMeta publishes v on subj of the meta stream.
func (e *Engine) writeMeta(ctx context.Context, subj string, v uint64) error {
	m := nats.NewMsg(subj)
	m.Data = strconv.AppendUint(nil, v, 10)
	_, err := e.ack(ctx, metaStream, m)
	if errors.Is(err, nats.ErrNoResponders) {
		// Not a missing shard: the meta stream is always there.
		return fmt.Errorf("stream %s does not answer: %v", metaStream, err)
	}
	return err
}

// readMeta reads the value on subj of the meta stream, if there is one.
func (e *Engine) readMeta(ctx context.Context, subj string) (uint64, bool, error) {
	m, err := e.lastBySubject(ctx, metaStream, subj)
	if err != nil || m == nil {
		return 0, false, err
	}
	v, err := strconv.ParseUint(string(m.Data), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %s holds %q", adapter.ErrCorrupt, subj, m.Data)
	}
	return v, true, nil
}

// readFloor reads the retention floor of sh.
func (e *Engine) readFloor(ctx context.Context, sh *shard) (uint64, error) {
	v, _, err := e.readMeta(ctx, floorSubject(sh.inc))
	return v, err
}

// Retain drops, in each shard with a Retention, the records before the
// first live record whose timestamp is at or after now minus the
// retention: it stores the new floor in the meta stream, from when on
// reads hide the records below it, then purges them from the stream (a
// purge a crash cut short is finished at open).
func (e *Engine) Retain(ctx context.Context, now time.Time) error {
	if err := e.enter(ctx); err != nil {
		return err
	}
	e.retainMu.Lock()
	defer e.retainMu.Unlock()
	e.mu.RLock()
	var shs []*shard
	for _, sh := range e.shards {
		if sh.cfg.Retention > 0 {
			shs = append(shs, sh)
		}
	}
	e.mu.RUnlock()
	for _, sh := range shs {
		if err := e.retain(ctx, sh, now.Add(-sh.cfg.Retention).UnixMilli()); err != nil {
			if errors.Is(err, adapter.ErrShardNotFound) {
				continue // deleted meanwhile
			}
			return err
		}
	}
	return nil
}

func (e *Engine) retain(ctx context.Context, sh *shard, cutoff int64) error {
	next, err := e.lastSeq(ctx, sh)
	if err != nil {
		return err
	}
	floor := next
	err = e.scan(ctx, sh, 0, scanBatch, func(r adapter.Record) bool {
		if r.Offset >= next {
			return false
		}
		if r.Timestamp >= cutoff {
			floor = r.Offset
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	if floor <= sh.floor.Load() {
		return nil
	}
	if err := e.writeMeta(ctx, floorSubject(sh.inc), floor); err != nil {
		return e.mutationErr(ctx, "store the retention floor of shard "+sh.cfg.Name, err)
	}
	sh.floor.Store(floor)
	if _, err := e.purge(ctx, sh.stream, purgeRequest{Seq: floor + 1}); err != nil {
		return e.mutationErr(ctx, fmt.Sprintf("purge shard %s below offset %d", sh.cfg.Name, floor), err)
	}
	return nil
}

// api sends a JSON request to a JetStream API subject (after "$JS.API.")
// and decodes the answer into resp, returning the API error it carries.
func (e *Engine) api(ctx context.Context, subj string, req any, resp interface{ apiErr() error }) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	tctx, cancel := e.withTimeout(ctx)
	defer cancel()
	m, err := e.nc.RequestWithContext(tctx, apiPrefix+subj, data)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(m.Data, resp); err != nil {
		return fmt.Errorf("%w: %s answered %q: %v", errBadAnswer, subj, m.Data, err)
	}
	return resp.apiErr()
}

func (r *successResp) apiErr() error {
	if r.Error != nil {
		return r.Error
	}
	return nil
}

// directGet is a JetStream direct get request.
type directGet struct {
	Seq      uint64 `json:"seq,omitempty"`
	NextFor  string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// lastBySubject returns the last message on subj in stream, or nil if
// there is none.
func (e *Engine) lastBySubject(ctx context.Context, stream, subj string) (*nats.Msg, error) {
	tctx, cancel := e.withTimeout(ctx)
	defer cancel()
	m, err := e.nc.RequestWithContext(tctx, apiPrefix+"DIRECT.GET."+stream+"."+subj, nil)
	if err != nil {
		return nil, err
	}
	switch st := m.Header.Get(hdrStatus); st {
	case "":
		return m, nil
	case statusNoMsgs:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: direct get of %s answered status %s %s", errBadAnswer, subj, st, m.Header.Get("Description"))
	}
}

// recordOf decodes a message of a direct get.
func recordOf(m *nats.Msg) (adapter.Record, error) {
	seq, err := strconv.ParseUint(m.Header.Get(hdrSequence), 10, 64)
	if err != nil || seq == 0 {
		return adapter.Record{}, fmt.Errorf("%w: message without a sequence (%q)", errBadAnswer, m.Header.Get(hdrSequence))
	}
	r, err := decodeRecord(m.Data)
	if err != nil {
		return adapter.Record{}, fmt.Errorf("sequence %d: %w", seq, err)
	}
	r.Offset = seq - 1
	return r, nil
}

// scan calls fn with the live records of sh from offset on (and from the
// retention floor on), in ascending order, until fn returns false or none
// are left. It reads with batched direct gets, which the server runs
// isolated from atomic batch commits, so a scan never sees part of a
// batch. The engine's timeout bounds each batch, not the whole scan.
func (e *Engine) scan(ctx context.Context, sh *shard, offset uint64, batch int, fn func(adapter.Record) bool) error {
	what := "read shard " + sh.cfg.Name
	seq := max(offset, sh.floor.Load())
	if seq == ^uint64(0) {
		return nil
	}
	seq++
	inbox := e.nc.NewRespInbox()
	sub, err := e.nc.SubscribeSync(inbox)
	if err != nil {
		return readErr(what, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return readErr(what, err)
	}
	for {
		done, err := e.scanBatch(ctx, sh, sub, &seq, batch, fn)
		if err != nil {
			return fmt.Errorf("jetstream: %s: %w", what, err)
		}
		if done {
			return nil
		}
	}
}

// scanBatch asks for up to batch messages from *seq on, replies on sub's
// subject, passes their records to fn and moves *seq past them. It
// reports whether the scan is done: fn returned false or nothing is left.
func (e *Engine) scanBatch(ctx context.Context, sh *shard, sub *nats.Subscription, seq *uint64, batch int, fn func(adapter.Record) bool) (bool, error) {
	tctx, cancel := e.withTimeout(ctx)
	defer cancel()
	req, err := json.Marshal(directGet{Seq: *seq, Batch: batch, MaxBytes: scanMaxBytes})
	if err != nil {
		return false, err
	}
	if err := e.nc.PublishRequest(apiPrefix+"DIRECT.GET."+sh.stream, sub.Subject, req); err != nil {
		return false, readErr("direct get", err)
	}
	got := 0
	for {
		m, err := sub.NextMsgWithContext(tctx)
		if err != nil {
			return false, readErr("direct get", err)
		}
		switch st := m.Header.Get(hdrStatus); st {
		case "":
		case statusNoMsgs:
			return true, nil
		case statusEOB:
			pending, err := strconv.ParseUint(m.Header.Get(hdrNumPending), 10, 64)
			switch {
			case err != nil:
				return false, fmt.Errorf("%w: end of batch without a pending count", errBadAnswer)
			case got == 0 && pending > 0:
				return false, fmt.Errorf("%w: empty batch from sequence %d with %d pending", errBadAnswer, *seq, pending)
			}
			return pending == 0, nil
		case statusNoAnswer:
			return false, readErr("direct get", nats.ErrNoResponders)
		default:
			return false, fmt.Errorf("%w: direct get answered status %s %s", errBadAnswer, st, m.Header.Get("Description"))
		}
		r, err := recordOf(m)
		if err != nil {
			return false, err
		}
		if r.Offset+1 < *seq {
			return false, fmt.Errorf("%w: direct get from sequence %d returned sequence %d", errBadAnswer, *seq, r.Offset+1)
		}
		got++
		*seq = r.Offset + 2
		if !fn(r) {
			return true, nil
		}
	}
}
