package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
)

// maxBatch bounds how many appends one group commit takes.
const maxBatch = 512

// appendReq is one caller's appends waiting for a group commit.
type appendReq struct {
	entries []*Entry
	// with runs the caller's own statements in the transaction that commits
	// entries (nil: none); see TxFunc.
	with TxFunc
	done chan error
}

// callerError is a caller's TxFunc failing: its transaction was rolled back
// but the audit log itself is fine.
type callerError struct{ err error }

func (e *callerError) Error() string { return "audit: append: caller's records: " + e.err.Error() }
func (e *callerError) Unwrap() error { return e.err }

// TxFunc runs a caller's own statements inside the write transaction that
// commits its audit entries, so both are stored or neither is. It must use
// only tx (the database has one writer connection), must not touch the audit
// tables, and may run more than once: if a group commit fails, each append is
// retried alone in a fresh transaction.
type TxFunc func(ctx context.Context, tx *sqlx.Tx) error

// errLeader tells a waiting caller that it now leads the next group commit.
var errLeader = errors.New("audit: lead the next commit")

// append durably stores entries, in order, as one unit: it returns after the
// transaction holding them has committed (synchronous=FULL), or with an
// error, in which case none of them was stored.
//
// Appends from concurrent goroutines are group-committed: one caller (the
// leader) takes every append queued so far and commits them in a single
// BEGIN IMMEDIATE transaction on the database's one writer connection, then
// hands leadership to the next waiting caller. Entries are never lost or
// reordered and no caller sees SQLITE_BUSY from a sibling; throughput rises
// with the number of writers because one fsync covers many entries.
//
// Once queued, an append is not abandoned when ctx is cancelled: a request
// entry that was committed must be answered by a response entry.
func (s *Store) append(ctx context.Context, entries ...*Entry) error {
	return s.appendWith(ctx, nil, entries...)
}

