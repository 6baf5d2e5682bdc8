package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
)

// The text index holds, besides the words of an entry (searchText), one
// token per filter value of the entry: facetMark, a letter naming the filter
// and the value in hex. unicode61 keeps such a token whole (private-use
// characters, letters and digits are all token characters), and ftsQuery
// turns private-use characters typed by a user into separators, so no search
// can produce a facet token. A text search with filters adds the filters'
// tokens to its FTS5 query and the text index intersects them itself
// (issue 11 §2).
//
// This file holds the SQLite-specific SQL of the text index: which table a
// query reads, how an entry is indexed, and the backfill of migration 0011.

// facetMark starts every facet token (U+E000, private use).
const facetMark = '\uE000'

// facet letters name the filter a token stands for.
const (
	facetActor       = 'a'
	facetAction      = 'c'
	facetOutcome     = 'o'
	facetCorrelation = 'b'
	facetServer      = 's'
)

// facetToken is the token of one filter value: a case-insensitive filter
// (actor) passes the value folded as SQLite's NOCASE folds it (ASCII).
func facetToken(kind rune, value string) string {
	return string(facetMark) + string(kind) + hex.EncodeToString([]byte(value))
}

// asciiLower folds A–Z only, as COLLATE NOCASE does.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// entryFacets returns the facet tokens of an entry, one line.
func entryFacets(e *Entry) string {
	var toks []string
	add := func(kind rune, v string) {
		if v != "" {
			toks = append(toks, facetToken(kind, v))
		}
	}
	add(facetActor, asciiLower(e.Actor.Name))
	add(facetAction, e.Action)
	add(facetOutcome, string(e.Outcome))
	add(facetCorrelation, e.CorrelationID)
	for _, k := range serverKeys(e.Targets) {
		add(facetServer, k)
	}
	return strings.Join(toks, " ")
}

// filterFacets returns the FTS5 terms (ANDed) of f's equality filters, or "".
// Every entry a filter selects holds the filter's token, so adding the terms
// never drops a match; the filters are still checked on each row.
func filterFacets(f Filter) string {
	return strings.Join(facetTerms(f), " AND ")
}

// facetTerms returns the quoted FTS5 terms of filterFacets.
func facetTerms(f Filter) []string {
	var terms []string
	add := func(kind rune, v string) {
		if v != "" {
			terms = append(terms, `"`+facetToken(kind, v)+`"`)
		}
	}
	add(facetActor, asciiLower(strings.TrimSpace(f.Actor)))
	add(facetAction, strings.TrimSpace(f.Action))
	add(facetOutcome, f.Outcome)
	add(facetCorrelation, strings.TrimSpace(f.Correlation))
	add(facetServer, serverKey(f.Server))
	return terms
}

// isFacetRune reports characters ftsQuery never passes through.
func isFacetRune(r rune) bool { return unicode.Is(unicode.Co, r) }

// Search index states (Store.search).
const (
	searchUnknown   int32 = iota // not read yet
	searchBackfill               // audit_search_v2 incomplete: read audit_search, write both
	searchReady                  // complete when this process started: read and write audit_search_v2 only
	searchCompleted              // completed while this process ran: read audit_search_v2, write both
)

// Text index tables.
const (
	searchTable       = "audit_search_v2" // words and facet tokens
	legacySearchTable = "audit_search"    // words only (before migration 0011)
)

// searchState returns the state of the text index, reading it once.
func (s *Store) searchState(ctx context.Context) (int32, error) {
	if st := s.search.Load(); st != searchUnknown {
		return st, nil
	}
	s.searchOnce.Lock()
	defer s.searchOnce.Unlock()
	if st := s.search.Load(); st != searchUnknown {
		return st, nil
	}
	var below int64
	err := s.db.Read.GetContext(ctx, &below, `SELECT below FROM audit_search_backfill WHERE id = 1`)
	if errors.Is(err, sql.ErrNoRows) {
		below = 1
	} else if err != nil {
		return searchUnknown, fmt.Errorf("audit: read the state of the text index: %w", err)
	}
	st := searchBackfill
	if below <= 1 {
		st = searchReady
	}
	s.search.Store(st)
	return st, nil
}

