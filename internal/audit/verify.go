package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// VerifyResult is the outcome of walking the hash chain.
type VerifyResult struct {
	OK          bool
	Entries     int64  // entries found intact, in id order, before any break
	FirstBroken int64  // id of the first entry that fails (0 when OK, or when only the server index is wrong)
	Reason      string // why it failed, in words; empty when OK
	At          time.Time
	HeadID      int64  // last entry covered when OK
	HeadHash    string // its hash: keep it elsewhere to detect a rewritten log later
	Duration    time.Duration
}

// Verify walks the whole chain in id order inside one read snapshot and
// checks, for every entry, that prev_hash is the previous entry's hash and
// that hash is the SHA-256 of prev_hash and the entry's canonical content. It
// also checks that the log still reaches the head recorded by the last good
// verification (a cut-off tail) and that the server index matches the
// entries' targets. The result is recorded in audit_verifications and
// returned; err is only for failures to read or record.
func (s *Store) Verify(ctx context.Context) (VerifyResult, error) {
	start := time.Now()
	res, err := s.verify(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	res.At = s.Now().UTC()
	res.Duration = time.Since(start)
	ok := 0
	if res.OK {
		ok = 1
	}
	_, err = s.db.Write.ExecContext(ctx, `INSERT INTO audit_verifications
		(verified_at, ok, entries, first_broken, reason, head_id, head_hash, duration_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		res.At.Format(timeLayout), ok, res.Entries, res.FirstBroken, res.Reason, res.HeadID, res.HeadHash, res.Duration.Milliseconds())
	if err != nil {
		return res, fmt.Errorf("audit: record verification: %w", err)
	}
	if !res.OK {
		s.log.ErrorContext(ctx, "audit: chain verification failed", "first_broken", res.FirstBroken, "reason", res.Reason)
	}
	return res, nil
}

func (s *Store) verify(ctx context.Context) (VerifyResult, error) {
	var res VerifyResult
	tx, err := s.db.Read.BeginTxx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("audit: verify: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only

	// The last good verification's head, if any.
	var anchor struct {
		At   string `db:"verified_at"`
		ID   int64  `db:"head_id"`
		Hash string `db:"head_hash"`
	}
	err = tx.GetContext(ctx, &anchor, `SELECT verified_at, head_id, head_hash FROM audit_verifications
		WHERE ok = 1 AND head_id > 0 ORDER BY id DESC LIMIT 1`)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, fmt.Errorf("audit: verify: read last verification: %w", err)
	}

	rows, err := tx.QueryxContext(ctx, `SELECT `+columns+` FROM audit_entries ORDER BY id`)
	if err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	prev, prevID := GenesisHash, int64(0)
	var serverSum uint64
	var serverCount int64
	var r row
	for rows.Next() {
		if err := rows.StructScan(&r); err != nil {
			return res, fmt.Errorf("audit: verify: read entry after %d: %w", prevID, err)
		}
		if r.PrevHash != prev {
			res.FirstBroken = r.ID
			if prevID == 0 {
				res.Reason = fmt.Sprintf("entry %d is the first entry but its prev_hash is not the genesis hash: earlier entries were removed", r.ID)
			} else {
				res.Reason = fmt.Sprintf("entry %d does not follow entry %d (prev_hash differs from entry %d's hash): an entry was removed, inserted or reordered", r.ID, prevID, prevID)
			}
			return res, nil
		}
		if h := chainHash(r.PrevHash, &r); h != r.Hash {
			res.FirstBroken = r.ID
			res.Reason = fmt.Sprintf("entry %d's content does not match its hash: it was edited after it was written", r.ID)
			return res, nil
		}
		if anchor.ID == r.ID && anchor.Hash != r.Hash {
			res.FirstBroken = r.ID
			res.Reason = fmt.Sprintf("entry %d's hash differs from the one recorded by the verification at %s: the chain was rewritten", r.ID, anchor.At)
			return res, nil
		}
		var ts []Target
		if r.Targets != "[]" {
			if err := json.Unmarshal([]byte(r.Targets), &ts); err != nil {
				res.FirstBroken = r.ID
				res.Reason = fmt.Sprintf("entry %d's targets are not valid JSON", r.ID)
				return res, nil
			}
		}
		for _, k := range serverKeys(ts) {
			serverSum += serverKeyDigest(k, r.ID)
			serverCount++
		}
		prev, prevID = r.Hash, r.ID
		res.Entries++
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	if anchor.ID > prevID {
		res.FirstBroken = prevID + 1
		res.Reason = fmt.Sprintf("the log ends at entry %d but the verification at %s covered up to entry %d: entries were removed from the end", prevID, anchor.At, anchor.ID)
		return res, nil
	}

	// The server index must hold exactly the keys of the entries' targets.
	idx, err := tx.QueryContext(ctx, `SELECT server_key, entry_id FROM audit_entry_servers`)
	if err != nil {
		return res, fmt.Errorf("audit: verify server index: %w", err)
	}
	defer idx.Close()
	var gotSum uint64
	var gotCount int64
	for idx.Next() {
		var k string
		var id int64
		if err := idx.Scan(&k, &id); err != nil {
			return res, fmt.Errorf("audit: verify server index: %w", err)
		}
		gotSum += serverKeyDigest(k, id)
		gotCount++
	}
	if err := idx.Err(); err != nil {
		return res, fmt.Errorf("audit: verify server index: %w", err)
	}
	if gotSum != serverSum || gotCount != serverCount {
		res.Reason = fmt.Sprintf("the server index (%d rows) does not match the entries' targets (%d keys): it was altered, so the server filter may hide entries", gotCount, serverCount)
		return res, nil
	}
	res.OK = true
	res.HeadID, res.HeadHash = prevID, prev
	return res, nil
}

// serverKeyDigest is an order-independent fingerprint term of one server
// index row; the index is compared to the entries by the sum of these.
func serverKeyDigest(key string, id int64) uint64 {
	sum := sha256.Sum256([]byte(key + "\x00" + strconv.FormatInt(id, 10)))
	return binary.BigEndian.Uint64(sum[:8])
}

// StartVerify runs Verify in the background, unless a verification started
// this way is already running, and returns a channel closed when the running
// verification ends. The result is recorded as by Verify (see
// LastVerification). ctx bounds the run; it should not be a request context
// that ends with the request.
func (s *Store) StartVerify(ctx context.Context) <-chan struct{} {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if s.vdone != nil {
		return s.vdone
	}
	done := make(chan struct{})
	s.vdone, s.vstarted = done, s.Now().UTC()
	go func() {
		defer func() {
			s.vmu.Lock()
			s.vdone = nil
			s.vmu.Unlock()
			close(done)
		}()
		if _, err := s.Verify(ctx); err != nil {
			s.log.ErrorContext(ctx, "audit: background verification failed to run", "err", err)
		}
	}()
	return done
}

// Verifying reports whether a verification started by StartVerify is
// running, and when it started.
func (s *Store) Verifying() (bool, time.Time) {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	return s.vdone != nil, s.vstarted
}

// LastVerification returns the most recent recorded verification, or nil if
// the chain was never verified.
func (s *Store) LastVerification(ctx context.Context) (*VerifyResult, error) {
	var v struct {
		At          string `db:"verified_at"`
		OK          bool   `db:"ok"`
		Entries     int64  `db:"entries"`
		FirstBroken int64  `db:"first_broken"`
		Reason      string `db:"reason"`
		HeadID      int64  `db:"head_id"`
		HeadHash    string `db:"head_hash"`
		DurationMS  int64  `db:"duration_ms"`
	}
	err := s.db.Read.GetContext(ctx, &v, `SELECT verified_at, ok, entries, first_broken, reason, head_id, head_hash, duration_ms
		FROM audit_verifications ORDER BY id DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: last verification: %w", err)
	}
	at, err := time.Parse(timeLayout, v.At)
	if err != nil {
		return nil, fmt.Errorf("audit: last verification: time %q: %w", v.At, err)
	}
	return &VerifyResult{
		OK: v.OK, Entries: v.Entries, FirstBroken: v.FirstBroken, Reason: v.Reason, At: at,
		HeadID: v.HeadID, HeadHash: v.HeadHash, Duration: time.Duration(v.DurationMS) * time.Millisecond,
	}, nil
}
