package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// LockoutPolicy throttles password guessing. After MaxUserFailures failed
// sign-ins for one user name (known or not), or MaxAddrFailures from one
// client address, within Window, that name or address cannot sign in for
// Duration. Attempts while locked are refused without checking the
// password and do not extend the lock.
type LockoutPolicy struct {
	MaxUserFailures int
	MaxAddrFailures int
	Window          time.Duration
	Duration        time.Duration
}

// DefaultLockoutPolicy is 5 failures per name or 20 per address within 15
// minutes, then 15 minutes locked.
var DefaultLockoutPolicy = LockoutPolicy{
	MaxUserFailures: 5,
	MaxAddrFailures: 20,
	Window:          15 * time.Minute,
	Duration:        15 * time.Minute,
}

func (p LockoutPolicy) withDefaults() LockoutPolicy {
	d := DefaultLockoutPolicy
	if p.MaxUserFailures > 0 {
		d.MaxUserFailures = p.MaxUserFailures
	}
	if p.MaxAddrFailures > 0 {
		d.MaxAddrFailures = p.MaxAddrFailures
	}
	if p.Window > 0 {
		d.Window = p.Window
	}
	if p.Duration > 0 {
		d.Duration = p.Duration
	}
	return d
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
	Kind      string    // "user" (the name) or "addr" (the client address)
	Until     time.Time // when sign-in is possible again
	Triggered bool      // this attempt's failure started the lock-out
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
	now = s.now() // waiting for the slot may have taken a while
	if le, err := s.lockedOut(ctx, subject, clientIP, now); err != nil {
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
		if err := s.clearUserFailures(ctx, subject); err != nil {
			return nil, err
		}
		return r.user(), nil
	}
	cerr := &CredentialsError{Reason: reason}
	le, err := s.recordFailure(ctx, subject, clientIP, now)
	if err != nil {
		return nil, err
	}
	if le != nil {
		return nil, errors.Join(cerr, le)
	}
	return nil, cerr
}

// lockedOut returns the lock-out in force for the name or address, if any.
func (s *Store) lockedOut(ctx context.Context, subject, addr string, now time.Time) (*LockedError, error) {
	var row struct {
		Kind  string `db:"kind"`
		Until int64  `db:"locked_until"`
	}
	err := s.db.Read.GetContext(ctx, &row, `SELECT kind, locked_until FROM login_lockouts
		WHERE ((kind = 'user' AND subject = ?) OR (kind = 'addr' AND subject = ? AND subject <> ''))
		  AND locked_until > ?
		ORDER BY locked_until DESC LIMIT 1`, subject, addr, millis(now))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: read lock-outs: %w", err)
	}
	return &LockedError{Kind: row.Kind, Until: fromMillis(row.Until)}, nil
}

// recordFailure notes a failed attempt for the name and the address and
// starts a lock-out for either when it crosses its threshold.
func (s *Store) recordFailure(ctx context.Context, subject, addr string, now time.Time) (*LockedError, error) {
	p := s.lockout
	nowMS := millis(now)
	since := millis(now.Add(-p.Window))
	var locked *LockedError
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at <= ?`, since); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_lockouts WHERE locked_until <= ?`, nowMS); err != nil {
			return err
		}
		check := func(kind, subj string, max int) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (kind, subject, at) VALUES (?, ?, ?)`, kind, subj, nowMS); err != nil {
				return err
			}
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM login_failures WHERE kind = ? AND subject = ? AND at > ?`, kind, subj, since); err != nil {
				return err
			}
			if n < max {
				return nil
			}
			until := now.Add(p.Duration)
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_lockouts (kind, subject, locked_until) VALUES (?, ?, ?)
				ON CONFLICT (kind, subject) DO UPDATE SET locked_until = excluded.locked_until`, kind, subj, millis(until)); err != nil {
				return err
			}
			// A fresh count starts when the lock-out ends.
			if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE kind = ? AND subject = ?`, kind, subj); err != nil {
				return err
			}
			if locked == nil {
				locked = &LockedError{Kind: kind, Until: until, Triggered: true}
			}
			return nil
		}
		if err := check("user", subject, p.MaxUserFailures); err != nil {
			return err
		}
		if addr != "" {
			if err := check("addr", addr, p.MaxAddrFailures); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("auth: record sign-in failure: %w", err)
	}
	return locked, nil
}

func (s *Store) clearUserFailures(ctx context.Context, subject string) error {
	if _, err := s.db.Write.ExecContext(ctx, `DELETE FROM login_failures WHERE kind = 'user' AND subject = ?`, subject); err != nil {
		return fmt.Errorf("auth: clear sign-in failures: %w", err)
	}
	return nil
}
