package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// PrepareWrite prepares queries on the writer pool once, so that WriteStmt
// hands them to write transactions without parsing them again: on SQLite a
// statement executed with arguments is otherwise compiled anew for every
// execution, which for a batch's hot statements costs as much as running
// them (issue 11 §3). It is idempotent and safe for concurrent use.
//
// Call it outside any write transaction: preparing waits for a writer
// connection, which on SQLite is the one a transaction would hold.
func (db *DB) PrepareWrite(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		db.stmtMu.Lock()
		_, ok := db.stmts[q]
		db.stmtMu.Unlock()
		if ok {
			continue
		}
		st, err := db.Write.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		db.stmtMu.Lock()
		if _, dup := db.stmts[q]; dup {
			db.stmtMu.Unlock()
			st.Close()
			continue
		}
		if db.stmts == nil {
			db.stmts = map[string]*sql.Stmt{}
		}
		db.stmts[q] = st
		db.stmtMu.Unlock()
	}
	return nil
}

// WriteStmt returns query as a statement of tx, a transaction on the writer
// pool: the statement PrepareWrite prepared when there is one (database/sql
// reuses it on the transaction's connection, preparing it there first if
// that connection is new), else one prepared in tx. Either way it is
// closed with tx.
func (db *DB) WriteStmt(ctx context.Context, tx *sqlx.Tx, query string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	st := db.stmts[query]
	db.stmtMu.Unlock()
	if st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("store: prepare: %w", err)
	}
	return st, nil
}

// closeStmts closes the statements PrepareWrite prepared.
func (db *DB) closeStmts() error {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	var err error
	for q, st := range db.stmts {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("store: close statement: %w", cerr)
		}
		delete(db.stmts, q)
	}
	return err
}

// WriteTx runs fn in one write transaction and commits it.
func (db *DB) WriteTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}
