package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ordeal-dev/ordeal/engines/adapter"
)

// Sentinel errors of the package; the SPI's own sentinels (package adapter)
// are what callers test for otherwise.
var (
	// ErrDirInUse reports an Open of a directory another open engine (in
	// this process or another) holds.
	ErrDirInUse = errors.New("jetstream: directory in use by another engine")
	// errBadAnswer reports an answer of the server the engine cannot read.
	errBadAnswer = errors.New("jetstream: unexpected answer from the server")
	// errBatchRefused reports an atomic batch the server would not open
	// (too many open at once); nothing of it was written.
	errBatchRefused = errors.New("jetstream: atomic batch refused")
)

// JetStream API error codes the engine tells apart.
var (
	codeStreamNotFound = jetstream.ErrorCode(server.JSStreamNotFoundErr)
	codeMsgTooBig      = jetstream.ErrorCode(server.JSStreamMessageExceedsMaximumErr)
	codeBatchTooLarge  = jetstream.ErrorCode(server.JSAtomicPublishTooLargeBatchErrF)
	codeBatchInflight  = jetstream.ErrorCode(server.JSAtomicPublishTooManyInflight)
	codeNoMessage      = jetstream.ErrorCode(server.JSNoMessageFoundErr)
	codeSeqNotFound    = jetstream.ErrorCode(server.JSSequenceNotFoundErrF)
	codeDeleteFailed   = jetstream.ErrorCode(server.JSStreamMsgDeleteFailedF)
)

// apiCode returns the JetStream API error code err carries, or 0.
func apiCode(err error) jetstream.ErrorCode {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode
	}
	return 0
}

// missingMessage reports whether a failed message delete found no message
// to delete: never written, already deleted or purged. The server answers
// those with a generic delete failure whose description is the store's
// error.
func missingMessage(err error) bool {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode {
	case codeNoMessage, codeSeqNotFound:
		return true
	case codeDeleteFailed:
		return ae.Description == server.ErrStoreMsgNotFound.Error() || ae.Description == server.ErrStoreEOF.Error()
	}
	return false
}

// mutationErr turns the error of a mutation into what the SPI returns. An
// answer that names a caller's mistake or a missing shard is returned as
// such; an error after the caller gave up (ctx done) leaves the outcome
// unknown and the engine serving; anything else (a storage error, no
// answer within the timeout, a broken connection) fails the engine.
func (e *Engine) mutationErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("jetstream: %s: %w (outcome unknown: %v)", what, cerr, err)
	}
	if f := e.failed(); f != nil {
		return fmt.Errorf("%w: %s: %v (engine failed: %v)", adapter.ErrFailed, what, err, f)
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("%w: %s: no stream answered", adapter.ErrShardNotFound, what)
	case errors.Is(err, adapter.ErrInvalidArgument), errors.Is(err, errBatchRefused):
		return fmt.Errorf("jetstream: %s: %w", what, err)
	}
	switch apiCode(err) {
	case codeStreamNotFound:
		return fmt.Errorf("%w: %s: %v", adapter.ErrShardNotFound, what, err)
	case codeMsgTooBig, codeBatchTooLarge:
		return fmt.Errorf("%w: %s: %v", adapter.ErrInvalidArgument, what, err)
	case codeBatchInflight:
		return fmt.Errorf("%w: %s: %v", errBatchRefused, what, err)
	}
	if !e.bugs.IgnoreFailedWrites {
		e.fail(fmt.Errorf("%s: %w", what, err))
	}
	return fmt.Errorf("jetstream: %s: %w", what, err)
}

// readErr turns the error of a read into what the SPI returns. Reads do
// not fail the engine.
func readErr(what string, err error) error {
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%w: %s: no stream answered", adapter.ErrShardNotFound, what)
	}
	if apiCode(err) == codeStreamNotFound {
		return fmt.Errorf("%w: %s: %v", adapter.ErrShardNotFound, what, err)
	}
	return fmt.Errorf("jetstream: %s: %w", what, err)
}
