package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"
)

// TextIndexTables are the tables a copy between engines leaves out (pass
// them to Copy as skip): the audit log's text index and its state, which
// each engine keeps its own way (an FTS5 index cannot give its text back,
// and PostgreSQL's is a tsvector). The audit package rebuilds the index in
// the target (audit.Store.RebuildSearch).
var TextIndexTables = []string{"audit_search", "audit_search_backfill"}

// ErrTargetNotEmpty is returned by Copy when the target already holds data.
var ErrTargetNotEmpty = errors.New("store: the target database already holds data")

// Copy copies every row of every table of src into dst (`console
// migrate-store`): any engine to any engine, ids kept. Both databases must
// be at the same schema version, and dst must hold no rows yet; it is
// written in one transaction, so a copy that fails leaves it empty. src is
// read in one snapshot. Tables named in skip are left out (audit_search: an
// FTS5 index cannot give its text back; its owner rebuilds it). On
// PostgreSQL, identities are moved past the copied ids. It returns the
// number of rows copied per table.
func Copy(ctx context.Context, dst, src *DB, skip ...string) (map[string]int64, error) {
	sv, err := schemaVersion(ctx, src.Read)
	if err != nil {
		return nil, fmt.Errorf("store: copy: source %s: %w", src.Path, err)
	}
	dv, err := schemaVersion(ctx, dst.Read)
	if err != nil {
		return nil, fmt.Errorf("store: copy: target %s: %w", dst.Path, err)
	}
	if sv != dv {
		return nil, fmt.Errorf("store: copy: the source is at schema version %d and the target at %d: open both with this console version first", sv, dv)
	}
	tables, err := dst.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: copy: target tables: %w", err)
	}
	srcTables, err := src.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: copy: source tables: %w", err)
	}
	tables = slices.DeleteFunc(tables, func(t string) bool { return slices.Contains(skip, t) })
	for _, t := range srcTables {
		// A table the target lacks would be lost without a word: refuse.
		if !slices.Contains(tables, t) && !slices.Contains(skip, t) {
			return nil, fmt.Errorf("store: copy: the target has no table %s (its migrations lack it?): nothing was copied", t)
		}
	}
	for _, t := range tables {
		if !slices.Contains(srcTables, t) {
			return nil, fmt.Errorf("store: copy: the source has no table %s", t)
		}
		var n int64
		if err := dst.Read.GetContext(ctx, &n, `SELECT count(*) FROM `+quote(t)); err != nil {
			return nil, fmt.Errorf("store: copy: count %s in the target: %w", t, err)
		}
		if n > 0 {
			return nil, fmt.Errorf("%w (%d rows in %s): copy into a new, empty database", ErrTargetNotEmpty, n, t)
		}
	}
	if tables, err = dst.insertOrder(ctx, tables); err != nil {
		return nil, fmt.Errorf("store: copy: %w", err)
	}

	snap, err := src.BeginSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer snap.Rollback() //nolint:errcheck // read-only

	counts := map[string]int64{}
	if dst.Engine == Postgres {
		err = dst.copyPostgres(ctx, snap, tables, counts)
	} else {
		err = dst.copySQLite(ctx, snap, tables, counts)
	}
	if err != nil {
		return nil, fmt.Errorf("store: copy: %w", err)
	}
	return counts, nil
}

// column is a column of the target with the kind of value it takes.
type column struct {
	name string
	kind string // int, text, bytes, other
}

// sourceRows reads a table's columns from the source snapshot, converted to
// what the target's columns take.
type sourceRows struct {
	rows *sql.Rows
	cols []column
	vals []any
	err  error
	n    int64
}

func openSource(ctx context.Context, snap *sqlx.Tx, table string, cols []column) (*sourceRows, error) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quote(c.name)
	}
	rows, err := snap.QueryContext(ctx, `SELECT `+strings.Join(names, ", ")+` FROM `+quote(table))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return &sourceRows{rows: rows, cols: cols}, nil
}

// Next, Values and Err make sourceRows a pgx.CopyFromSource.
func (s *sourceRows) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	raw := make([]any, len(s.cols))
	ptrs := make([]any, len(s.cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := s.rows.Scan(ptrs...); err != nil {
		s.err = err
		return false
	}
	for i, c := range s.cols {
		v, err := convert(raw[i], c.kind)
		if err != nil {
			s.err = fmt.Errorf("column %s: %w", c.name, err)
			return false
		}
		raw[i] = v
	}
	s.vals = raw
	s.n++
	return true
}

func (s *sourceRows) Values() ([]any, error) { return s.vals, nil }

func (s *sourceRows) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// convert turns a value read from either engine into what a column of the
// given kind takes from either driver.
func convert(v any, kind string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case "int":
		switch x := v.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case "bytes":
		switch x := v.(type) {
		case []byte:
			if x == nil { // an empty value, not NULL (that is an untyped nil)
				return []byte{}, nil
			}
			return slices.Clone(x), nil
		case string:
			return []byte(x), nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("a %T value cannot go into a %s column", v, kind)
}

func (dst *DB) copyPostgres(ctx context.Context, snap *sqlx.Tx, tables []string, counts map[string]int64) error {
	conn, err := dst.Write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*placeholderConn).Conn.Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
		for _, t := range tables {
			cols, err := dst.columns(ctx, t)
			if err != nil {
				return err
			}
			src, err := openSource(ctx, snap, t, cols)
			if err != nil {
				return err
			}
			names := make([]string, len(cols))
			for i, c := range cols {
				names[i] = c.name
			}
			n, err := tx.CopyFrom(ctx, pgx.Identifier{t}, names, src)
			src.rows.Close()
			if err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
			counts[t] = n
		}
		// Identities continue after the copied ids.
		rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND is_identity = 'YES'`)
		if err != nil {
			return err
		}
		idents, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Table, Column string }])
		if err != nil {
			return fmt.Errorf("list identities: %w", err)
		}
		for _, id := range idents {
			if !slices.Contains(tables, id.Table) {
				continue
			}
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), m, true)
				FROM (SELECT max(`+quote(id.Column)+`) AS m FROM `+quote(id.Table)+`) s WHERE m IS NOT NULL`,
				quote(id.Table), id.Column); err != nil {
				return fmt.Errorf("move the identity of %s past the copied ids: %w", id.Table, err)
			}
		}
		return tx.Commit(ctx)
	})
}

