package audit

import (
	"context"
	"fmt"

	"github.com/devserver-console/console/internal/store"
)

// RebuildSearch fills the free-text index (audit_search) from the entries,
// in one transaction, after the log was copied from another database
// (console migrate-store): an index cannot be copied between engines, each
// keeping it its own way. The index must be empty. It indexes the entries
// up to indexed_to (the rest are indexed by the next catch-up, as in the
// source) and returns how many.
func (s *Store) RebuildSearch(ctx context.Context) (int, error) {
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("audit: rebuild search index: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	empty := `SELECT count(*) FROM audit_search`
	if s.db.Engine == store.SQLite {
		// FTS5's contentless tables cannot be scanned; their segment
		// tables hold a row once anything was indexed.
		empty = `SELECT (SELECT count(*) FROM audit_search_idx) + (SELECT count(*) FROM audit_search_v2_idx)`
	}
	var n int
	if err := tx.GetContext(ctx, &n, empty); err != nil {
		return 0, fmt.Errorf("audit: rebuild search index: %w", err)
	}
	if n > 0 {
		return 0, fmt.Errorf("audit: rebuild search index: it holds %d entries already", n)
	}
	// Entries above indexed_to were not indexed in the source either: the
	// index catch-up (index.go) takes them, with their server keys.
	var to int64
	if err := tx.GetContext(ctx, &to, `SELECT coalesce((SELECT indexed_to FROM audit_index_state WHERE id = 1), 0)`); err != nil {
		return 0, fmt.Errorf("audit: rebuild search index: read indexed_to: %w", err)
	}
	const page = 1000
	var after int64
	done := 0
	for {
		var rows []row
		if err := tx.SelectContext(ctx, &rows, `SELECT `+columns+` FROM audit_entries WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`, after, to, page); err != nil {
			return done, fmt.Errorf("audit: rebuild search index: read entries: %w", err)
		}
		docs := make([]searchDoc, 0, len(rows))
		for i := range rows {
			e, err := rows[i].toEntry()
			if err != nil {
				return done, fmt.Errorf("audit: rebuild search index: entry %d: %w", rows[i].ID, err)
			}
			docs = append(docs, newSearchDoc(e))
			after = rows[i].ID
		}
		if err := s.indexText(ctx, tx, docs); err != nil {
			return done, fmt.Errorf("audit: rebuild search index: %w", err)
		}
		done += len(docs)
		if len(rows) < page {
			break
		}
	}
	if err := tx.Commit(); err != nil {
		return done, fmt.Errorf("audit: rebuild search index: commit: %w", err)
	}
	return done, nil
}
