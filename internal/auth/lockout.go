package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
)

// LockoutPolicy throttles password (and second-factor) guessing with
// growing delays instead of lock-outs. Failures are counted per user name
// AND client address, and per client address across all names. After
// FreeFailures failures of one name from one address (AddrFreeFailures
// from one address in all), each further failure makes that pair (or
// address) wait before its next attempt is judged: BaseDelay, then twice
// as long each time, up to MaxDelay. A name is never locked for everyone:
// guesses from one address do not slow the same name down from another.
// Attempts that arrive while a pair or address must wait are refused
// without checking the password and do not lengthen the wait. A count is
// forgotten Forget after its last failure, and a pair's on success.
type LockoutPolicy struct {
	FreeFailures     int
	AddrFreeFailures int
	BaseDelay        time.Duration
	MaxDelay         time.Duration
	Forget           time.Duration
}

// DefaultLockoutPolicy: 3 free failures per name and address and 20 per
// address, then delays of 1 s, 2 s, 4 s … up to 15 minutes; counts are
// forgotten an hour after the last failure. Eleven wrong guesses at one
// name from one address take over four minutes of waiting, a hundred
// take about 22 hours.
var DefaultLockoutPolicy = LockoutPolicy{
	FreeFailures:     3,
	AddrFreeFailures: 20,
	BaseDelay:        time.Second,
	MaxDelay:         15 * time.Minute,
	Forget:           time.Hour,
}

func (p LockoutPolicy) withDefaults() LockoutPolicy {
	d := DefaultLockoutPolicy
	if p.FreeFailures > 0 {
		d.FreeFailures = p.FreeFailures
	}
	if p.AddrFreeFailures > 0 {
		d.AddrFreeFailures = p.AddrFreeFailures
	}
	if p.BaseDelay > 0 {
		d.BaseDelay = p.BaseDelay
	}
	if p.MaxDelay > 0 {
		d.MaxDelay = p.MaxDelay
	}
	if p.Forget > 0 {
		d.Forget = p.Forget
	}
	return d
}

