package audit

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"
)

// ListSQLForTest returns the SQL and arguments List runs for f, so tests can
// check its query plan.
func (s *Store) ListSQLForTest(ctx context.Context, f Filter, before int64) (string, []any, error) {
	q, err := s.compile(ctx, f)
	if err != nil {
		return "", nil, err
	}
	sqlText, args := q.page(before, DefaultPageSize+1)
	return sqlText, args, nil
}

// RechainForTest rewrites every entry's prev_hash and hash in db, in id
// order, as an attacker with write access would: with key nil the plain
// SHA-256 chain, else HMAC-SHA256 under key from the first audit.keyed entry
// on. The triggers must already be dropped.
func RechainForTest(ctx context.Context, db *sql.DB, key []byte) error {
	rows, err := sqlx.NewDb(db, "sqlite").QueryxContext(ctx, `SELECT `+columns+` FROM audit_entries ORDER BY id`)
	if err != nil {
		return err
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.StructScan(&r); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	prev, keyed := GenesisHash, false
	for i := range all {
		r := &all[i]
		keyed = keyed || (key != nil && r.Kind == string(EventChainKeyed))
		h := chainHash(prev, r)
		if keyed {
			h = keyedHash(key, prev, r)
		}
		if _, err := db.ExecContext(ctx, `UPDATE audit_entries SET prev_hash = ?, hash = ? WHERE id = ?`, prev, h, r.ID); err != nil {
			return err
		}
		prev = h
	}
	return nil
}

// ForgePlainForTest appends a copy of entry id with a new actor name at the
// end of the log, chained to the head with a correct plain SHA-256 hash.
func ForgePlainForTest(ctx context.Context, db *sql.DB, id int64, actor string) error {
	x := sqlx.NewDb(db, "sqlite")
	var r row
	if err := x.GetContext(ctx, &r, `SELECT `+columns+` FROM audit_entries WHERE id = ?`, id); err != nil {
		return err
	}
	var head string
	if err := x.GetContext(ctx, &head, `SELECT hash FROM audit_entries ORDER BY id DESC LIMIT 1`); err != nil {
		return err
	}
	r.ActorName, r.RefID, r.PrevHash = actor, 0, head
	if r.RequestBody == nil {
		r.RequestBody = []byte{}
	}
	if r.ResponseBody == nil {
		r.ResponseBody = []byte{}
	}
	r.Hash = chainHash(head, &r)
	_, err := db.ExecContext(ctx, insertEntrySQL, r.CreatedAt, r.Kind, r.ActorID, r.ActorName, r.ActorRole,
		r.ClientIP, r.UserAgent, r.CorrelationID, r.Action, r.Targets, r.Detail, r.Method, r.URL,
		r.RequestHeaders, r.RequestBody, r.Status, r.ResponseHeaders, r.ResponseBody, r.RequestID,
		r.DurationMS, r.Error, r.Outcome, r.RefID, r.PrevHash, r.Hash)
	return err
}

// SetProbeCapForTest changes the planner's probe bound and first window
// and returns a function that restores them.
func SetProbeCapForTest(n, window int) func() {
	old, oldW := probeCap, windowSize
	probeCap, windowSize = n, window
	return func() { probeCap, windowSize = old, oldW }
}

// ListUnplannedForTest is List as it was before the planner: the text
// index drives whenever there is text, and SQLite picks among the other
// indexes. Benchmarks compare against it.
func (s *Store) ListUnplannedForTest(ctx context.Context, f Filter, before int64, limit int) ([]row, error) {
	q, err := s.compilePlan(ctx, f, plan{legacy: true})
	if err != nil || q.empty {
		return nil, err
	}
	sqlText, args := q.page(before, limit+1)
	var rows []row
	err = s.db.Read.SelectContext(ctx, &rows, sqlText, args...)
	return rows, err
}

// RowID is the id of a row returned by ListUnplannedForTest.
func RowID(r row) int64 { return r.ID }
