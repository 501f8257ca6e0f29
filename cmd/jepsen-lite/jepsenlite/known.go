package jepsenlite

// KnownFinding is a defect found in an engine nobody here wrote: its
// evidence and an upstream-ready report are kept in the repository, and
// the campaign still runs its cell, which passes while the finding shows
// and fails once the peer's behaviour changes (then the finding must be
// looked at again).
type KnownFinding struct {
	// ID names the finding.
	ID string
	// Engine and Nemesis name the cell that shows it.
	Engine, Nemesis string
	// Summary says what goes wrong, in a line.
	Summary string
	// Report is where the report and evidence are kept, relative to the
	// repository's root.
	Report string
}

// KnownFindings are the findings in peers that the campaign expects.
var KnownFindings = []KnownFinding{
	{
		ID:      "raft-wal-unsynced-tail",
		Engine:  "raftlog/raft-wal",
		Nemesis: "fsync",
		Summary: "recovery keeps a tail batch whose fsync failed (read back from the page cache); a later power loss loses entries acknowledged after it or leaves a sealed segment Open refuses (failed to read header: EOF)",
		Report:  "engines/raftlog/peers/findings/raft-wal-unsynced-tail.md",
	},
	{
		ID:      "durable-streams-node-unsynced-names",
		Engine:  "streams-http/reference",
		Nemesis: "crash",
		Summary: "the file store never fsyncs a directory nor a new segment file: at a power loss acknowledged streams vanish with all their appends (strict POSIX: every stream; ext4: streams and forks with no append yet), and recovery deletes their metadata",
		Report:  "engines/streams/httpserver/findings/durable-streams-node-unsynced-names.md",
	},
	{
		ID:      "durable-streams-node-fsync-failure-duplicates",
		Engine:  "streams-http/reference",
		Nemesis: "fsync",
		Summary: "an append whose fdatasync fails answers 500 but stays in the segment file and is served; the producer state is not advanced, so the client's retry is appended again (a duplicate), and the metadata's offset lags the file",
		Report:  "engines/streams/httpserver/findings/durable-streams-node-fsync-failure-duplicates.md",
	},
	{
		ID:      "durable-streams-node-fork-retry-conflict",
		Engine:  "streams-http/reference",
		Nemesis: "pause",
		Summary: "a fork request repeated as it was (no Content-Type: the fork inherits its source's) is answered 409 instead of 200, so a client retrying a fork of unknown outcome is told the fork it made conflicts",
		Report:  "engines/streams/httpserver/findings/durable-streams-node-fork-retry-conflict.md",
	},
	{
		ID:      "jetstream-default-power-loss",
		Engine:  "adapter/jetstream",
		Nemesis: "crash",
		Summary: "at JetStream's default sync_interval=2m a power loss tears acknowledged atomic batches, keeps group offsets without the records before them, brings deleted records back, or leaves stream metadata the server skips (Open then fails with ErrCorrupt); strict and ext4 profiles alike (data loss)",
		Report:  "engines/adapter/jetstream/findings/jetstream-default-power-loss.md",
	},
	{
		ID:      "jetstream-new-stream-dirs-unsynced",
		Engine:  "adapter/jetstream-sync-always",
		Nemesis: "crash",
		Summary: "with sync_interval=always JetStream never fsyncs the parents of a new stream's directory: under the strict profile a power loss takes whole streams with acknowledged records and group offsets (portability; the ext4 profile passes); under both profiles a DeleteByKey that empties a block is undone by a power loss (jetstream-purge-undone)",
		Report:  "engines/adapter/jetstream/findings/jetstream-new-stream-dirs-unsynced.md",
	},
	{
		ID:      "jetstream-eio-tail-adopted",
		Engine:  "adapter/jetstream-sync-always",
		Nemesis: "fsync",
		Summary: "after a failed fsync and a restart without power loss JetStream serves what it could not write and appends after it; the next power loss cuts the stream there, losing acknowledged records (both profiles); under the strict profile jetstream-new-stream-dirs-unsynced and jetstream-purge-undone show in this cell too",
		Report:  "engines/adapter/jetstream/findings/jetstream-eio-tail-adopted.md",
	},
}

func lookupKnown(engine, nemesis string) (KnownFinding, bool) {
	for _, k := range KnownFindings {
		if k.Engine == engine && k.Nemesis == nemesis {
			return k, true
		}
	}
	return KnownFinding{}, false
}
