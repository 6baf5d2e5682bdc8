package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Filter selects entries. Empty fields do not filter. Every field is matched
// through an index, so any single filter stays fast at millions of entries.
type Filter struct {
	Actor       string    // actor user name, exact, case-insensitive
	Action      string    // action: START, STOP, ... or a security event kind such as signin.failure
	Server      string    // a target server's id or name, exact, case-insensitive
	Outcome     string    // success | api_error | transport_error | unknown
	Text        string    // words matched against names, ids and error messages
	Correlation string    // batch/correlation id, exact
	Since       time.Time // entries at or after this instant
	Until       time.Time // entries strictly before this instant
}

// Validate reports a filter value that cannot be used.
func (f Filter) Validate() error {
	if f.Outcome != "" && !Outcome(f.Outcome).Valid() {
		return fmt.Errorf("%w: outcome %q is not one of success, api_error, transport_error, unknown", ErrInvalidFilter, f.Outcome)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("%w: the start of the time range must be before its end", ErrInvalidFilter)
	}
	return nil
}

// IsZero reports whether f selects every entry.
func (f Filter) IsZero() bool { return f == Filter{} }

// timeBoundLayouts are accepted by ParseTimeBound; times without a zone are UTC.
var timeBoundLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"}

// ParseTimeBound parses a time-range bound given as RFC 3339, as
// "2006-01-02T15:04[:05]" (UTC), or as a date "2006-01-02". A date as the end
// of a range (end true) includes that whole day: it yields the next midnight
// UTC, since Until is exclusive. An empty string yields the zero time.
func ParseTimeBound(s string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	for _, l := range timeBoundLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a date (2006-01-02) or time (RFC 3339)", ErrInvalidFilter, s)
}

// ftsQuery turns user text into an FTS5 query: every word becomes a quoted
// phrase (so no FTS syntax is interpreted) and all must match. Words are
// split by the same tokenizer at query time, so "gpu-node-07" matches the
// name gpu-node-07. It returns "" when the text has no searchable word.
//
// Control characters separate words (the tokenizer never indexes them):
// FTS5 reads a NUL inside a quoted phrase as the end of the query, so
// passing one through would turn a typo into an SQL error.
func ftsQuery(text string) string {
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	var parts []string
	for _, w := range strings.Fields(text) {
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		parts = append(parts, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
		if len(parts) == 16 {
			break
		}
	}
	return strings.Join(parts, " AND ")
}

// query is a filter compiled to SQL around one driving index.
type query struct {
	from  string // FROM ... (entries aliased e)
	idCol string // the driving index's entry id column: keyset and order
	where []string
	args  []any
	empty bool // provably no match
}

// compile builds the SQL for f. The most selective indexed filter drives:
// free text (FTS5, rowid = entry id), then server (audit_entry_servers),
// then audit_entries with its (column, id) indexes. A time range becomes an
// id range (created_at never decreases with id), found through the
// created_at index.
func (s *Store) compile(ctx context.Context, f Filter) (*query, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	q := &query{from: "audit_entries e", idCol: "e.id"}
	fts := ftsQuery(f.Text)
	server := serverKey(f.Server)
	switch {
	case fts != "":
		q.from = "audit_search JOIN audit_entries e ON e.id = audit_search.rowid"
		q.idCol = "audit_search.rowid"
		q.where = append(q.where, "audit_search MATCH ?")
		q.args = append(q.args, fts)
		if server != "" {
			q.where = append(q.where, "EXISTS (SELECT 1 FROM audit_entry_servers s WHERE s.server_key = ? AND s.entry_id = e.id)")
			q.args = append(q.args, server)
		}
	case server != "":
		q.from = "audit_entry_servers s JOIN audit_entries e ON e.id = s.entry_id"
		q.idCol = "s.entry_id"
		q.where = append(q.where, "s.server_key = ?")
		q.args = append(q.args, server)
	}
	if f.Actor != "" {
		q.where = append(q.where, "e.actor_name = ? COLLATE NOCASE")
		q.args = append(q.args, strings.TrimSpace(f.Actor))
	}
	if f.Action != "" {
		q.where = append(q.where, "e.action = ?")
		q.args = append(q.args, strings.TrimSpace(f.Action))
	}
	if f.Outcome != "" {
		q.where = append(q.where, "e.outcome = ?")
		q.args = append(q.args, f.Outcome)
	}
	if f.Correlation != "" {
		q.where = append(q.where, "e.correlation_id = ?")
		q.args = append(q.args, strings.TrimSpace(f.Correlation))
	}
	if !f.Since.IsZero() {
		at := f.Since.UTC().Format(timeLayout)
		var lo int64
		err := s.db.Read.GetContext(ctx, &lo, `SELECT id FROM audit_entries WHERE created_at >= ? ORDER BY created_at, id LIMIT 1`, at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			q.empty = true
		case err != nil:
			return nil, fmt.Errorf("audit: resolve since: %w", err)
		}
		q.where = append(q.where, q.idCol+" >= ?", "e.created_at >= ?")
		q.args = append(q.args, lo, at)
	}
	if !f.Until.IsZero() {
		at := f.Until.UTC().Format(timeLayout)
		var hi int64
		err := s.db.Read.GetContext(ctx, &hi, `SELECT id FROM audit_entries WHERE created_at >= ? ORDER BY created_at, id LIMIT 1`, at)
		switch {
		case errors.Is(err, sql.ErrNoRows): // every entry is before Until
		case err != nil:
			return nil, fmt.Errorf("audit: resolve until: %w", err)
		default:
			q.where = append(q.where, q.idCol+" < ?")
			q.args = append(q.args, hi)
		}
		q.where = append(q.where, "e.created_at < ?")
		q.args = append(q.args, at)
	}
	return q, nil
}

func (q *query) sql(extraWhere string, order string, limit int) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(prefixedColumns)
	b.WriteString(" FROM ")
	b.WriteString(q.from)
	where := q.where
	if extraWhere != "" {
		where = append(append([]string(nil), where...), extraWhere)
	}
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(q.idCol)
	b.WriteString(" ")
	b.WriteString(order)
	if limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", limit)
	}
	return b.String()
}