// appendWith is append with the caller's statements with committed in the
// same transaction as entries.
func (s *Store) appendWith(ctx context.Context, with TxFunc, entries ...*Entry) (err error) {
	if s.ObserveAppend != nil && len(entries) > 0 {
		start := time.Now()
		defer func() { s.ObserveAppend(entries[0].Kind, time.Since(start), err) }()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	req := &appendReq{entries: entries, with: with, done: make(chan error, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, req)
	if s.leading {
		s.mu.Unlock()
		if err := <-req.done; !errors.Is(err, errLeader) {
			return err
		}
	} else {
		s.leading = true
		s.mu.Unlock()
	}

	// Leader: req is at the head of the queue.
	s.mu.Lock()
	n := min(len(s.queue), maxBatch)
	batch := s.queue[:n:n]
	s.queue = s.queue[n:]
	s.mu.Unlock()

	errs := s.commitReqs(context.WithoutCancel(ctx), batch)
	for i, r := range batch[1:] {
		r.done <- errs[i+1]
	}

	s.mu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		s.mu.Unlock()
		next.done <- errLeader
	} else {
		s.queue = nil
		s.leading = false
		s.mu.Unlock()
	}
	return errs[0]
}

// commitReqs commits every request's entries in one transaction. If that
// fails and there was more than one request, each is retried alone so one bad
// append cannot fail its neighbours.
func (s *Store) commitReqs(ctx context.Context, batch []*appendReq) []error {
	errs := make([]error, len(batch))
	err := s.commitEntries(ctx, batch)
	if err == nil || len(batch) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	s.log.WarnContext(ctx, "audit: group commit failed; retrying appends one by one", "appends", len(batch), "err", err)
	for i, r := range batch {
		errs[i] = s.commitEntries(ctx, []*appendReq{r})
	}
	return errs
}

// commitEntries appends the entries of reqs, in order, and runs their
// callers' statements, in one write transaction.
func (s *Store) commitEntries(ctx context.Context, reqs []*appendReq) error {
	var entries []*Entry
	for _, r := range reqs {
		entries = append(entries, r.entries...)
	}
	// The leader holds no connection yet, so preparing (once) cannot wait
	// on itself; if it fails, insertTx prepares in the transaction.
	if err := s.db.PrepareWrite(ctx, appendSQL...); err != nil {
		s.log.WarnContext(ctx, "audit: append: statements not prepared ahead", "err", err)
	}
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: append: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	switchID, err := s.insertTx(ctx, tx, entries)
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	// The callers' statements run after the chain is extended: they never
	// touch audit_entries, so the chain head read by insertTx stays the head.
	for _, r := range reqs {
		if r.with == nil {
			continue
		}
		if err := r.with(ctx, tx); err != nil {
			return &callerError{err: err}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: append: commit: %w", err)
	}
	s.kickIndexer()
	if switchID != 0 {
		s.keyedFrom.Store(switchID)
		s.log.InfoContext(ctx, "audit: the audit log is now chained under the audit key", "entry", switchID)
	}
	return nil
}

const insertEntrySQL = `INSERT INTO audit_entries (created_at, kind, actor_id, actor_name, actor_role,
	client_ip, user_agent, correlation_id, action, targets, detail, method, url, request_headers,
	request_body, status, response_headers, response_body, request_id, duration_ms, error, outcome,
	ref_id, project, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id`

const (
	chainHeadSQL   = `SELECT hash, created_at FROM audit_entries ORDER BY id DESC LIMIT 1`
	indexServerSQL = `INSERT INTO audit_entry_servers (server_key, entry_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
)

// appendSQL are the statements every append runs, and indexSQL those of
// indexing, prepared once (store.DB.PrepareWrite): compiling them for
// every entry cost more than running them.
var (
	appendSQL = []string{chainHeadSQL, insertEntrySQL}
	indexSQL  = []string{indexServerSQL, insertSearchSQL(searchTable)}
)

// insertTx chains and inserts entries inside tx: it reads the last entry's
// hash and time in the same transaction, so the chain cannot fork. Entry
// times never go backwards: an entry is stamped no earlier than the last one.
// An outcome_unknown entry whose request already has an answer is skipped
// and left with ID 0.
//
// With an audit key, entries are hashed with HMAC-SHA256 under it; the first
// keyed append to a log that has no keyed part yet writes the switch entry
// (EventChainKeyed) first and returns its id. Without a key, appending to a
// keyed log fails with ErrNoKey rather than mixing plain entries into it.
func (s *Store) insertTx(ctx context.Context, tx *sqlx.Tx, entries []*Entry) (switchID int64, err error) {
	// Across replicas (PostgreSQL), one append transaction at a time reads
	// the chain's state and links to its head; on SQLite this transaction
	// holds the write lock already.
	if err := s.db.LockXact(ctx, tx, store.LockAuditChain); err != nil {
		return 0, fmt.Errorf("lock the chain: %w", err)
	}
	key, keyID := s.currentKey()
	if s.keyedFrom.Load() == 0 {
		sw, err := switchIn(ctx, tx)
		if err != nil {
			return 0, err
		}
		if sw != nil {
			if key != nil && sw.keyID != keyID {
				return 0, fmt.Errorf("%w (entries from #%d use key %s)", ErrWrongKey, sw.id, sw.keyID)
			}
			s.keyedFrom.Store(sw.id)
		}
	}
	var sw *Entry
	switch {
	case s.keyedFrom.Load() != 0 && key == nil:
		return 0, ErrNoKey
	case s.keyedFrom.Load() == 0 && key != nil:
		sw = switchEntry(keyID)
		entries = append([]*Entry{sw}, entries...)
	}
	prev, lastAt := GenesisHash, ""
	head, err := s.db.WriteStmt(ctx, tx, chainHeadSQL)
	if err != nil {
		return 0, fmt.Errorf("read chain head: %w", err)
	}
	defer head.Close()
	err = head.QueryRowContext(ctx).Scan(&prev, &lastAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read chain head: %w", err)
	}
	defer func() {
		if err == nil && sw != nil {
			switchID = sw.ID
		}
	}()
	ins, err := s.db.WriteStmt(ctx, tx, insertEntrySQL)
	if err != nil {
		return 0, fmt.Errorf("prepare insert: %w", err)
	}
	defer ins.Close()
	now := s.Now().UTC()
	for _, e := range entries {
		if e.ref != nil {
			e.RefID = e.ref.ID
		}
		if e.Kind == KindOutcomeUnknown {
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM audit_entries WHERE ref_id = ? AND ref_id <> 0`, e.RefID); err != nil {
				return 0, fmt.Errorf("check answer of request %d: %w", e.RefID, err)
			}
			if n > 0 {
				e.ID = 0
				continue
			}
		}
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		r, err := toRow(e)
		if err != nil {
			return 0, err
		}
		if r.CreatedAt < lastAt {
			r.CreatedAt = lastAt
			e.CreatedAt, _ = time.Parse(timeLayout, lastAt)
		}
		if s.db.Engine == store.Postgres {
			validUTF8(r)
		}
		r.PrevHash = prev
		if key != nil {
			r.Hash = keyedHash(key, prev, r)
		} else {
			r.Hash = chainHash(prev, r)
		}
		var id int64
		err = ins.QueryRowContext(ctx, r.CreatedAt, r.Kind, r.ActorID, r.ActorName, r.ActorRole,
			r.ClientIP, r.UserAgent, r.CorrelationID, r.Action, r.Targets, r.Detail, r.Method, r.URL,
			r.RequestHeaders, r.RequestBody, r.Status, r.ResponseHeaders, r.ResponseBody, r.RequestID,
			r.DurationMS, r.Error, r.Outcome, r.RefID, r.Project, r.PrevHash, r.Hash).Scan(&id)
		if err != nil {
			return 0, fmt.Errorf("insert %s entry: %w", e.Kind, err)
		}
		e.ID, e.PrevHash, e.Hash = id, r.PrevHash, r.Hash
		prev, lastAt = r.Hash, r.CreatedAt
	}
	// The search indexes are written by indexTail after this commits.
	return 0, nil
}

