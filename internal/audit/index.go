package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
)

// The audit log's search indexes, the server index (audit_entry_servers)
// and the text index, are written right after the entries they index, in
// a transaction of their own, rather than in the entries' transaction: an
// entry naming 50 servers adds 100 server keys and a hundred words, and
// those land on as many scattered index pages, which made every commit of
// a batch chunk write hundreds of pages before the call could be sent
// (issue 11 §3). The entries stay the record; the indexes are how they are
// found.
//
// audit_index_state.indexed_to says how far the indexes reach: every entry
// with an id up to it is indexed, none above it. An append wakes the
// indexer (RunIndexer), and every query that searches the indexes (text or
// server filter) first indexes whatever is left (awaitIndex), so a search
// never misses an entry appended before it began, in this process or in
// another (a replica, the CLI). A crash between an entry and its indexing
// leaves the entry unindexed until the next catch-up; verification checks
// the server index up to indexed_to.

// indexBatch bounds how many entries one index transaction covers: a
// 50-server entry adds about a hundred server keys and as many words, so
// eight hold the write connection for a few milliseconds, and appends
// waiting for it (a batch's next commit) get it between two transactions.
const indexBatch = 8

// indexIdle is how often RunIndexer looks for entries nobody indexed (a
// replica that stopped right after appending) when no append wakes it.
const indexIdle = 30 * time.Second

// indexDelay is how long RunIndexer lets appends gather after one wakes
// it, so that it indexes them together rather than after every commit: a
// batch's chunks name the same servers, so indexed together their keys
// share the index pages, and fewer commits take the write connection
// while the batch wants it. Searches do not wait for it (awaitIndex
// indexes what is left itself).
const indexDelay = 250 * time.Millisecond

// kickIndexer wakes RunIndexer; it never blocks.
func (s *Store) kickIndexer() {
	select {
	case s.indexKick <- struct{}{}:
	default:
	}
}

// RunIndexer indexes new entries as they are appended, until ctx ends.
// Without it the indexes are still complete for every query (awaitIndex),
// but the first search after appends pays for their indexing.
func (s *Store) RunIndexer(ctx context.Context) {
	t := time.NewTicker(indexIdle)
	defer t.Stop()
	for {
		if err := s.indexTail(ctx, indexBatch); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "audit: the search indexes could not take the newest entries; searches retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.indexKick:
			gather := time.NewTimer(indexDelay)
			select {
			case <-ctx.Done():
				gather.Stop()
				return
			case <-gather.C:
			}
		case <-t.C:
		}
	}
}

// IndexNow brings the search indexes up to every entry committed so far,
// without waiting for RunIndexer (which may be gathering appends).
func (s *Store) IndexNow(ctx context.Context) error { return s.awaitIndex(ctx) }

// awaitIndex makes the search indexes reach every entry committed before
// it was called, indexing them itself if the indexer has not yet.
func (s *Store) awaitIndex(ctx context.Context) error {
	if err := s.indexTail(ctx, indexBatch); err != nil {
		return fmt.Errorf("audit: bring the search indexes up to date: %w", err)
	}
	return nil
}

// indexBehind reports whether some entry is above indexed_to (a read, no
// write lock).
func (s *Store) indexBehind(ctx context.Context) (bool, error) {
	var behind bool
	err := s.db.Read.GetContext(ctx, &behind, `SELECT coalesce((SELECT max(id) FROM audit_entries), 0) >
		coalesce((SELECT indexed_to FROM audit_index_state WHERE id = 1), 0)`)
	if err != nil {
		return false, fmt.Errorf("read the state of the search indexes: %w", err)
	}
	return behind, nil
}

