package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
)

// Verification modes, as recorded in audit_verifications.mode.
const (
	ModeFull = "full" // every entry from the first
	ModeTail = "tail" // the entries after the last good verification's head
	ModePage = "page" // a broken entry found while showing the log
)

// VerifyResult is the outcome of walking the hash chain.
type VerifyResult struct {
	OK          bool
	Mode        string // ModeFull, ModeTail or ModePage
	FromID      int64  // first entry this run checked (a tail run: the one after the previous head)
	Entries     int64  // entries known intact, in id order, before any break (a tail run includes those verified before)
	FirstBroken int64  // id of the first entry that fails (0 when OK, or when only the server index is wrong)
	Reason      string // why it failed, in words; empty when OK
	At          time.Time
	HeadID      int64  // last entry covered when OK
	HeadHash    string // its hash
	KeyedFrom   int64  // the entry that switched the chain to the audit key (0: no keyed part up to HeadID)
	Duration    time.Duration

	// Checkpoints is how many anchor checkpoints were checked; Anchor the
	// newest of them (zero when none).
	Checkpoints int
	Anchor      Checkpoint
}

// VerifyOptions adds checks to Verify.
type VerifyOptions struct {
	// Checkpoints (from the anchor file, see ReadCheckpoints) must each
	// match the log: the entry at each checkpoint's id has its hash and the
	// count of entries up to it, and the log reaches the newest one.
	Checkpoints []Checkpoint
}

// Verify walks the whole chain (see VerifyWith).
func (s *Store) Verify(ctx context.Context) (VerifyResult, error) {
	return s.VerifyWith(ctx, VerifyOptions{})
}

// VerifyWith walks the whole chain in id order inside one read snapshot and
// checks, for every entry, that prev_hash is the previous entry's hash and
// that hash is the entry's hash: plain SHA-256 before the switch entry
// (EventChainKeyed), HMAC-SHA256 under the audit key from it on. With a key,
// a log without a keyed part fails (it was rewritten by someone without the
// key). It also checks that the log still reaches the head recorded by the
// last good verification and each of o.Checkpoints, and that the server
// index matches the entries' targets (indexing the newest entries first).
// The result is recorded in audit_verifications and returned; err is only
// for failures to read or record.
func (s *Store) VerifyWith(ctx context.Context, o VerifyOptions) (VerifyResult, error) {
	start := time.Now()
	// Index what is not yet, so the server index is checked against every
	// entry; if that fails (a read-only copy), it is checked up to where it
	// reaches.
	if err := s.awaitIndex(ctx); err != nil {
		s.log.WarnContext(ctx, "audit: verify: the newest entries are not indexed; the server index is checked up to the last indexed entry", "err", err)
	}
	res, err := s.verifyFull(ctx, o)
	if err != nil {
		return VerifyResult{}, err
	}
	res.Duration = time.Since(start)
	return res, s.record(ctx, &res)
}