// delay is the wait after the given number of failures over the free ones
// (1 for the first).
func (p LockoutPolicy) delay(over int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < over && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// ErrInvalidCredentials is the one error for every failed sign-in: unknown
// user, wrong password or disabled user. errors.As with *CredentialsError
// gives the reason for the audit log; users only ever see the generic text.
var ErrInvalidCredentials = errors.New("incorrect username or password")

// ErrLocked means too many failed sign-ins: the name or the address must
// wait. errors.As with *LockedError tells which and until when.
var ErrLocked = errors.New("too many failed sign-in attempts; try again later")

// Reasons a sign-in failed, for the audit log only.
const (
	ReasonUnknownUser   = "unknown_user"
	ReasonWrongPassword = "wrong_password"
	ReasonDisabled      = "disabled"
)

// CredentialsError is a failed sign-in. It matches ErrInvalidCredentials.
type CredentialsError struct {
	Reason string // ReasonUnknownUser, ReasonWrongPassword or ReasonDisabled
}

func (e *CredentialsError) Error() string { return ErrInvalidCredentials.Error() }

// Is makes errors.Is(err, ErrInvalidCredentials) true.
func (e *CredentialsError) Is(target error) bool { return target == ErrInvalidCredentials }

// LockedError is a refused or lock-triggering sign-in. It matches ErrLocked.
type LockedError struct {
	Kind      string        // "pair" (the name from this address) or "addr" (the client address)
	Until     time.Time     // when the next attempt will be judged
	Wait      time.Duration // how long that is from when this attempt was judged (by the store's clock)
	Triggered bool          // this attempt's failure started or lengthened the wait
	Failures  int           // failures counted so far (set when Triggered)
}

func (e *LockedError) Error() string { return ErrLocked.Error() }

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// maxSubjectLen bounds what a hostile client can make us store per attempt.
const maxSubjectLen = 128

func userSubject(name string) string {
	s := strings.ToLower(strings.TrimSpace(name))
	if len(s) > maxSubjectLen {
		s = s[:maxSubjectLen]
	}
	return s
}

// Authenticate checks a sign-in attempt. It returns the user on success.
// Any wrong name, wrong password or disabled user gives an error matching
// ErrInvalidCredentials (the same text for all); a locked name or address
// gives an error matching ErrLocked. A failure that starts a lock-out
// matches both. Other errors are internal. Unknown names cost a password
// hash too, so timing does not reveal which names exist.
func (s *Store) Authenticate(ctx context.Context, name, password, clientIP string) (*User, error) {
	now := s.now()
	subject := userSubject(name)
	if len(clientIP) > maxSubjectLen {
		clientIP = clientIP[:maxSubjectLen]
	}
	if le, err := s.lockedOut(ctx, subject, clientIP, now); err != nil {
		return nil, err
	} else if le != nil {
		return nil, le
	}

	var r *userRow
	hash := ""
	if ValidName(strings.TrimSpace(name)) == nil {
		var err error
		r, err = s.row(ctx, s.db.Read, `WHERE name = ?`, strings.TrimSpace(name))
		switch {
		case errors.Is(err, ErrUserNotFound):
			r = nil
		case err != nil:
			return nil, err
		default:
			hash = r.PasswordHash
		}
	}
	// The attempt is judged, and its failure recorded, inside a hashing
	// slot, and the lock-out is checked again there: attempts sent at once
	// all pass the first check before any has failed, so without this
	// each would get its guess judged (a right one signing in) however
	// far past the limit. Now at most one attempt per slot can overshoot.
	if err := s.h.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.h.release()
	// Replicas sharing a PostgreSQL database have slots of their own: the
	// name from this address, and the address, are locked in the database
	// too, from the second check until the outcome is counted.
	j, err := s.lockSubjects(ctx, subject, clientIP)
	if err != nil {
		return nil, err
	}
	defer j.end()
	now = s.now() // waiting for the slot may have taken a while
	if le, err := lockedOutQ(ctx, j.reader(s.db), subject, clientIP, now); err != nil {
		return nil, err
	} else if le != nil {
		return nil, le
	}
	ok, err := s.h.compare(password, hash)
	if err != nil {
		return nil, err
	}
	reason := ""
	switch {
	case r == nil:
		reason = ReasonUnknownUser
	case !ok:
		reason = ReasonWrongPassword
	case r.Disabled:
		reason = ReasonDisabled
	}
	if reason == "" {
		// With a second factor the sign-in is not over: the count is
		// cleared only when the code is right too, or else re-entering a
		// stolen password would reset the delays on guessing the code.
		if !r.HasFactor {
			if err := j.clearFailures(ctx, s, subject, clientIP); err != nil {
				return nil, err
			}
		}
		return r.user(), nil
	}
	cerr := &CredentialsError{Reason: reason}
	le, err := j.recordFailure(ctx, s, subject, clientIP, now)
	if err != nil {
		return nil, err
	}
	if le != nil {
		return nil, errors.Join(cerr, le)
	}
	return nil, cerr
}

// lockedOut returns the wait in force for the name from this address, or
// for the address, if any.
func (s *Store) lockedOut(ctx context.Context, subject, addr string, now time.Time) (*LockedError, error) {
	return lockedOutQ(ctx, s.db.Read, subject, addr, now)
}

func lockedOutQ(ctx context.Context, q sqlx.QueryerContext, subject, addr string, now time.Time) (*LockedError, error) {
	var row struct {
		Kind  string `db:"kind"`
		Until int64  `db:"blocked_until"`
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT kind, blocked_until FROM signin_throttle
		WHERE ((kind = 'pair' AND name = ? AND addr = ?) OR (kind = 'addr' AND name = '' AND addr = ? AND addr <> ''))
		  AND blocked_until > ?
		ORDER BY blocked_until DESC LIMIT 1`, subject, addr, addr, millis(now))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: read sign-in delays: %w", err)
	}
	until := fromMillis(row.Until)
	return &LockedError{Kind: row.Kind, Until: until, Wait: until.Sub(now)}, nil
}

// recordFailure counts a failed attempt for the name from this address and
// for the address, and makes either wait when it is past its free
// failures. The counts live in the database, so every replica sees them.
func (s *Store) recordFailure(ctx context.Context, subject, addr string, now time.Time) (*LockedError, error) {
	var locked *LockedError
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		locked, err = s.countFailure(ctx, tx, subject, addr, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: record sign-in failure: %w", err)
	}
	return locked, nil
}

// countFailure is recordFailure inside the caller's transaction.
func (s *Store) countFailure(ctx context.Context, tx *sqlx.Tx, subject, addr string, now time.Time) (*LockedError, error) {
	p := s.lockout
	nowMS := millis(now)
	var locked *LockedError
	err := func() error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM signin_throttle WHERE last_failure_at <= ?`, millis(now.Add(-p.Forget))); err != nil {
			return err
		}
		bump := func(kind, name, addr string, free int) error {
			var n int
			if err := tx.GetContext(ctx, &n, `INSERT INTO signin_throttle (kind, name, addr, failures, last_failure_at, blocked_until)
				VALUES (?, ?, ?, 1, ?, 0)
				ON CONFLICT (kind, name, addr) DO UPDATE SET failures = signin_throttle.failures + 1, last_failure_at = excluded.last_failure_at
				RETURNING failures`, kind, name, addr, nowMS); err != nil {
				return err
			}
			if n <= free {
				return nil
			}
			until := now.Add(p.delay(n - free))
			if _, err := tx.ExecContext(ctx, `UPDATE signin_throttle SET blocked_until = ? WHERE kind = ? AND name = ? AND addr = ?`,
				millis(until), kind, name, addr); err != nil {
				return err
			}
			if locked == nil || until.After(locked.Until) {
				locked = &LockedError{Kind: kind, Until: until, Wait: until.Sub(now), Triggered: true, Failures: n}
			}
			return nil
		}
		if err := bump("pair", subject, addr, p.FreeFailures); err != nil {
			return err
		}
		if addr != "" {
			if err := bump("addr", "", addr, p.AddrFreeFailures); err != nil {
				return err
			}
		}
		return nil
	}()
	return locked, err
}