// indexTail indexes every entry above indexed_to, per entries per
// transaction.
func (s *Store) indexTail(ctx context.Context, per int) error {
	behind, err := s.indexBehind(ctx)
	if err != nil || !behind {
		return err
	}
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	// No connection is held here, so preparing cannot wait on itself.
	if err := s.db.PrepareWrite(ctx, indexSQL...); err != nil {
		s.log.WarnContext(ctx, "audit: index statements not prepared ahead", "err", err)
	}
	for {
		n, err := s.indexOnce(ctx, per)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// indexRow is what indexing reads of an entry: what searchText and
// entryFacets use, and a response body only where searchText reads it (an
// error answer), so a 50-server answer is not read back to be skipped.
type indexRow struct {
	ID            int64  `db:"id"`
	Kind          string `db:"kind"`
	ActorName     string `db:"actor_name"`
	CorrelationID string `db:"correlation_id"`
	Action        string `db:"action"`
	Targets       string `db:"targets"`
	Detail        string `db:"detail"`
	Status        int64  `db:"status"`
	ResponseBody  []byte `db:"response_body"`
	RequestID     string `db:"request_id"`
	Error         string `db:"error"`
	Outcome       string `db:"outcome"`
}

const indexRowsSQL = `SELECT id, kind, actor_name, correlation_id, action, targets, detail, status,
	CASE WHEN kind = ? AND (status < 200 OR status > 299) THEN response_body END AS response_body,
	request_id, error, outcome
	FROM audit_entries WHERE id > ? ORDER BY id LIMIT ?`

func (r *indexRow) entry() (*Entry, error) {
	e := &Entry{
		ID: r.ID, Kind: EventKind(r.Kind), Actor: Actor{Name: r.ActorName}, CorrelationID: r.CorrelationID,
		Action: r.Action, Status: int(r.Status), ResponseBody: r.ResponseBody, RequestID: r.RequestID,
		Error: r.Error, Outcome: Outcome(r.Outcome),
	}
	if err := json.Unmarshal([]byte(r.Targets), &e.Targets); err != nil {
		return nil, fmt.Errorf("entry %d: targets: %w", r.ID, err)
	}
	if r.Detail != "{}" {
		if err := json.Unmarshal([]byte(r.Detail), &e.Detail); err != nil {
			return nil, fmt.Errorf("entry %d: detail: %w", r.ID, err)
		}
	}
	return e, nil
}

// indexOnce indexes up to per entries above indexed_to and moves
// indexed_to past them; it returns how many (0: none left). The entries
// are read and their keys and words worked out before the write
// transaction, which then only writes, so appends wait for it as little
// as possible.
func (s *Store) indexOnce(ctx context.Context, per int) (int, error) {
	ctx = context.WithoutCancel(ctx) // a started transaction is finished: it is short
	from, err := s.indexedTo(ctx, s.db.Read)
	if err != nil {
		return 0, err
	}
	var rows []indexRow
	if err := s.db.Read.SelectContext(ctx, &rows, indexRowsSQL, string(KindResponse), from, per); err != nil {
		return 0, fmt.Errorf("index entries: read the entries after %d: %w", from, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	type keyed struct {
		id   int64
		keys []string
	}
	keys := make([]keyed, 0, len(rows))
	docs := make([]searchDoc, 0, len(rows))
	for i := range rows {
		e, err := rows[i].entry()
		if err != nil {
			return 0, fmt.Errorf("index entries: %w", err)
		}
		keys = append(keys, keyed{e.ID, serverKeys(e.Targets)})
		docs = append(docs, newSearchDoc(e))
	}
	last := rows[len(rows)-1].ID
	moved := false
	err = s.db.WriteTx(ctx, func(tx *sqlx.Tx) error {
		// Across replicas (and processes) one indexer at a time; if another
		// moved indexed_to since it was read, this one starts over.
		if err := s.db.LockXact(ctx, tx, store.LockAuditIndex); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		to, err := s.indexedTo(ctx, tx)
		if err != nil {
			return err
		}
		if to != from {
			moved = true
			return nil
		}
		srv, err := s.db.WriteStmt(ctx, tx, indexServerSQL)
		if err != nil {
			return err
		}
		defer srv.Close()
		for _, k := range keys {
			for _, key := range k.keys {
				if _, err := srv.ExecContext(ctx, key, k.id); err != nil {
					return fmt.Errorf("servers of entry %d: %w", k.id, err)
				}
			}
		}
		if err := s.indexText(ctx, tx, docs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_index_state (id, indexed_to) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET indexed_to = excluded.indexed_to`, last); err != nil {
			return fmt.Errorf("move indexed_to to %d: %w", last, err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("index entries: %w", err)
	}
	if moved {
		return -1, nil // not 0: look again
	}
	return len(rows), nil
}

// indexedTo reads how far the indexes reach.
func (s *Store) indexedTo(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var to int64
	if err := sqlx.GetContext(ctx, q, &to, `SELECT coalesce((SELECT indexed_to FROM audit_index_state WHERE id = 1), 0)`); err != nil {
		return 0, fmt.Errorf("read how far the search indexes reach: %w", err)
	}
	return to, nil
}