// page returns the SQL and arguments for up to limit rows below before (0:
// from the newest), newest first.
func (q *query) page(before int64, limit int) (string, []any) {
	args := q.args
	extra := ""
	if before > 0 {
		extra = q.idCol + " < ?"
		args = append(append([]any(nil), args...), before)
	}
	return q.sql(extra, "DESC", limit), args
}

var prefixedColumns = func() string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = "e." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()

// DefaultPageSize and MaxPageSize bound List's limit.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// List returns up to limit entries matching f, newest first, with ids below
// before (0: from the newest). next is the cursor for the following page (the
// last returned id) or 0 when there is none.
func (s *Store) List(ctx context.Context, f Filter, before int64, limit int) ([]Entry, int64, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	q, err := s.compile(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	if q.empty {
		return nil, 0, nil
	}
	sqlText, args := q.page(before, limit+1)
	var rows []row
	if err := s.db.Read.SelectContext(ctx, &rows, sqlText, args...); err != nil {
		return nil, 0, fmt.Errorf("audit: list entries: %w", err)
	}
	var next int64
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]Entry, 0, len(rows))
	for i := range rows {
		e, err := rows[i].toEntry()
		if err != nil {
			return nil, 0, fmt.Errorf("audit: list entries: %w", err)
		}
		out = append(out, *e)
	}
	return out, next, nil
}

// Get returns the entry with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (*Entry, error) {
	var r row
	err := s.db.Read.GetContext(ctx, &r, `SELECT `+columns+` FROM audit_entries WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("audit: get entry %d: %w", id, err)
	}
	e, err := r.toEntry()
	if err != nil {
		return nil, fmt.Errorf("audit: get entry: %w", err)
	}
	return e, nil
}

// Exchange returns the request entry and its answer (the response or the
// outcome_unknown entry) given the id of either. resp is nil while the call
// is still in flight. It returns ErrNotFound for an unknown id and
// ErrNotACall for a security event.
func (s *Store) Exchange(ctx context.Context, id int64) (req, resp *Entry, err error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	switch e.Kind {
	case KindRequest:
		var r row
		err := s.db.Read.GetContext(ctx, &r, `SELECT `+columns+` FROM audit_entries WHERE ref_id = ? AND ref_id <> 0`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return e, nil, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("audit: answer of request %d: %w", id, err)
		}
		resp, err := r.toEntry()
		if err != nil {
			return nil, nil, fmt.Errorf("audit: answer of request %d: %w", id, err)
		}
		return e, resp, nil
	case KindResponse, KindOutcomeUnknown:
		req, err := s.Get(ctx, e.RefID)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: request of entry %d: %w", id, err)
		}
		return req, e, nil
	}
	return nil, nil, ErrNotACall
}