// facetsReady reports whether queries can read audit_search_v2. On
// PostgreSQL never: its text index (audit_search, a tsvector) holds the
// words only.
func (s *Store) facetsReady(ctx context.Context) (bool, error) {
	if s.db.Engine == store.Postgres {
		return false, nil
	}
	st, err := s.searchState(ctx)
	return st >= searchReady, err
}

// indexText adds the text index rows of entries just inserted in tx.
func (s *Store) indexText(ctx context.Context, tx *sqlx.Tx, docs []searchDoc) error {
	if s.db.Engine == store.Postgres {
		return insertSearchPostgres(ctx, tx.Tx, docs)
	}
	st, err := s.searchState(ctx)
	if err != nil {
		return err
	}
	if err := s.insertSearch(ctx, tx, searchTable, docs, true); err != nil {
		return err
	}
	if st != searchReady {
		// Readers that saw the index incomplete may still read the old one.
		return s.insertSearch(ctx, tx, legacySearchTable, docs, false)
	}
	return nil
}

func insertSearchSQL(table string) string {
	return `INSERT INTO ` + table + ` (rowid, body) VALUES (?, ?)`
}

func (s *Store) insertSearch(ctx context.Context, tx *sqlx.Tx, table string, docs []searchDoc, facets bool) error {
	stmt, err := s.db.WriteStmt(ctx, tx, insertSearchSQL(table))
	if err != nil {
		return fmt.Errorf("prepare search index: %w", err)
	}
	defer stmt.Close()
	for _, d := range docs {
		body := d.text
		if facets {
			body += d.facets
		}
		if _, err := stmt.ExecContext(ctx, d.id, body); err != nil {
			return fmt.Errorf("index text of entry %d: %w", d.id, err)
		}
	}
	return nil
}

func newSearchDoc(e *Entry) searchDoc {
	return searchDoc{id: e.ID, text: searchText(e), facets: entryFacets(e)}
}

type searchDoc struct {
	id     int64
	text   string // words (searchText)
	facets string // facet tokens (entryFacets)
}

// backfillBatch is how many entries one backfill transaction indexes: small
// enough that an append waiting for the write connection waits little.
var backfillBatch = 500

