package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/userkit/userkit/storage"
)

// tx is a storage.Tx over one pooled connection.
type tx struct {
	s        *Store
	ctx      context.Context
	conn     *pgxpool.Conn
	readOnly bool
	begun    bool  // BEGIN was sent
	ended    bool  // COMMIT or ROLLBACK was sent
	done     bool  // fn returned: every call fails with ErrTxDone
	err      error // a statement failed: the server's transaction is aborted

	// writes are the buffered Sets (del false) and Deletes, sent with the
	// COMMIT.
	writes map[string]write
}

type write struct {
	v   []byte
	del bool
	ins bool // an Insert: sent as a plain INSERT, which fails if the key exists
}

var (
	_ storage.Tx          = (*tx)(nil)
	_ storage.MultiGetter = (*tx)(nil)
	_ storage.KeyIterator = (*tx)(nil)
	_ storage.Inserter    = (*tx)(nil)
)

// finish makes every later call fail with ErrTxDone.
func (t *tx) finish() { t.done = true }

// release rolls back a transaction that did not commit and returns the
// connection to the pool (which discards it if it is broken or still in a
// transaction).
func (t *tx) release() {
	t.done = true
	if t.conn == nil {
		return
	}
	if t.begun && !t.ended && !t.conn.Conn().IsClosed() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
		if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
			t.conn.Conn().Close(ctx)
		}
		cancel()
	}
	t.conn.Release()
}

// read sends one query (with the BEGIN, if it is the transaction's first)
// and calls each for every row.
//
// The first statement of a transaction is sent again, once, on a new
// connection when its connection turns out to be dead (a pooled connection
// that outlived a server restart): nothing of the transaction has happened
// yet.
func (t *tx) read(op, sql string, args []any, each func(pgx.Rows) error) error {
	if t.err != nil {
		return t.err
	}
	first := !t.begun
	err := t.query(sql, args, each)
	if err != nil && first && t.ctx.Err() == nil && transport(err) && t.conn.Conn().IsClosed() {
		t.conn.Release()
		conn, aerr := t.s.pool.Acquire(t.ctx)
		if aerr != nil {
			// release must not touch the old connection again.
			t.conn, t.begun = nil, false
			t.err = translate(t.ctx, op, phaseRead, aerr)
			return t.err
		}
		t.conn, t.begun = conn, false
		err = t.query(sql, args, each)
	}
	if err != nil {
		t.err = translate(t.ctx, op, phaseRead, err)
		return t.err
	}
	return nil
}

