package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/migrations"
)

// Pool sizes on PostgreSQL, per replica. The server's max_connections must
// cover every replica's Read + Write + one per subscription and lock holder
// (docs/replicas.md).
const (
	pgReadConns  = 8
	pgWriteConns = 8
)

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	name := Redact(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", name, redactErr(err, dsn))
	}
	if err := migratePostgres(ctx, cfg); err != nil {
		return nil, err
	}
	w, err := openPool(ctx, cfg, false, pgWriteConns)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", name, redactErr(err, dsn))
	}
	r, err := openPool(ctx, cfg, true, pgReadConns)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", name, redactErr(err, dsn))
	}
	return &DB{Engine: Postgres, Path: name, Read: r, Write: w, dsn: dsn}, nil
}

// openPool opens a pool of connections configured like cfg, every one in
// UTC and, for readOnly, unable to write.
func openPool(ctx context.Context, cfg *pgx.ConnConfig, readOnly bool, conns int) (*sqlx.DB, error) {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["timezone"] = "UTC"
	if c.RuntimeParams["application_name"] == "" {
		c.RuntimeParams["application_name"] = "devserver-console"
	}
	if readOnly {
		c.RuntimeParams["default_transaction_read_only"] = "on"
	}
	connector := stdlib.GetConnector(*c, stdlib.OptionAfterConnect(func(_ context.Context, conn *pgx.Conn) error {
		m := conn.TypeMap()
		m.TryWrapEncodePlanFuncs = append(m.TryWrapEncodePlanFuncs, tryWrapBoolAsInt)
		return nil
	}))
	db := sqlx.NewDb(sql.OpenDB(placeholderConnector{connector}), "pgx")
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	// Connections are renewed now and then, so a replica follows a failover
	// or a changed DNS name without a restart.
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// migratePostgres applies the PostgreSQL migrations on a connection of its
// own (golang-migrate closes what it is given). The driver holds an
// advisory lock meanwhile, so replicas starting together migrate once.
func migratePostgres(ctx context.Context, cfg *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: open %s: %w", Redact(cfg.ConnString()), redactErr(err, cfg.ConnString()))
	}
	src, err := iofs.New(migrations.Postgres, ".")
	if err != nil {
		return fmt.Errorf("store: read migrations: %w", err)
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		return fmt.Errorf("store: migration driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("store: apply migrations: %w", err)
	}
	return nil
}

func migrateSQLite(db *sqlx.DB) error {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("store: read migrations: %w", err)
	}
	drv, err := migratesqlite.WithInstance(db.DB, &migratesqlite.Config{})
	if err != nil {
		return fmt.Errorf("store: migration driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite", drv)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("store: apply migrations: %w", err)
	}
	return nil
}

// redactErr keeps a password that pgx may quote from a connection string out
// of an error message.
func redactErr(err error, dsn string) error {
	cfg, perr := pgx.ParseConfig(dsn)
	if perr != nil || cfg.Password == "" {
		return err
	}
	return redactedError{err: err, secret: cfg.Password}
}

type redactedError struct {
	err    error
	secret string
}

func (e redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx")
}

func (e redactedError) Unwrap() error { return e.err }

// tryWrapBoolAsInt lets a Go bool go into an integer column as 1 or 0, as
// SQLite's driver does: flags are integers in the one schema both engines
// share (disabled, ok).
func tryWrapBoolAsInt(v any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	b, ok := v.(bool)
	if !ok {
		return nil, nil, false
	}
	var n int64
	if b {
		n = 1
	}
	return &boolAsIntPlan{}, n, true
}

type boolAsIntPlan struct{ next pgtype.EncodePlan }

func (p *boolAsIntPlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *boolAsIntPlan) Encode(v any, buf []byte) ([]byte, error) {
	var n int64
	if v.(bool) {
		n = 1
	}
	return p.next.Encode(n, buf)
}