// VerifyTail verifies only the entries written since the last good
// verification, resuming from its head (whose entry must still carry the
// recorded hash), so its cost follows the number of new entries, not the
// size of the log. It does nothing and returns the last result when that was
// a failure (only a full verification can clear it) or when there is nothing
// new; with no trusted verification to resume from it verifies everything.
// Edits to entries verified before are found by full verifications (see
// StartVerify and the console's schedule) and, for the entries shown, by
// List.
func (s *Store) VerifyTail(ctx context.Context) (VerifyResult, error) {
	start := time.Now()
	last, err := s.LastVerification(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	if last != nil && !last.OK {
		return *last, nil
	}
	base, err := s.trustedHead(ctx)
	if err != nil {
		return VerifyResult{}, err
	}
	var res VerifyResult
	if base == nil {
		res, err = s.verifyFull(ctx, VerifyOptions{})
	} else {
		res, err = s.verifyTail(ctx, base)
	}
	if err != nil {
		return VerifyResult{}, err
	}
	if res.OK && base != nil && res.HeadID == base.HeadID {
		return *base, nil // nothing new since the last verification
	}
	res.Duration = time.Since(start)
	return res, s.record(ctx, &res)
}

// record stores res in audit_verifications (signed when there is a key).
func (s *Store) record(ctx context.Context, res *VerifyResult) error {
	res.At = s.Now().UTC()
	ok := 0
	if res.OK {
		ok = 1
	}
	_, err := s.db.Write.ExecContext(ctx, `INSERT INTO audit_verifications
		(verified_at, ok, entries, first_broken, reason, head_id, head_hash, duration_ms, mode, from_id, keyed_from, mac)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		res.At.Format(timeLayout), ok, res.Entries, res.FirstBroken, res.Reason, res.HeadID, res.HeadHash,
		res.Duration.Milliseconds(), res.Mode, res.FromID, res.KeyedFrom, s.verificationMAC(res))
	if err != nil {
		return fmt.Errorf("audit: record verification: %w", err)
	}
	if !res.OK {
		s.log.ErrorContext(ctx, "audit: chain verification failed", "mode", res.Mode, "first_broken", res.FirstBroken, "reason", res.Reason)
	}
	return nil
}

// verificationMAC signs what a later tail verification resumes from.
func (s *Store) verificationMAC(res *VerifyResult) string {
	key, _ := s.currentKey()
	if key == nil || !res.OK {
		return ""
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "console-audit-verification-v1\n%s\n%d\n%s\n%d\n%d\n", res.At.UTC().Format(timeLayout), res.HeadID, res.HeadHash, res.Entries, res.KeyedFrom)
	return hex.EncodeToString(m.Sum(nil))
}

// trustedHead returns the newest good verification a tail run may resume
// from: with a key, one whose signature verifies. nil: none.
func (s *Store) trustedHead(ctx context.Context) (*VerifyResult, error) {
	rows, err := s.db.Read.QueryxContext(ctx, `SELECT verified_at, entries, head_id, head_hash, keyed_from, mac, mode
		FROM audit_verifications WHERE ok = 1 AND head_id > 0 ORDER BY id DESC LIMIT 20`)
	if err != nil {
		return nil, fmt.Errorf("audit: read last verification: %w", err)
	}
	defer rows.Close()
	key, _ := s.currentKey()
	for rows.Next() {
		var v struct {
			At        string `db:"verified_at"`
			Entries   int64  `db:"entries"`
			HeadID    int64  `db:"head_id"`
			HeadHash  string `db:"head_hash"`
			KeyedFrom int64  `db:"keyed_from"`
			MAC       string `db:"mac"`
			Mode      string `db:"mode"`
		}
		if err := rows.StructScan(&v); err != nil {
			return nil, fmt.Errorf("audit: read last verification: %w", err)
		}
		at, err := time.Parse(timeLayout, v.At)
		if err != nil {
			continue
		}
		r := &VerifyResult{OK: true, Mode: v.Mode, At: at, Entries: v.Entries, HeadID: v.HeadID, HeadHash: v.HeadHash, KeyedFrom: v.KeyedFrom}
		if key != nil && !hmac.Equal([]byte(v.MAC), []byte(s.verificationMAC(r))) {
			continue // not written by a console holding the key
		}
		return r, rows.Err()
	}
	return nil, rows.Err()
}

// chainWalk checks entries one by one in id order.
type chainWalk struct {
	key       []byte
	keyID     string
	prev      string
	prevID    int64
	count     int64
	keyedFrom int64
	cps       map[int64]Checkpoint

	servers     bool  // also fingerprint the server index terms
	indexedTo   int64 // of entries up to this id (the indexes reach no further)
	serverSum   uint64
	serverCount int64
}

// step checks r and, when intact, advances; it returns why r is broken,
// and whether the failure is only a missing key.
func (w *chainWalk) step(r *row) (reason string, needKey bool) {
	if r.PrevHash != w.prev {
		if w.prevID == 0 {
			return fmt.Sprintf("entry %d is the first entry but its prev_hash is not the genesis hash: earlier entries were removed", r.ID), false
		}
		return fmt.Sprintf("entry %d does not follow entry %d (prev_hash differs from entry %d's hash): an entry was removed, inserted or reordered", r.ID, w.prevID, w.prevID), false
	}
	if w.keyedFrom == 0 && r.Kind == string(EventChainKeyed) {
		id := detailKeyID(r.Detail)
		switch {
		case w.key == nil:
			return fmt.Sprintf("entries from %d on are chained under audit key %s; give that key (CONSOLE_AUDIT_KEY or CONSOLE_AUDIT_KEY_FILE) to verify them", r.ID, id), true
		case id != w.keyID:
			return fmt.Sprintf("entries from %d on are chained under audit key %s, not under the key given (%s)", r.ID, id, w.keyID), false
		}
		w.keyedFrom = r.ID
	}
	if w.keyedFrom != 0 {
		if keyedHash(w.key, r.PrevHash, r) != r.Hash {
			if chainHash(r.PrevHash, r) == r.Hash {
				return fmt.Sprintf("entry %d carries a plain SHA-256 hash inside the keyed part of the chain: it was forged by someone without the audit key", r.ID), false
			}
			return fmt.Sprintf("entry %d's content does not match its keyed hash: it was edited or forged after it was written", r.ID), false
		}
	} else if chainHash(r.PrevHash, r) != r.Hash {
		return fmt.Sprintf("entry %d's content does not match its hash: it was edited after it was written", r.ID), false
	}
	if cp, ok := w.cps[r.ID]; ok {
		if cp.Hash != r.Hash {
			if cp.MAC == "" {
				return fmt.Sprintf("entry %d's hash differs from the one recorded by the verification at %s: the chain was rewritten", r.ID, AnchorTime(cp.At)), false
			}
			return fmt.Sprintf("entry %d differs from the checkpoint signed at %s: the log was rewritten", r.ID, AnchorTime(cp.At)), false
		}
		if cp.Count >= 0 && cp.Count != w.count+1 {
			return fmt.Sprintf("the checkpoint signed at %s counted %d entries up to entry %d, the log now has %d: entries were removed or inserted", AnchorTime(cp.At), cp.Count, r.ID, w.count+1), false
		}
	}
	if w.servers && r.ID <= w.indexedTo {
		var ts []Target
		if r.Targets != "[]" {
			if err := json.Unmarshal([]byte(r.Targets), &ts); err != nil {
				return fmt.Sprintf("entry %d's targets are not valid JSON", r.ID), false
			}
		}
		for _, k := range serverKeys(ts) {
			w.serverSum += serverKeyDigest(k, r.ID)
			w.serverCount++
		}
	}
	w.prev, w.prevID = r.Hash, r.ID
	w.count++
	return "", false
}

// AnchorTime formats a checkpoint's time in messages.
func AnchorTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func (s *Store) newWalk(cps []Checkpoint) *chainWalk {
	key, keyID := s.currentKey()
	w := &chainWalk{key: key, keyID: keyID, prev: GenesisHash, cps: map[int64]Checkpoint{}}
	for _, c := range cps {
		w.cps[c.EntryID] = c
	}
	return w
}

// run walks rows, filling res; it returns whether the walk found a break.
func (w *chainWalk) run(rows *sqlx.Rows, res *VerifyResult) (bool, error) {
	var r row
	for rows.Next() {
		if err := rows.StructScan(&r); err != nil {
			return false, fmt.Errorf("audit: verify: read entry after %d: %w", w.prevID, err)
		}
		if reason, needKey := w.step(&r); reason != "" {
			if !needKey {
				res.FirstBroken = r.ID
			}
			res.Reason = reason
			res.Entries = w.count
			return true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("audit: verify: %w", err)
	}
	res.Entries = w.count
	return false, nil
}

// finish applies the checks that need the whole walk: a keyed part when a
// key is given, and the checkpoints the log must reach.
func (w *chainWalk) finish(res *VerifyResult, cps []Checkpoint) bool {
	if w.key != nil && w.keyedFrom == 0 && w.count > 0 {
		res.Reason = "no entry of the log is chained under the audit key: the log was rewritten by someone without the key, or no console has run with this key on it yet"
		return true
	}
	for _, c := range cps {
		if c.EntryID > res.Anchor.EntryID {
			res.Anchor = c
		}
	}
	res.Checkpoints = len(cps)
	if res.Anchor.EntryID > w.prevID {
		res.FirstBroken = w.prevID + 1
		res.Reason = fmt.Sprintf("the log ends at entry %d but the checkpoint signed at %s covered up to entry %d (%d entries): entries were removed from the end",
			w.prevID, AnchorTime(res.Anchor.At), res.Anchor.EntryID, res.Anchor.Count)
		return true
	}
	res.HeadID, res.HeadHash, res.KeyedFrom = w.prevID, w.prev, w.keyedFrom
	return false
}

func (s *Store) verifyFull(ctx context.Context, o VerifyOptions) (VerifyResult, error) {
	res := VerifyResult{Mode: ModeFull, FromID: 1}
	tx, err := s.db.BeginSnapshot(ctx)
	if err != nil {
		return res, fmt.Errorf("audit: verify: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only

	// The last good full verification's head, if any: the log must still
	// reach it with the same hash.
	var last struct {
		At   string `db:"verified_at"`
		ID   int64  `db:"head_id"`
		Hash string `db:"head_hash"`
	}
	err = tx.GetContext(ctx, &last, `SELECT verified_at, head_id, head_hash FROM audit_verifications
		WHERE ok = 1 AND head_id > 0 ORDER BY id DESC LIMIT 1`)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return res, fmt.Errorf("audit: verify: read last verification: %w", err)
	}

	// Entries above indexed_to are not indexed yet (index.go); the server
	// index must hold exactly the keys of those below, and nothing above.
	var indexedTo int64
	if err := tx.GetContext(ctx, &indexedTo, `SELECT coalesce((SELECT indexed_to FROM audit_index_state WHERE id = 1), 0)`); err != nil {
		return res, fmt.Errorf("audit: verify: read how far the indexes reach: %w", err)
	}

	rows, err := tx.QueryxContext(ctx, `SELECT `+columns+` FROM audit_entries ORDER BY id`)
	if err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	w := s.newWalk(o.Checkpoints)
	w.servers = true
	w.indexedTo = indexedTo
	if last.ID > 0 {
		if _, ok := w.cps[last.ID]; !ok {
			at, _ := time.Parse(timeLayout, last.At)
			w.cps[last.ID] = Checkpoint{EntryID: last.ID, Hash: last.Hash, Count: -1, At: at}
		}
	}
	broken, err := w.run(rows, &res)
	if err != nil || broken {
		return res, err
	}
	if last.ID > w.prevID {
		res.FirstBroken = w.prevID + 1
		at, _ := time.Parse(timeLayout, last.At)
		res.Reason = fmt.Sprintf("the log ends at entry %d but the verification at %s covered up to entry %d: entries were removed from the end", w.prevID, AnchorTime(at), last.ID)
		return res, nil
	}
	if w.finish(&res, o.Checkpoints) {
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
	if gotSum != w.serverSum || gotCount != w.serverCount {
		res.Reason = fmt.Sprintf("the server index (%d rows) does not match the targets of the entries up to %d (%d keys): it was altered, so the server filter may hide entries", gotCount, w.indexedTo, w.serverCount)
		return res, nil
	}
	res.OK = true
	return res, nil
}

func (s *Store) verifyTail(ctx context.Context, base *VerifyResult) (VerifyResult, error) {
	res := VerifyResult{Mode: ModeTail, FromID: base.HeadID + 1, Entries: base.Entries}
	tx, err := s.db.BeginSnapshot(ctx)
	if err != nil {
		return res, fmt.Errorf("audit: verify: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var h string
	err = tx.GetContext(ctx, &h, `SELECT hash FROM audit_entries WHERE id = ?`, base.HeadID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res.FirstBroken = base.HeadID
		res.Reason = fmt.Sprintf("entry %d, verified at %s, is gone: entries were removed from the end", base.HeadID, AuditTimeText(base.At))
		return res, nil
	case err != nil:
		return res, fmt.Errorf("audit: verify: read verified head: %w", err)
	case h != base.HeadHash:
		res.FirstBroken = base.HeadID
		res.Reason = fmt.Sprintf("entry %d's hash differs from the one recorded by the verification at %s: the chain was rewritten", base.HeadID, AuditTimeText(base.At))
		return res, nil
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+columns+` FROM audit_entries WHERE id > ? ORDER BY id`, base.HeadID)
	if err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	w := s.newWalk(nil)
	w.prev, w.prevID, w.count, w.keyedFrom = base.HeadHash, base.HeadID, base.Entries, base.KeyedFrom
	broken, err := w.run(rows, &res)
	if err != nil || broken {
		return res, err
	}
	if w.finish(&res, nil) {
		return res, nil
	}
	res.OK = true
	return res, nil
}

// AuditTimeText formats a verification time in messages.
func AuditTimeText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// serverKeyDigest is an order-independent fingerprint term of one server
// index row; the index is compared to the entries by the sum of these.
func serverKeyDigest(key string, id int64) uint64 {
	sum := sha256.Sum256([]byte(key + "\x00" + strconv.FormatInt(id, 10)))
	return binary.BigEndian.Uint64(sum[:8])
}

// StartVerify runs a full verification in the background, unless a
// verification started this way is already running, and returns a channel
// closed when the running verification ends. The result is recorded as by
// Verify (see LastVerification). ctx bounds the run; it should not be a
// request context that ends with the request.
func (s *Store) StartVerify(ctx context.Context) <-chan struct{} {
	return s.startVerify(ctx, s.Verify)
}

// StartVerifyTail is StartVerify for VerifyTail.
func (s *Store) StartVerifyTail(ctx context.Context) <-chan struct{} {
	return s.startVerify(ctx, s.VerifyTail)
}

func (s *Store) startVerify(ctx context.Context, run func(context.Context) (VerifyResult, error)) <-chan struct{} {
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
		if _, err := run(ctx); err != nil {
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

// RunVerifier keeps the chain verified until ctx ends: a tail verification
// at once (start-up resumes from the last verified head) and every
// tailEvery, and a full verification when the last full one is older than
// fullEvery (checked at each tick).
func (s *Store) RunVerifier(ctx context.Context, tailEvery, fullEvery time.Duration) {
	t := time.NewTicker(tailEvery)
	defer t.Stop()
	for {
		full, err := s.lastFull(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "audit: read the last full verification", "err", err)
		}
		if full.IsZero() || s.Now().Sub(full) >= fullEvery {
			<-s.StartVerify(ctx)
		} else {
			<-s.StartVerifyTail(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lastFull returns when the last full verification ran (zero: never).
func (s *Store) lastFull(ctx context.Context) (time.Time, error) {
	var at string
	err := s.db.Read.GetContext(ctx, &at, `SELECT verified_at FROM audit_verifications WHERE mode = ? ORDER BY id DESC LIMIT 1`, ModeFull)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: last full verification: %w", err)
	}
	t, err := time.Parse(timeLayout, at)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: last full verification: time %q: %w", at, err)
	}
	return t, nil
}

// Status is what the console can say about the chain's integrity.
type Status struct {
	Last     *VerifyResult // the latest verification (nil: never verified)
	Verified *VerifyResult // the latest good one, which Last may be
	LastFull time.Time     // the latest full verification (zero: never)
	Pending  int64         // entries newer than Verified's head, not verified yet
}

// Status returns the latest verification and how many entries are newer
// than the verified head: two index lookups and a count of the new tail.
func (s *Store) Status(ctx context.Context) (Status, error) {
	var st Status
	var err error
	if st.Last, err = s.LastVerification(ctx); err != nil {
		return st, err
	}
	if st.Last != nil && st.Last.OK {
		st.Verified = st.Last
	} else if st.Verified, err = s.trustedHead(ctx); err != nil {
		return st, err
	}
	if st.LastFull, err = s.lastFull(ctx); err != nil {
		return st, err
	}
	var head int64
	if st.Verified != nil {
		head = st.Verified.HeadID
	}
	if err := s.db.Read.GetContext(ctx, &st.Pending, `SELECT count(*) FROM audit_entries WHERE id > ?`, head); err != nil {
		return st, fmt.Errorf("audit: count unverified entries: %w", err)
	}
	return st, nil
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
		Mode        string `db:"mode"`
		FromID      int64  `db:"from_id"`
		KeyedFrom   int64  `db:"keyed_from"`
	}
	err := s.db.Read.GetContext(ctx, &v, `SELECT verified_at, ok, entries, first_broken, reason, head_id, head_hash, duration_ms,
		mode, from_id, keyed_from FROM audit_verifications ORDER BY id DESC LIMIT 1`)
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
		OK: v.OK, Mode: v.Mode, FromID: v.FromID, Entries: v.Entries, FirstBroken: v.FirstBroken, Reason: v.Reason, At: at,
		HeadID: v.HeadID, HeadHash: v.HeadHash, KeyedFrom: v.KeyedFrom, Duration: time.Duration(v.DurationMS) * time.Millisecond,
	}, nil
}

// reportBroken records a broken entry found outside a verification walk
// (a page of the log), so the status turns red at once, unless the latest
// verification already names it.
func (s *Store) reportBroken(ctx context.Context, id int64, reason string) error {
	last, err := s.LastVerification(ctx)
	if err != nil {
		return err
	}
	if last != nil && !last.OK && last.FirstBroken == id {
		return nil
	}
	res := VerifyResult{Mode: ModePage, FromID: id, FirstBroken: id, Reason: reason}
	return s.record(ctx, &res)
}