// query sends one query, with the BEGIN if it is the transaction's first,
// and calls each for every row.
func (t *tx) query(sql string, args []any, each func(pgx.Rows) error) error {
	var (
		br   pgx.BatchResults
		rows pgx.Rows
		err  error
	)
	if !t.begun {
		b := &pgx.Batch{}
		if t.readOnly {
			b.Queue(t.s.q.beginRO)
		} else {
			b.Queue(t.s.q.beginRW)
		}
		b.Queue(sql, args...)
		t.begun = true
		br = t.conn.SendBatch(t.ctx, b)
		if _, err = br.Exec(); err == nil {
			rows, err = br.Query()
		}
	} else {
		rows, err = t.conn.Query(t.ctx, sql, args...)
	}
	if err == nil {
		for rows.Next() {
			if err = each(rows); err != nil {
				break
			}
		}
	}
	if rows != nil {
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if br != nil {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// raw returns a new copy of column i of the current row (bytea, sent in
// binary format as this package's statements ask; any other format is
// decoded by Scan).
func raw(rows pgx.Rows, i int) ([]byte, error) {
	if rows.FieldDescriptions()[i].Format == pgx.BinaryFormatCode {
		return bytes.Clone(rows.RawValues()[i]), nil
	}
	vals, err := rows.Values()
	if err != nil {
		return nil, err
	}
	b, ok := vals[i].([]byte)
	if !ok {
		return nil, fmt.Errorf("pgstore: column %d is %T, want bytea", i, vals[i])
	}
	return b, nil
}

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.done {
		return nil, storage.ErrTxDone
	}
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	if w, ok := t.writes[string(key)]; ok {
		if w.del {
			return nil, storage.ErrNotFound
		}
		return bytes.Clone(w.v), nil
	}
	var v []byte
	err := t.read("get", t.s.q.get, []any{key}, func(rows pgx.Rows) (err error) {
		v, err = raw(rows, 0)
		if v == nil {
			v = []byte{}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, storage.ErrNotFound
	}
	return v, nil
}

// GetMany reads the keys that the transaction has not written in one
// statement (k = ANY($1)), so one round trip.
func (t *tx) GetMany(keys [][]byte) ([][]byte, error) {
	if t.done {
		return nil, storage.ErrTxDone
	}
	for _, k := range keys {
		if err := storage.CheckKey(k); err != nil {
			return nil, err
		}
	}
	values := make([][]byte, len(keys))
	var ask [][]byte
	for i, k := range keys {
		if w, ok := t.writes[string(k)]; ok {
			if !w.del {
				values[i] = bytes.Clone(w.v)
			}
			continue
		}
		ask = append(ask, k)
	}
	if len(ask) == 0 {
		return values, nil
	}
	type row struct {
		v     []byte
		given bool
	}
	found := make(map[string]*row, len(ask))
	err := t.read("get many", t.s.q.getMany, []any{ask}, func(rows pgx.Rows) error {
		k, err := raw(rows, 0)
		if err != nil {
			return err
		}
		v, err := raw(rows, 1)
		if v == nil {
			v = []byte{}
		}
		found[string(k)] = &row{v: v}
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if _, written := t.writes[string(k)]; written {
			continue
		}
		if r := found[string(k)]; r != nil {
			values[i] = r.v
			if r.given {
				values[i] = bytes.Clone(r.v) // a repeated key gets its own copy
			}
			r.given = true
		}
	}
	return values, nil
}

func (t *tx) check(key []byte) error {
	switch {
	case t.done:
		return storage.ErrTxDone
	case t.readOnly:
		return storage.ErrReadOnly
	}
	return storage.CheckKey(key)
}

func (t *tx) Set(key, value []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	if err := storage.CheckValue(value); err != nil {
		return err
	}
	if t.writes == nil {
		t.writes = make(map[string]write)
	}
	v := make([]byte, len(value))
	copy(v, value)
	t.writes[string(key)] = write{v: v, ins: t.writes[string(key)].ins} // a Set keeps an Insert's condition
	return nil
}

// Insert buffers a conditional write (storage.Inserter): the COMMIT's batch
// sends it as a plain INSERT, which reads nothing, so it takes no
// serializable read lock; if the key exists the INSERT fails (unique
// violation, or a serialization failure against a concurrent writer of
// the key) and the transaction with it, which Update reports as
// storage.ErrConflict.
func (t *tx) Insert(key, value []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	if err := storage.CheckValue(value); err != nil {
		return err
	}
	prev, written := t.writes[string(key)]
	if written && !prev.del {
		return fmt.Errorf("pgstore: insert: %w: the transaction set it", storage.ErrKeyExists)
	}
	if t.writes == nil {
		t.writes = make(map[string]write)
	}
	v := make([]byte, len(value))
	copy(v, value)
	// After this transaction's own Delete the key is absent whatever it
	// held: the write is a plain Set (its DELETE is replaced).
	t.writes[string(key)] = write{v: v, ins: !written}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if err := t.check(key); err != nil {
		return err
	}
	if t.writes == nil {
		t.writes = make(map[string]write)
	}
	t.writes[string(key)] = write{del: true}
	return nil
}

// errRolledBack is a COMMIT the server answered with ROLLBACK.
var errRolledBack = errors.New("pgstore: commit: the server rolled the transaction back")

// commit sends the buffered writes and the COMMIT in one batch (with the
// BEGIN, if nothing was read) and classifies its failure.
func (t *tx) commit() error {
	if !t.begun && len(t.writes) == 0 {
		return nil // nothing was sent
	}
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue(t.s.q.beginRW)
		t.begun = true
	}
	if len(t.writes) > 0 {
		keys := make([]string, 0, len(t.writes))
		for k := range t.writes {
			keys = append(keys, k)
		}
		// In key order, so that concurrent commits lock rows in one order.
		slices.Sort(keys)
		var setK, setV, insK, insV, delK [][]byte
		for _, k := range keys {
			w := t.writes[k]
			switch {
			case w.del:
				delK = append(delK, []byte(k))
			case w.ins:
				insK = append(insK, []byte(k))
				insV = append(insV, w.v)
			default:
				setK = append(setK, []byte(k))
				setV = append(setV, w.v)
			}
		}
		if len(delK) > 0 {
			b.Queue(t.s.q.del, delK)
		}
		if len(insK) > 0 {
			b.Queue(t.s.q.insert, insK, insV)
		}
		if len(setK) > 0 {
			b.Queue(t.s.q.put, setK, setV)
		}
	}
	b.Queue("COMMIT")
	if t.s.beforeCommit != nil && !t.readOnly {
		t.s.beforeCommit(t.conn.Conn().PgConn().PID())
	}
	// Once sent, the commit is seen through: cancelling it would leave its
	// outcome unknown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), t.s.commitTimeout)
	defer cancel()
	br := t.conn.SendBatch(ctx, b)
	var err error
	ph := phaseRead
	if !t.readOnly {
		ph = phaseCommit
	}
	// The transaction has ended unless a statement before the COMMIT
	// failed on the server, which then skipped the COMMIT and left the
	// transaction aborted: release rolls it back, so that the connection
	// goes back to the pool instead of being closed.
	t.ended = true
	for i := range b.Len() {
		tag, e := br.Exec()
		if e != nil {
			err = e
			if i < b.Len()-1 && isServerError(e) {
				ph = phaseRead
				t.ended = false
			}
			break
		}
		if i == b.Len()-1 && tag.String() != "COMMIT" {
			err = errRolledBack
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == errRolledBack {
		return err
	}
	return translate(ctx, "commit", ph, err)
}

// isServerError reports whether err is an error the server sent about a
// statement (not a lost connection).
func isServerError(err error) bool {
	var pe interface{ SQLState() string }
	if !errors.As(err, &pe) {
		return false
	}
	code := pe.SQLState()
	return code[:2] != "08" && code != codeAdminShutdown && code != codeCrashShutdown
}

func (t *tx) Iterate(r storage.Range) storage.Iterator { return t.iterate(r, false) }

// IterateKeys selects only keys; the iterator's Value fails.
func (t *tx) IterateKeys(r storage.Range) storage.Iterator { return t.iterate(r, true) }
