package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/userkit/userkit/storage"
)

// Errors of this package, besides the storage sentinels. Each is wrapped
// with the operation and the driver's error, so errors.Is finds both it and
// (with errors.As) the *pgconn.PgError or network error underneath.
var (
	// ErrUnavailable means the database could not be reached or the
	// connection was lost before the transaction's commit was sent: the
	// server refused the connection, was shut down or restarted, the
	// connection was cut (pg_terminate_backend, a network fault), or the
	// server is a read-only standby (a failover). Nothing of the
	// transaction was committed. It does not wrap storage.ErrConflict:
	// whether and when to try again is the caller's choice (the pool
	// reconnects by itself on the next call).
	ErrUnavailable = errors.New("pgstore: database unavailable")

	// ErrCommitUnknown means the connection was lost after the commit was
	// sent and before its answer arrived (or CockroachDB reported an
	// ambiguous result, SQLSTATE 40003): the transaction may or may not
	// have committed. It is never reported as success and never wraps
	// storage.ErrConflict, so a caller that blindly retries conflicts does
	// not run a non-idempotent transaction (a Create) twice; a caller that
	// wants to know reads the data again.
	ErrCommitUnknown = errors.New("pgstore: commit outcome unknown")
)

// SQLSTATE codes this package classifies.
const (
	codeSerializationFailure = "40001" // PostgreSQL and CockroachDB's "restart transaction"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505" // an Insert of a key that exists
	codeCompletionUnknown    = "40003" // statement_completion_unknown: CockroachDB's ambiguous result
	codeReadOnlyTransaction  = "25006" // a write on a hot standby: failover
	codeAdminShutdown        = "57P01" // pg_terminate_backend, or a fast shutdown
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03" // starting up, shutting down, in recovery
	codeTooManyConnections   = "53300"
)

// phase tells translate what an error's statement was.
type phase int

const (
	phaseRead   phase = iota // a statement before any commit was sent
	phaseCommit              // a batch that carries the COMMIT
)

// translate turns a driver error into this package's and storage's errors.
// ctx is the transaction's context: an error caused by its end becomes
// ctx.Err() (wrapped with op).
func translate(ctx context.Context, op string, ph phase, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected:
			return fmt.Errorf("pgstore: %s: %w: %w", op, storage.ErrConflict, err)
		case pe.Code == codeUniqueViolation:
			// Only an Insert's INSERT can violate the key (every other
			// write is an upsert): the key it claimed exists.
			return fmt.Errorf("pgstore: %s: %w: %w", op, storage.ErrKeyExists, err)
		case pe.Code == codeCompletionUnknown:
			return fmt.Errorf("%w: %s: %w", ErrCommitUnknown, op, err)
		case ph == phaseCommit && connectionLost(pe):
			// The server ended the session while the batch with the
			// COMMIT was in flight: the commit may have happened first.
			return fmt.Errorf("%w: %s: %w", ErrCommitUnknown, op, err)
		case connectionLost(pe) || pe.Code == codeReadOnlyTransaction ||
			pe.Code == codeCannotConnectNow || pe.Code == codeTooManyConnections:
			return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
		}
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		if ph == phaseCommit && !pgconn.SafeToRetry(err) {
			return fmt.Errorf("%w: %s: %w", ErrCommitUnknown, op, err)
		}
		return fmt.Errorf("pgstore: %s: %w", op, cerr)
	}
	if !transport(err) {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	if ph == phaseCommit && !pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w: %s: %w", ErrCommitUnknown, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// connectionLost reports whether the server ended the session.
func connectionLost(pe *pgconn.PgError) bool {
	return strings.HasPrefix(pe.Code, "08") || pe.Code == codeAdminShutdown || pe.Code == codeCrashShutdown
}

// transport reports whether err is a failure to reach or talk to the
// server, rather than a mistake of the statement.
func transport(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	// pgx reports a connection it closed after an earlier failure as "conn
	// closed", and some failures only by message.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "failed to connect")
}