// clearFailures forgets the failures of the name from this address after
// a successful sign-in. The address's own count stays: a guesser who also
// owns one account cannot reset it.
func (s *Store) clearFailures(ctx context.Context, subject, addr string) error {
	if _, err := s.db.Write.ExecContext(ctx, `DELETE FROM signin_throttle WHERE kind = 'pair' AND name = ? AND addr = ?`, subject, addr); err != nil {
		return fmt.Errorf("auth: clear sign-in failures: %w", err)
	}
	return nil
}

// judging holds, on PostgreSQL, the locks of one sign-in attempt's
// subjects (the name from the address, and the address) in a transaction
// that also counts the attempt's outcome, so replicas judge one attempt per
// subject at a time. On SQLite it holds nothing: one process serves the
// database and the hashing slots bound what it judges at once.
type judging struct {
	tx *sqlx.Tx // nil on SQLite
}

// lockSubjects begins judging an attempt at subject from addr.
func (s *Store) lockSubjects(ctx context.Context, subject, addr string) (*judging, error) {
	if s.db.Engine != store.Postgres {
		return &judging{}, nil
	}
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: lock sign-in subject: %w", err)
	}
	if err := s.lockSubjectsTx(ctx, tx, subject, addr); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return &judging{tx: tx}, nil
}

// lockSubjectsTx takes, for the rest of tx, the locks of an attempt at
// subject from addr (on PostgreSQL; nothing on SQLite, where tx holds the
// only write lock). Always the pair first, then the address: attempts that
// share only the address wait for each other without a cycle.
func (s *Store) lockSubjectsTx(ctx context.Context, tx *sqlx.Tx, subject, addr string) error {
	keys := []store.LockKey{store.LockKeyFor("signin:pair:" + subject + "\x00" + addr)}
	if addr != "" {
		keys = append(keys, store.LockKeyFor("signin:addr:"+addr))
	}
	for _, k := range keys {
		if err := s.db.LockXact(ctx, tx, k); err != nil {
			return fmt.Errorf("auth: lock sign-in subject: %w", err)
		}
	}
	return nil
}

// reader is where the attempt reads the delays in force.
func (j *judging) reader(db *store.DB) sqlx.QueryerContext {
	if j.tx != nil {
		return j.tx
	}
	return db.Read
}

// recordFailure counts a failure, in the judging transaction when there is
// one (committing it, which ends the locks).
func (j *judging) recordFailure(ctx context.Context, s *Store, subject, addr string, now time.Time) (*LockedError, error) {
	if j.tx == nil {
		return s.recordFailure(ctx, subject, addr, now)
	}
	le, err := s.countFailure(ctx, j.tx, subject, addr, now)
	if err == nil {
		err = j.tx.Commit()
	}
	if err != nil {
		return nil, fmt.Errorf("auth: record sign-in failure: %w", err)
	}
	return le, nil
}

// clearFailures forgets the pair's failures, in the judging transaction
// when there is one (committing it).
func (j *judging) clearFailures(ctx context.Context, s *Store, subject, addr string) error {
	if j.tx == nil {
		return s.clearFailures(ctx, subject, addr)
	}
	_, err := j.tx.ExecContext(ctx, `DELETE FROM signin_throttle WHERE kind = 'pair' AND name = ? AND addr = ?`, subject, addr)
	if err == nil {
		err = j.tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("auth: clear sign-in failures: %w", err)
	}
	return nil
}

// end ends the judging transaction if nothing committed it.
func (j *judging) end() {
	if j.tx != nil {
		_ = j.tx.Rollback()
	}
}
