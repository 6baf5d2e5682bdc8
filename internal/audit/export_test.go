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
		r.DurationMS, r.Error, r.Outcome, r.RefID, r.Project, r.PrevHash, r.Hash)
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

// UnindexFacetsForTest puts the text index back as it was right after
// migration 0011 on a log that already held every current entry: the new
// index empty, the backfill not started, queries on the old index (which
// the caller must have kept written, see KeepLegacySearchForTest).
func (s *Store) UnindexFacetsForTest(ctx context.Context) error {
	if _, err := s.db.Write.ExecContext(ctx, `INSERT INTO audit_search_v2 (audit_search_v2) VALUES ('delete-all')`); err != nil {
		return err
	}
	if _, err := s.db.Write.ExecContext(ctx, `UPDATE audit_search_backfill SET below = (SELECT coalesce(max(id), 0) + 1 FROM audit_entries), merged = 0`); err != nil {
		return err
	}
	s.search.Store(searchBackfill)
	return nil
}

// KeepLegacySearchForTest makes the store write both text indexes and read
// the new one, as after a backfill that finished while the process ran, so
// that UnindexFacetsForTest can follow.
func (s *Store) KeepLegacySearchForTest() { s.search.Store(searchCompleted) }

// FacetsReadyForTest reports whether queries read the new text index.
func (s *Store) FacetsReadyForTest() bool { return s.search.Load() >= searchReady }

// SetBackfillBatchForTest changes the backfill's batch size and the pages
// of a merge step, and returns a function that restores them.
func SetBackfillBatchForTest(n, pages int) func() {
	old, oldPages := backfillBatch, mergeSteps
	backfillBatch, mergeSteps = n, pages
	return func() { backfillBatch, mergeSteps = old, oldPages }
}

// UseLegacySearchForTest makes queries plan as before the backfill of
// migration 0011 (on the words-only index, which must be complete) and
// returns a function that restores the state.
func (s *Store) UseLegacySearchForTest() func() {
	old := s.search.Swap(searchBackfill)
	return func() { s.search.Store(old) }
}

// SetTermRangeForTest changes the widest id range a text search with
// filters reads term by term (0: never), and returns a function that
// restores it.
func SetTermRangeForTest(n int64) func() {
	old := termRange
	termRange = n
	return func() { termRange = old }
}

// SetSparseProbeForTest changes how many matches a text search with
// several terms reads oldest first (-1: none, always one newest-first
// query), and returns a function that restores it.
func SetSparseProbeForTest(n int) func() {
	old := sparseProbe
	sparseProbe = n
	return func() { sparseProbe = old }
}
