// Package store opens the console's database, applies the schema migrations
// and hands out the two connection pools every other package uses.
//
// Two engines serve the same schema shape:
//
//   - SQLite (pure Go, modernc.org/sqlite), the embedded default, when
//     CONSOLE_DB is a file path: many readers and exactly one writer.
//   - PostgreSQL (pgx v5 through database/sql), when CONSOLE_DB is a
//     postgres:// URL, so several console replicas can share one store
//     (docs/replicas.md).
//
// Code that must differ between them asks DB.Engine and keeps the two forms
// side by side. Placeholders are written as "?" on both: on PostgreSQL the
// pools' connections number them ($1, $2, ...) before pgx sees the query
// (placeholders.go), so the packages' queries need no Rebind.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Engine names a database engine.
type Engine string

// The engines the console runs on.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open console database.
//
// Read is a pool for queries: it cannot write (SQLite's query_only, and
// PostgreSQL's default_transaction_read_only). Write is the pool for
// writes. On SQLite it is a single connection whose transactions begin
// IMMEDIATE, so all writes queue in one place instead of failing with
// SQLITE_BUSY, and audit writes run with synchronous=FULL. On PostgreSQL it
// holds several connections, and so do other replicas: code that reads and
// then writes in one transaction takes a lock for what it relies on
// (LockXact, row locks or a conditional UPDATE), since nothing else
// serialises it.
type DB struct {
	Engine Engine
	// Path is the SQLite file, or the PostgreSQL URL without its password:
	// safe to show and log.
	Path  string
	Read  *sqlx.DB
	Write *sqlx.DB

	dsn string // as given to Open: the PostgreSQL URL may hold a password
	hub *hub   // in-process notifications (SQLite)

	claimMu sync.Mutex      // SQLite: the claims held in this process
	claimed map[string]bool // (see Claims)

	stmtMu sync.Mutex           // guards stmts
	stmts  map[string]*sql.Stmt // prepared on Write by PrepareWrite

	ckptStop, ckptDone chan struct{} // SQLite: the background checkpoint (checkpoint.go)
	closeOnce          sync.Once
}

// IsPostgresURL reports whether dsn names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than a SQLite file. Anything
// starting "postgres:" counts, so a mistyped URL is refused as a URL
// instead of becoming a file of that name.
func IsPostgresURL(dsn string) bool {
	d := strings.ToLower(strings.TrimSpace(dsn))
	return strings.HasPrefix(d, "postgres:") || strings.HasPrefix(d, "postgresql:")
}

// Redact returns dsn as it may be shown or logged: a PostgreSQL URL without
// its password (in the user part or the query), a file path as it is.
func Redact(dsn string) string {
	if !IsPostgresURL(dsn) {
		return dsn
	}
	u, err := url.Parse(strings.TrimSpace(dsn))
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open opens the database dsn names and applies every pending migration:
// a postgres:// URL opens PostgreSQL; anything else is a SQLite file,
// created (with its directory) if needed.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("store: database path is empty")
	}
	if IsPostgresURL(dsn) {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
		}
	}
	w, err := sqlx.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := migrateSQLite(w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sqlx.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	db := &DB{Engine: SQLite, Path: path, Read: r, Write: w, dsn: path, hub: newHub(), claimed: map[string]bool{},
		ckptStop: make(chan struct{}), ckptDone: make(chan struct{})}
	go db.runCheckpoints(db.ckptStop, db.ckptDone)
	return db, nil
}

// sqliteDSN builds a modernc.org/sqlite DSN whose pragmas apply to every
// pooled connection.
func sqliteDSN(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if writer {
		// Checkpoints run in the background (checkpoint.go); a commit
		// checkpoints by itself only past this many pages.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpointPages))
		q.Set("_txlock", "immediate")
		// Deleted and overwritten content is zeroed in the file rather than
		// left in free space: erased secrets (sealed OS passwords of
		// approval requests) do not linger in the database.
		q.Add("_pragma", "secure_delete(1)")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Rebind turns the "?" placeholders of query into the engine's own ($1, $2,
// ... on PostgreSQL). The pools do this themselves; Rebind is for SQL that
// goes to PostgreSQL some other way (pgx directly).
func (db *DB) Rebind(query string) string { return db.Write.Rebind(query) }

// ForUpdate is the clause that ends a SELECT in a write transaction whose
// rows the transaction goes on to change depending on what it read: " FOR
// UPDATE" on PostgreSQL, where another replica's transaction may otherwise
// change them in between (READ COMMITTED), and "" on SQLite, whose write
// transactions (BEGIN IMMEDIATE on the one writer) already run one at a time.
func (db *DB) ForUpdate() string {
	if db.Engine == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// BeginSnapshot begins a read-only transaction whose queries all see one
// consistent state of the database, however long it runs (a verification
// of the whole audit log). SQLite's read transactions are snapshots already;
// PostgreSQL needs REPEATABLE READ for it.
func (db *DB) BeginSnapshot(ctx context.Context) (*sqlx.Tx, error) {
	var opts *sql.TxOptions
	if db.Engine == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := db.Read.BeginTxx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("store: begin snapshot: %w", err)
	}
	return tx, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.ckptStop != nil {
		db.closeOnce.Do(func() { close(db.ckptStop) })
		<-db.ckptDone
	}
	return errors.Join(db.closeStmts(), db.Read.Close(), db.Write.Close())
}