func (dst *DB) copySQLite(ctx context.Context, snap *sqlx.Tx, tables []string, counts map[string]int64) error {
	tx, err := dst.Write.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	for _, t := range tables {
		cols, err := dst.columns(ctx, t)
		if err != nil {
			return err
		}
		src, err := openSource(ctx, snap, t, cols)
		if err != nil {
			return err
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = quote(c.name)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO `+quote(t)+` (`+strings.Join(names, ", ")+`) VALUES (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+`)`)
		if err != nil {
			src.rows.Close()
			return fmt.Errorf("copy %s: %w", t, err)
		}
		for src.Next() {
			if _, err := ins.ExecContext(ctx, src.vals...); err != nil {
				src.rows.Close()
				ins.Close()
				return fmt.Errorf("copy %s: %w", t, err)
			}
		}
		src.rows.Close()
		ins.Close()
		if err := src.Err(); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
		counts[t] = src.n
	}
	return tx.Commit()
}

// schemaVersion returns the migration version the database is at.
func schemaVersion(ctx context.Context, db *sqlx.DB) (int64, error) {
	var v struct {
		Version int64 `db:"version"`
		Dirty   bool  `db:"dirty"`
	}
	if err := db.GetContext(ctx, &v, `SELECT version, dirty FROM schema_migrations`); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if v.Dirty {
		return 0, fmt.Errorf("a migration to version %d failed half-way", v.Version)
	}
	return v.Version, nil
}

// tables lists the console's ordinary tables (no migration bookkeeping, no
// SQLite virtual or shadow tables), sorted by name.
func (db *DB) tables(ctx context.Context) ([]string, error) {
	var names []string
	var err error
	if db.Engine == Postgres {
		err = db.Read.SelectContext(ctx, &names, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
			ORDER BY table_name`)
	} else {
		err = db.Read.SelectContext(ctx, &names, `SELECT name FROM pragma_table_list
			WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'
			ORDER BY name`)
	}
	return names, err
}

// columns lists a table's columns in order, with the kind of value each takes.
func (db *DB) columns(ctx context.Context, table string) ([]column, error) {
	var rows []struct {
		Name string `db:"name"`
		Type string `db:"type"`
	}
	var err error
	if db.Engine == Postgres {
		err = db.Read.SelectContext(ctx, &rows, `SELECT column_name AS name, data_type AS type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	} else {
		err = db.Read.SelectContext(ctx, &rows, `SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, table)
	}
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	cols := make([]column, len(rows))
	for i, r := range rows {
		kind := "other"
		switch strings.ToLower(r.Type) {
		case "integer", "bigint", "smallint":
			kind = "int"
		case "text":
			kind = "text"
		case "blob", "bytea":
			kind = "bytes"
		}
		cols[i] = column{name: r.Name, kind: kind}
	}
	return cols, nil
}

// insertOrder sorts tables so that every table comes after the tables its
// foreign keys point to.
func (db *DB) insertOrder(ctx context.Context, tables []string) ([]string, error) {
	var edges []struct {
		From string `db:"from_table"`
		To   string `db:"to_table"`
	}
	var err error
	if db.Engine == Postgres {
		err = db.Read.SelectContext(ctx, &edges, `SELECT c.conrelid::regclass::text AS from_table, c.confrelid::regclass::text AS to_table
			FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
			WHERE c.contype = 'f' AND n.nspname = current_schema()`)
	} else {
		for _, t := range tables {
			var refs []string
			if err = db.Read.SelectContext(ctx, &refs, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t); err != nil {
				break
			}
			for _, r := range refs {
				edges = append(edges, struct {
					From string `db:"from_table"`
					To   string `db:"to_table"`
				}{t, r})
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("foreign keys: %w", err)
	}
	deps := map[string][]string{}
	for _, e := range edges {
		if e.From != e.To {
			deps[e.From] = append(deps[e.From], e.To)
		}
	}
	sort.Strings(tables)
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("foreign keys form a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		for _, d := range deps[t] {
			if slices.Contains(tables, d) {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		out = append(out, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// quote quotes an identifier for either engine.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
