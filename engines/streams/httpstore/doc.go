// Package httpstore is a streams.Store that drives any Durable Streams
// server over HTTP, so that the harnesses that take a streams.Store
// (streamstest, jepsen-lite's streams family, the bench) can test a server
// nobody here wrote, such as the Node reference server, through the same
// model as ordeal's engines. It is registered as "http", opened with
// Options.Params{"url": "http://127.0.0.1:4437"} (and optionally "prefix",
// the path streams live under, default "/v1/stream").
//
// Process runs a server from a command template ("node ref.mjs --port
// {port} --dir {dir}"), waits until it answers, and kills, pauses,
// resumes and restarts it, so a harness owns the process and its data
// directory.
//
// # Framing
//
// The protocol returns a read as one body, without message boundaries or
// per-message offsets, and an append's answer names only the tail after
// it. So the client creates every stream as application/json and writes
// each message as one JSON value, {"n": nonce, "d": base64 data}: a read
// returns the array of values, which gives the messages back, and the
// nonce finds where an append landed. Offsets are the client's own,
// counted as the streams package defines them (message count and data
// bytes before a message); the server's opaque offsets are kept for the
// positions the client has seen them at (the tail after each of its
// appends, the tail of each read), which is what a fork needs. A fork
// shares its source's offsets up to its fork position (the protocol reads
// a fork there at its source's offsets), so a position a fork inherited
// names the offset the client saw in the source, up the chain of forks.
//
// # Known differences from the streams contract
//
//   - Config.ContentType is not kept (every stream is application/json on
//     the server), nor Metadata.CreatedAt, ForkOf, ForkOffset, Forks and
//     LastWriterSeq (the protocol does not report them); a TTL must be whole
//     seconds, and Metadata.ExpiresAt is known only for ExpiresAt streams.
//   - Byte limits count the framed bytes the server stores.
//   - Error kinds come from statuses and headers: 403 is a stale epoch,
//     409 with Producer-Expected-Seq a sequence gap, with Stream-Closed a
//     closed stream, on an append with Stream-Seq a writer-sequence
//     regression, on a create or fork an existing stream; 400 on an append
//     with a producer at a sequence above 0 is an epoch that does not start
//     at 0, on a fork a bad offset. A fork of a deleted source is a
//     conflict (the protocol's 409), not gone.
//   - Read, Append and Metadata read the stream from its start (the
//     protocol has no per-message offsets), so they cost the stream's size.
//   - A duplicate's offsets are the tail when the client looked, not when
//     the first append landed. A fork at a position where the client has
//     seen no server offset (in the stream, or in its sources up to the
//     fork positions) fails with ErrNoServerOffset (unavailable).
//   - Wait long-polls; Touch is a read at offset=now (the protocol slides a
//     TTL on reads).
package httpstore
