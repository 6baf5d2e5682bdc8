package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/devserver-console/console/internal/store"
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
	Project     string    // the console project's short name, exact
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
// passing one through would turn a typo into an SQL error. Private-use
// characters separate words too: they mark the index's filter tokens
// (search.go), which typed text must never match.
func ftsQuery(text string) string {
	return strings.Join(ftsWords(text), " AND ")
}

// ftsWords returns the quoted FTS5 phrases of ftsQuery, at most 16.
func ftsWords(text string) []string {
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isFacetRune(r) {
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
	return parts
}

// query is a filter compiled to SQL around one driving index.
type query struct {
	from  string // FROM ... (entries aliased e)
	idCol string // the driving index's entry id column: keyset and order
	where []string
	args  []any
	empty bool // provably no match

	lo, hi  int64  // id bounds from the time range: lo <= id < hi (0: unbounded)
	fts     string // the FTS5 query of the text filter ("" when none)
	match   string // the MATCH argument: fts, plus the filter tokens when faceted
	table   string // the text index read (search.go)
	faceted bool   // the text index's query includes the equality filters
	others  int    // equality filters besides text

	// textOnly (PostgreSQL): the text is the only filter, so a page takes
	// its ids from the text index alone before reading any entry.
	textOnly bool
}

// plan says how compile drives a query.
type plan struct {
	legacy bool   // the join as it was before the planner (benchmarks compare against it)
	noText bool   // leave the text filter out (the caller applies it)
	driver string // "actor", "action", "outcome", "correlation" or "server": the index that drives; "entries": the table itself (ids given); "" picks by rule
}

// compile builds the SQL for f. Free text (FTS5, rowid = entry id) drives
// when present, else server (audit_entry_servers), else audit_entries with
// its (column, id) indexes; p can name the driving index instead, or leave
// the text out. A time range becomes an id range (created_at never
// decreases with id), found through the created_at index.
//
// Searches read the indexes, so with a text or server filter it first
// brings them up to every entry so far (once per List or export: the
// plans it then compiles do not ask again).
func (s *Store) compile(ctx context.Context, f Filter) (*query, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(f.Text) != "" || serverKey(f.Server) != "" {
		if err := s.awaitIndex(ctx); err != nil {
			return nil, err
		}
	}
	return s.compilePlan(ctx, f, plan{})
}

func (s *Store) compilePlan(ctx context.Context, f Filter, p plan) (*query, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	q := &query{from: "audit_entries e", idCol: "e.id", fts: ftsQuery(f.Text), table: legacySearchTable}
	pg := s.db.Engine == store.Postgres
	if pg {
		q.fts = pgTextQuery(f.Text)
	}
	facets, err := s.facetsReady(ctx)
	if err != nil {
		return nil, err
	}
	if facets {
		q.table = searchTable
	}
	server := serverKey(f.Server)
	for _, v := range []string{server, f.Actor, f.Action, f.Outcome, f.Correlation} {
		if v != "" {
			q.others++
		}
	}
	switch {
	case q.fts != "" && !p.noText:
		// CROSS JOIN keeps the text index outside: SQLite may otherwise
		// drive by another index and probe the text index once per entry,
		// which reads the word's whole doclist every time.
		q.from = q.table + " CROSS JOIN audit_entries e ON e.id = " + q.table + ".rowid"
		if p.legacy {
			q.from = q.table + " JOIN audit_entries e ON e.id = " + q.table + ".rowid"
		}
		q.idCol = q.table + ".rowid"
		if pg {
			// PostgreSQL plans the join itself (and has no CROSS JOIN ... ON);
			// its text index holds the words only (no filter tokens).
			q.from = q.table + " JOIN audit_entries e ON e.id = " + q.table + ".rowid"
			q.where = append(q.where, q.table+".body @@ to_tsquery('console_search', ?)")
			q.args = append(q.args, q.fts)
			break
		}
		q.where = append(q.where, q.table+" MATCH ?")
		match := q.fts
		if ff := filterFacets(f); facets && !p.legacy && ff != "" {
			// The index holds the filter values too: it intersects them
			// with the words itself.
			match += " AND " + ff
			q.faceted = true
		}
		q.args = append(q.args, match)
		q.match = match
		if server != "" {
			q.where = append(q.where, "EXISTS (SELECT 1 FROM audit_entry_servers s WHERE s.server_key = ? AND s.entry_id = e.id)")
			q.args = append(q.args, server)
		}
	case server != "" && (p.driver == "" || p.driver == "server"):
		q.from = "audit_entry_servers s JOIN audit_entries e ON e.id = s.entry_id"
		q.idCol = "s.entry_id"
		q.where = append(q.where, "s.server_key = ?")
		q.args = append(q.args, server)
	default:
		if server != "" {
			q.where = append(q.where, "EXISTS (SELECT 1 FROM audit_entry_servers s WHERE s.server_key = ? AND s.entry_id = e.id)")
			q.args = append(q.args, server)
		}
		if idx, ok := driverIndex[p.driver]; ok && !pg {
			q.from = "audit_entries e INDEXED BY " + idx
		}
	}
	if f.Actor != "" {
		q.where = append(q.where, "e.actor_name = ? COLLATE NOCASE")
		q.args = append(q.args, strings.TrimSpace(f.Actor))
	}
	if f.Action != "" {
		q.where = append(q.where, "e.action = ?")
		q.args = append(q.args, strings.TrimSpace(f.Action))
	}
	if f.Project != "" {
		q.where = append(q.where, "e.project = ?")
		q.args = append(q.args, strings.TrimSpace(f.Project))
	}
	if f.Outcome != "" {
		q.where = append(q.where, "e.outcome = ?")
		q.args = append(q.args, f.Outcome)
	}
	if f.Correlation != "" {
		q.where = append(q.where, "e.correlation_id = ?")
		q.args = append(q.args, strings.TrimSpace(f.Correlation))
	}
	q.textOnly = pg && q.fts != "" && !p.noText && q.others == 0 && f.Since.IsZero() && f.Until.IsZero()
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
		q.lo = lo
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
			q.hi = hi
			q.where = append(q.where, q.idCol+" < ?")
			q.args = append(q.args, hi)
		}
		q.where = append(q.where, "e.created_at < ?")
		q.args = append(q.args, at)
	}
	return q, nil
}