// BackfillSearch indexes the entries written before migration 0011 into
// audit_search_v2, newest first, a batch per transaction, until none are
// left or ctx ends. It is safe to interrupt: the next run resumes. When it
// finishes, queries use the new index (see searchState).
func (s *Store) BackfillSearch(ctx context.Context) error {
	if s.db.Engine == store.Postgres {
		return nil // one index, which every entry is indexed into (indexText)
	}
	st, err := s.searchState(ctx)
	if err != nil {
		return err
	}
	if st == searchBackfill {
		for {
			done, err := s.backfillOnce(ctx)
			if err != nil {
				return err
			}
			if done {
				s.search.CompareAndSwap(searchBackfill, searchCompleted)
				s.log.InfoContext(ctx, "audit: the text index holds every entry's filter values")
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return s.mergeSearch(ctx)
}

// mergeSteps is how many pages one merge transaction writes at most.
var mergeSteps = 256

// mergeSearch merges the segments the backfill wrote into one, a few
// hundred pages per transaction, once: a search with several terms seeks in
// every segment of each term, so one large segment instead of tens makes
// each seek cheaper. The appends that follow are merged by FTS5 itself as
// usual.
func (s *Store) mergeSearch(ctx context.Context) error {
	var merged bool
	if err := s.db.Read.GetContext(ctx, &merged, `SELECT merged FROM audit_search_backfill WHERE id = 1`); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return fmt.Errorf("audit: merge text index: %w", err)
	}
	if merged {
		return nil
	}
	// The first step gathers every segment into one level (a negative
	// page count); later steps continue that merge (positive).
	for n := -mergeSteps; ; n = mergeSteps {
		worked, err := s.mergeOnce(ctx, n)
		if err != nil {
			return err
		}
		if !worked {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if _, err := s.db.Write.ExecContext(ctx, `UPDATE audit_search_backfill SET merged = 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("audit: merge text index: %w", err)
	}
	return nil
}

// mergeOnce runs one FTS5 merge step; FTS5 reports a step that did work by
// two or more changes.
func (s *Store) mergeOnce(ctx context.Context, pages int) (bool, error) {
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("audit: merge text index: %w", err)
	}
	defer tx.Rollback()
	var before, after int64
	if err := tx.GetContext(ctx, &before, `SELECT total_changes()`); err != nil {
		return false, fmt.Errorf("audit: merge text index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+searchTable+` (`+searchTable+`, rank) VALUES ('merge', ?)`, pages); err != nil {
		return false, fmt.Errorf("audit: merge text index: %w", err)
	}
	if err := tx.GetContext(ctx, &after, `SELECT total_changes()`); err != nil {
		return false, fmt.Errorf("audit: merge text index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("audit: merge text index: %w", err)
	}
	return after-before >= 2, nil
}

func (s *Store) backfillOnce(ctx context.Context) (done bool, err error) {
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("audit: backfill text index: %w", err)
	}
	defer tx.Rollback()
	var below int64
	if err := tx.GetContext(ctx, &below, `SELECT below FROM audit_search_backfill WHERE id = 1`); err != nil {
		return false, fmt.Errorf("audit: backfill text index: %w", err)
	}
	if below <= 1 {
		return true, nil
	}
	lo := max(below-int64(backfillBatch), 1)
	var rows []row
	if err := tx.SelectContext(ctx, &rows, `SELECT `+columns+` FROM audit_entries WHERE id >= ? AND id < ? ORDER BY id`, lo, below); err != nil {
		return false, fmt.Errorf("audit: backfill text index: read entries: %w", err)
	}
	docs := make([]searchDoc, 0, len(rows))
	for i := range rows {
		e, err := rows[i].toEntry()
		if err != nil {
			return false, fmt.Errorf("audit: backfill text index: %w", err)
		}
		docs = append(docs, newSearchDoc(e))
	}
	if err := s.insertSearch(ctx, tx, searchTable, docs, true); err != nil {
		return false, fmt.Errorf("audit: backfill text index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_search_backfill SET below = ? WHERE id = 1`, lo); err != nil {
		return false, fmt.Errorf("audit: backfill text index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("audit: backfill text index: %w", err)
	}
	return lo <= 1, nil
}

// A text search whose FTS5 query has several terms (words and the filters'
// tokens) is planned here (issue 11 §2). FTS5 intersects the terms of an AND
// by leapfrogging through their doclists, and applies a rowid range only to
// what the intersection yields: when the terms have few entries in common,
// a query walks on through the doclists to the next entry they share outside
// the range, to the end of the log in the worst case; and it walks about
// twice as fast oldest first as newest first (the order of a page). So:
//
//   - In a short range of ids (a time range of a day or so), each term's ids
//     in the range are read on their own (a single term stops at the end of
//     the range: a few thousand ids at most) and intersected here.
//   - Otherwise the intersection is first read oldest first, up to
//     sparseProbe ids: when it holds no more, that is the whole answer, found
//     at half the cost of walking the same doclists newest first. When it
//     holds more, the result is dense enough for the one newest-first query
//     (the caller's) to fill a page soon.
//
// Either way only the page's rows are read from audit_entries, by id, with
// every filter but the text checked on them (the index's filter tokens
// select what the filters select, but the time range is bounded by ids).

// termRange is the widest id range listText reads term by term.
var termRange int64 = 16384

// sparseProbe is how many matches listText reads oldest first before it
// leaves a search to the newest-first query.
var sparseProbe = 256

// listText returns up to limit entries matching f below before, newest
// first, for a query whose text index query intersects several terms; ok is
// false when the caller must run q itself (one query, newest first).
func (s *Store) listText(ctx context.Context, f Filter, q *query, before int64, limit int) (rows []row, ok bool, err error) {
	// The filters' terms first: they are usually rarer than words, and an
	// empty intersection ends the reading.
	var terms []string
	if q.faceted {
		terms = facetTerms(f)
	}
	terms = append(terms, ftsWords(f.Text)...)
	if len(terms) < 2 {
		return nil, false, nil
	}
	var top sql.NullInt64
	if err := s.db.Read.GetContext(ctx, &top, `SELECT max(id) FROM audit_entries`); err != nil {
		return nil, false, fmt.Errorf("audit: list entries: %w", err)
	}
	lo, hi := max(q.lo, 1), min(q.upper(before), top.Int64+1)
	if hi <= lo {
		return nil, true, nil
	}
	var ids []int64
	if hi-lo <= termRange && singleTokens(terms) {
		if ids, err = s.intersectTerms(ctx, q.table, terms, lo, hi); err != nil {
			return nil, false, err
		}
	} else {
		if err := s.db.Read.SelectContext(ctx, &ids, `SELECT rowid FROM `+q.table+` WHERE `+q.table+` MATCH ?
			AND rowid >= ? AND rowid < ? ORDER BY rowid LIMIT ?`, q.match, lo, hi, sparseProbe+1); err != nil {
			return nil, false, fmt.Errorf("audit: list entries: search text: %w", err)
		}
		if len(ids) > sparseProbe {
			return nil, false, nil
		}
	}
	if len(ids) == 0 {
		return nil, true, nil
	}
	rq, err := s.compilePlan(ctx, f, plan{noText: true, driver: "entries"})
	if err != nil {
		return nil, false, err
	}
	slices.Reverse(ids)
	for len(ids) > 0 && len(rows) < limit {
		n := min(len(ids), limit-len(rows))
		got, err := s.rowsByID(ctx, rq, ids[:n])
		if err != nil {
			return nil, false, err
		}
		rows = append(rows, got...)
		ids = ids[n:]
	}
	return rows, true, nil
}

// singleTokens reports whether every term is one token: a word the
// tokenizer splits in several (gpu-node-07) is a phrase, which like an AND
// may walk past a range.
func singleTokens(terms []string) bool {
	for _, t := range terms {
		if strings.ContainsFunc(strings.Trim(t, `"`), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && r != facetMark
		}) {
			return false
		}
	}
	return true
}

// intersectTerms returns, ascending, the ids in [lo, hi) that every term
// matches, reading each term's ids on its own.
func (s *Store) intersectTerms(ctx context.Context, table string, terms []string, lo, hi int64) ([]int64, error) {
	idsSQL := `SELECT rowid FROM ` + table + ` WHERE ` + table + ` MATCH ? AND rowid >= ? AND rowid < ? ORDER BY rowid`
	var ids []int64
	for i, t := range terms {
		var got []int64
		if err := s.db.Read.SelectContext(ctx, &got, idsSQL, t, lo, hi); err != nil {
			return nil, fmt.Errorf("audit: list entries: search text: %w", err)
		}
		if i == 0 {
			ids = got
		} else {
			ids = intersectSorted(ids, got)
		}
		if len(ids) == 0 {
			break
		}
	}
	return ids, nil
}

// intersectSorted returns the ids in both ascending lists, reusing a.
func intersectSorted(a, b []int64) []int64 {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// rowsByID returns the entries among ids that pass rq's filters, newest
// first.
func (s *Store) rowsByID(ctx context.Context, rq *query, ids []int64) ([]row, error) {
	marks := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	args := append([]any(nil), rq.args...)
	for _, id := range ids {
		args = append(args, id)
	}
	var rows []row
	if err := s.db.Read.SelectContext(ctx, &rows, rq.sql(rq.idCol+" IN ("+marks+")", "DESC", 0), args...); err != nil {
		return nil, fmt.Errorf("audit: list entries: %w", err)
	}
	return rows, nil
}

// insertSearchPostgres indexes docs in PostgreSQL's audit_search: a tsvector
// of the entry's words (pgWords), no filter tokens.
func insertSearchPostgres(ctx context.Context, tx *sql.Tx, docs []searchDoc) error {
	// An entry indexed again (indexed_to set back by hand) keeps its row:
	// indexing stays idempotent, as the server index's is.
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+legacySearchTable+` (rowid, body) VALUES (?, to_tsvector('console_search', ?))
		ON CONFLICT (rowid) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("prepare search index: %w", err)
	}
	defer stmt.Close()
	for _, d := range docs {
		if _, err := stmt.ExecContext(ctx, d.id, pgWords(d.text)); err != nil {
			return fmt.Errorf("index text of entry %d: %w", d.id, err)
		}
	}
	return nil
}