// serverKeys returns the distinct keys an entry is found under by the server
// filter: each target's id and name, lower-cased.
func serverKeys(ts []Target) []string {
	var keys []string
	seen := map[string]bool{}
	for _, t := range ts {
		for _, k := range []string{t.ID, t.Name} {
			k = serverKey(k)
			if k != "" && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

func serverKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// searchText is what the free-text filter matches for an entry: names (actor,
// targets), ids, action, error messages (the transport error and the API's
// error_code/error_msg) and event details.
func searchText(e *Entry) string {
	var b strings.Builder
	add := func(s string) {
		if s != "" {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	add(e.Actor.Name)
	add(e.Action)
	add(e.CorrelationID)
	add(e.RequestID)
	for _, t := range e.Targets {
		add(t.ID)
		add(t.Name)
	}
	add(e.Error)
	for _, k := range sortedDetailKeys(e.Detail) {
		add(e.Detail[k])
	}
	if e.Kind == KindResponse && (e.Status < 200 || e.Status > 299) && len(e.ResponseBody) > 0 && e.ResponseBody[0] == '{' {
		var apiErr map[string]any
		if json.Unmarshal(e.ResponseBody, &apiErr) == nil {
			for _, k := range []string{"error_code", "error_msg", "code", "message"} {
				if v, ok := apiErr[k].(string); ok {
					add(v)
				}
			}
		}
	}
	return b.String()
}

// validUTF8 replaces the bytes of r's text columns that are not UTF-8 (a
// user name tried at sign-in can be anything) with U+FFFD, before r is
// hashed: PostgreSQL's text refuses them, and an entry must never fail to
// be recorded for what an anonymous client sent. (SQLite keeps the bytes;
// bodies are bytes on both.)
func validUTF8(r *row) {
	for _, f := range []*string{&r.Kind, &r.ActorName, &r.ActorRole, &r.ClientIP, &r.UserAgent, &r.CorrelationID,
		&r.Action, &r.Targets, &r.Detail, &r.Method, &r.URL, &r.RequestHeaders, &r.ResponseHeaders,
		&r.RequestID, &r.Error, &r.Outcome} {
		*f = strings.ToValidUTF8(*f, "\uFFFD")
	}
}