// driverIndex names the index each equality filter can drive a query by.
var driverIndex = map[string]string{
	"actor":       "audit_entries_actor",
	"action":      "audit_entries_action",
	"outcome":     "audit_entries_outcome",
	"correlation": "audit_entries_correlation",
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
	if q.textOnly && limit > 0 {
		// The page's ids first, from the text index alone; then only
		// those entries are read. Joining first would read every matching
		// entry (each with its bodies) to keep the newest few, which for a
		// common word is thousands of rows at a million entries.
		where := append(append([]string(nil), q.where...), extra)
		if extra == "" {
			where = q.where
		}
		return fmt.Sprintf("SELECT %s FROM (SELECT %s.rowid FROM %s WHERE %s ORDER BY %s.rowid DESC LIMIT %d) AS m JOIN audit_entries e ON e.id = m.rowid ORDER BY e.id DESC",
			prefixedColumns, q.table, q.table, strings.Join(where, " AND "), q.table, limit), args
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
	var rows []row
	windowed := false
	if q.fts != "" && q.others > 0 && !q.faceted {
		// Text with other filters: when the text matches many entries,
		// walk the other filters' index and check the text a window of ids
		// at a time, instead of checking the other filters on every entry
		// the text matches.
		if windowed, err = s.ftsDense(ctx, q, before); err != nil {
			return nil, 0, err
		}
	}
	switch {
	case windowed:
		if rows, err = s.listWindowed(ctx, f, q, before, limit+1); err != nil {
			return nil, 0, err
		}
	case q.match != "" && (q.faceted || q.others == 0):
		var ok bool
		if rows, ok, err = s.listText(ctx, f, q, before, limit+1); err != nil {
			return nil, 0, err
		}
		if ok {
			break
		}
		fallthrough
	default:
		if q.fts == "" && q.others > 1 {
			// Several indexed filters: drive by the rarest.
			d, err := s.pickDriver(ctx, f, q, before)
			if err != nil {
				return nil, 0, err
			}
			if q, err = s.compilePlan(ctx, f, plan{driver: d}); err != nil {
				return nil, 0, err
			}
		}
		sqlText, args := q.page(before, limit+1)
		if err := s.db.Read.SelectContext(ctx, &rows, sqlText, args...); err != nil {
			return nil, 0, fmt.Errorf("audit: list entries: %w", err)
		}
	}
	var next int64
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	broken := s.checkRows(rows)
	out := make([]Entry, 0, len(rows))
	var first int64
	for i := range rows {
		e, err := rows[i].toEntry()
		if err != nil {
			return nil, 0, fmt.Errorf("audit: list entries: %w", err)
		}
		if e.Broken = broken[e.ID]; e.Broken != "" && (first == 0 || e.ID < first) {
			first = e.ID
		}
		out = append(out, *e)
	}
	if first != 0 {
		if err := s.reportBroken(ctx, first, broken[first]); err != nil {
			return nil, 0, err
		}
	}
	return out, next, nil
}

// checkRows re-checks the hash of each listed row (and its link to the row
// before it when that is listed too), so that a page never shows an entry
// edited since the last verification without saying so. It needs the audit
// key; without one it checks nothing.
func (s *Store) checkRows(rows []row) map[int64]string {
	key, _ := s.currentKey()
	keyedFrom := s.keyedFrom.Load()
	if key == nil || keyedFrom == 0 {
		return nil
	}
	var broken map[int64]string
	mark := func(id int64, why string) {
		if broken == nil {
			broken = map[int64]string{}
		}
		if broken[id] == "" {
			broken[id] = why
		}
	}
	for i := range rows {
		r := &rows[i]
		want := chainHash(r.PrevHash, r)
		if r.ID >= keyedFrom {
			want = keyedHash(key, r.PrevHash, r)
		}
		if want != r.Hash {
			mark(r.ID, fmt.Sprintf("entry %d's content does not match its hash: it was edited or forged after it was written", r.ID))
		}
		if i+1 < len(rows) && rows[i+1].ID == r.ID-1 && rows[i+1].Hash != r.PrevHash {
			mark(r.ID, fmt.Sprintf("entry %d does not follow entry %d: an entry was removed, inserted or reordered", r.ID, r.ID-1))
		}
	}
	return broken
}

// probeCap bounds the counts the planner takes to compare filters: each
// probe reads at most this many index entries.
var probeCap = 2000

// upper returns the exclusive id bound of a page: before, the time range's
// end, or no bound (max int64).
func (q *query) upper(before int64) int64 {
	hi := int64(math.MaxInt64)
	if q.hi > 0 {
		hi = q.hi
	}
	if before > 0 && before < hi {
		hi = before
	}
	return hi
}

// ftsDense reports whether the text filter matches at least probeCap
// entries in the page's id range.
//
// On PostgreSQL it is always false: its planner weighs the text index
// against the others itself.
func (s *Store) ftsDense(ctx context.Context, q *query, before int64) (bool, error) {
	if s.db.Engine == store.Postgres {
		return false, nil
	}
	var n int
	err := s.db.Read.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT rowid FROM `+q.table+`
		WHERE `+q.table+` MATCH ? AND rowid >= ? AND rowid < ? LIMIT ?) AS p`, q.fts, q.lo, q.upper(before), probeCap)
	if err != nil {
		return false, fmt.Errorf("audit: list entries: probe text: %w", err)
	}
	return n >= probeCap, nil
}

// pickDriver returns the equality filter whose index holds the fewest
// entries in the page's id range (counted up to probeCap each).
func (s *Store) pickDriver(ctx context.Context, f Filter, q *query, before int64) (string, error) {
	probes := []struct {
		name, sql string
		arg       string
	}{
		{"server", `SELECT count(*) FROM (SELECT 1 FROM audit_entry_servers WHERE server_key = ? AND entry_id >= ? AND entry_id < ? LIMIT ?) AS p`, serverKey(f.Server)},
		{"correlation", `SELECT count(*) FROM (SELECT 1 FROM audit_entries INDEXED BY audit_entries_correlation WHERE correlation_id = ? AND id >= ? AND id < ? LIMIT ?) AS p`, strings.TrimSpace(f.Correlation)},
		{"actor", `SELECT count(*) FROM (SELECT 1 FROM audit_entries INDEXED BY audit_entries_actor WHERE actor_name = ? COLLATE NOCASE AND id >= ? AND id < ? LIMIT ?) AS p`, strings.TrimSpace(f.Actor)},
		{"outcome", `SELECT count(*) FROM (SELECT 1 FROM audit_entries INDEXED BY audit_entries_outcome WHERE outcome = ? AND id >= ? AND id < ? LIMIT ?) AS p`, f.Outcome},
		{"action", `SELECT count(*) FROM (SELECT 1 FROM audit_entries INDEXED BY audit_entries_action WHERE action = ? AND id >= ? AND id < ? LIMIT ?) AS p`, strings.TrimSpace(f.Action)},
	}
	// Probe each filter up to probeCap; when several reach it, probe those
	// again up to 16 × probeCap to tell a rare value from a common one.
	counts := map[string]int{}
	best, bestN := "", -1
	for _, limit := range []int{probeCap, 16 * probeCap} {
		tied := 0
		for _, p := range probes {
			if p.arg == "" || (limit > probeCap && counts[p.name] < probeCap) {
				continue
			}
			var n int
			if err := s.db.Read.GetContext(ctx, &n, s.portable(p.sql), p.arg, q.lo, q.upper(before), limit); err != nil {
				return "", fmt.Errorf("audit: list entries: probe %s: %w", p.name, err)
			}
			counts[p.name] = n
			if bestN < 0 || n < bestN {
				best, bestN = p.name, n
			}
			if n >= limit {
				tied++
			}
		}
		if bestN < limit || tied < 2 {
			break
		}
		bestN = -1
	}
	return best, nil
}

// driverWindowSQL gives, for a driving filter, the SQL of the lowest and
// highest ids among its newest n entries below an id (args: value, lo,
// below, n), and the SQL
// of its ids in a range (args: value, lo, below) for an IN set.
var driverWindowSQL = map[string][2]string{
	"server": {`SELECT min(entry_id), max(entry_id) FROM (SELECT entry_id FROM audit_entry_servers WHERE server_key = ? AND entry_id >= ? AND entry_id < ? ORDER BY entry_id DESC LIMIT ?) AS p`,
		`SELECT entry_id FROM audit_entry_servers WHERE server_key = ? AND entry_id >= ? AND entry_id < ?`},
	"correlation": {`SELECT min(id), max(id) FROM (SELECT id FROM audit_entries INDEXED BY audit_entries_correlation WHERE correlation_id = ? AND id >= ? AND id < ? ORDER BY id DESC LIMIT ?) AS p`,
		`SELECT id FROM audit_entries INDEXED BY audit_entries_correlation WHERE correlation_id = ? AND id >= ? AND id < ?`},
	"actor": {`SELECT min(id), max(id) FROM (SELECT id FROM audit_entries INDEXED BY audit_entries_actor WHERE actor_name = ? COLLATE NOCASE AND id >= ? AND id < ? ORDER BY id DESC LIMIT ?) AS p`,
		`SELECT id FROM audit_entries INDEXED BY audit_entries_actor WHERE actor_name = ? COLLATE NOCASE AND id >= ? AND id < ?`},
	"outcome": {`SELECT min(id), max(id) FROM (SELECT id FROM audit_entries INDEXED BY audit_entries_outcome WHERE outcome = ? AND id >= ? AND id < ? ORDER BY id DESC LIMIT ?) AS p`,
		`SELECT id FROM audit_entries INDEXED BY audit_entries_outcome WHERE outcome = ? AND id >= ? AND id < ?`},
	"action": {`SELECT min(id), max(id) FROM (SELECT id FROM audit_entries INDEXED BY audit_entries_action WHERE action = ? AND id >= ? AND id < ? ORDER BY id DESC LIMIT ?) AS p`,
		`SELECT id FROM audit_entries INDEXED BY audit_entries_action WHERE action = ? AND id >= ? AND id < ?`},
}

func driverValue(f Filter, d string) string {
	switch d {
	case "server":
		return serverKey(f.Server)
	case "correlation":
		return strings.TrimSpace(f.Correlation)
	case "actor":
		return strings.TrimSpace(f.Actor)
	case "outcome":
		return f.Outcome
	case "action":
		return strings.TrimSpace(f.Action)
	}
	return ""
}

// listWindowed returns up to limit entries matching f below before, newest
// first, when the text matches many entries and other filters are set. The
// text index still drives, newest first, but it is bounded to a window of
// ids and checked against the set of ids the rarest other filter holds in
// that window (read from its covering index, no table lookups), so entries
// that fail that filter cost no lookup at all. The window starts at the
// filter's newest windowSize entries and grows fourfold until the page is
// full or the filter has no more entries.
func (s *Store) listWindowed(ctx context.Context, f Filter, q *query, before int64, limit int) ([]row, error) {
	d, err := s.pickDriver(ctx, f, q, before)
	if err != nil {
		return nil, err
	}
	win, ok := driverWindowSQL[d]
	if !ok {
		sqlText, args := q.page(before, limit)
		var rows []row
		if err := s.db.Read.SelectContext(ctx, &rows, sqlText, args...); err != nil {
			return nil, fmt.Errorf("audit: list entries: %w", err)
		}
		return rows, nil
	}
	val := driverValue(f, d)
	var out []row
	cursor, size := q.upper(before), windowSize
	for len(out) < limit {
		var low, high sql.NullInt64
		if err := s.db.Read.QueryRowContext(ctx, s.portable(win[0]), val, q.lo, cursor, size).Scan(&low, &high); err != nil {
			return nil, fmt.Errorf("audit: list entries: window of %s: %w", d, err)
		}
		if !low.Valid {
			break
		}
		// The text index is read only across the window's own ids.
		top := high.Int64 + 1
		where := append([]string(nil), q.where...)
		where = append(where, "+"+q.table+".rowid IN ("+s.portable(win[1])+")", q.table+".rowid >= ?", q.table+".rowid < ?")
		args := append(append([]any(nil), q.args...), val, low.Int64, top, low.Int64, top)
		wq := *q
		wq.where = where
		var rows []row
		if err := s.db.Read.SelectContext(ctx, &rows, wq.sql("", "DESC", limit-len(out)), args...); err != nil {
			return nil, fmt.Errorf("audit: list entries: %w", err)
		}
		out = append(out, rows...)
		cursor, size = low.Int64, size*4
	}
	return out, nil
}

// windowSize is the first window of listWindowed, in entries of the
// driving filter.
var windowSize = 1024

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

// searchWords splits text into the words SQLite's unicode61 tokenizer would
// find: runs of letters and digits.
func searchWords(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// pgWords is what goes into PostgreSQL's text index for an entry's text:
// the words alone, so its parser finds what SQLite's unicode61 finds.
func pgWords(text string) string {
	return strings.Join(searchWords(text), " ")
}

// pgTextQuery turns user text into a PostgreSQL tsquery: each whitespace-
// separated word is a phrase of its letter-and-digit runs, and all must
// match. Lexemes are quoted, so no tsquery syntax is interpreted.
func pgTextQuery(text string) string {
	var parts []string
	for _, w := range strings.Fields(text) {
		ws := searchWords(w)
		if len(ws) == 0 {
			continue
		}
		for i, x := range ws {
			ws[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), "'", "''") + "'"
		}
		parts = append(parts, "("+strings.Join(ws, " <-> ")+")")
		if len(parts) == 16 {
			break
		}
	}
	return strings.Join(parts, " & ")
}

// indexHint matches SQLite's index hints.
var indexHint = regexp.MustCompile(`\s+INDEXED BY \w+`)

// portable returns query for the store's engine: on PostgreSQL without
// SQLite's index hints (its planner takes none; the rest of the SQL is the
// same on both).
func (s *Store) portable(query string) string {
	if s.db.Engine == store.Postgres {
		return indexHint.ReplaceAllString(query, "")
	}
	return query
}
