package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
)

// Errors returned by the Store besides the validation errors.
var (
	ErrUserNotFound = errors.New("user not found")
	ErrNameTaken    = errors.New("a user with that name already exists")
	ErrLastAdmin    = errors.New("the console must keep at least one enabled admin")
)

// StoreConfig tunes a Store. The zero value gives the defaults.
type StoreConfig struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Lockout is the sign-in throttling policy; zero fields take the
	// defaults of DefaultLockoutPolicy.
	Lockout LockoutPolicy
	// HashParams are the argon2id parameters of new hashes (default
	// DefaultHashParams).
	HashParams *argon2id.Params
	// HashConcurrency bounds simultaneous argon2id runs (default 4).
	HashConcurrency int
	// Recorder, when set, records every user.* event after the change
	// commits. The actor is taken from the context (ActorFrom).
	Recorder Recorder
	// OnDisable, when set, is called after a user was disabled (and the
	// event recorded), with the actor in ctx: app withdraws the user's
	// pending approval requests through it. An error is returned by
	// Disable after the user was disabled.
	OnDisable func(ctx context.Context, userID int64) error
	// Log receives operational messages (default slog.Default()). Nothing
	// secret is ever logged.
	Log *slog.Logger
	// SecretKey, when set (at least 32 bytes, kept outside the database),
	// seals TOTP secrets at rest with AES-256-GCM. Without it they are
	// stored as plain base32 (see docs/security.md).
	SecretKey []byte
	// Issuer names the console in authenticator apps (default
	// "DevServer Console").
	Issuer string
}

// Store keeps the console's users in SQLite and authenticates them.
type Store struct {
	db      *store.DB
	now     func() time.Time
	lockout LockoutPolicy
	h       *hasher
	record  Recorder
	onDis   func(ctx context.Context, userID int64) error
	log     *slog.Logger
	sealer  *sealer
	issuer  string
}

// NewStore returns a user store over db.
func NewStore(db *store.DB, cfg StoreConfig) (*Store, error) {
	if db == nil {
		return nil, errors.New("auth: NewStore: nil database")
	}
	s := &Store{db: db, now: cfg.Now, lockout: cfg.Lockout.withDefaults(), record: cfg.Recorder, onDis: cfg.OnDisable, log: cfg.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	params := DefaultHashParams
	if cfg.HashParams != nil {
		params = *cfg.HashParams
	}
	conc := cfg.HashConcurrency
	if conc == 0 {
		conc = 4
	}
	h, err := newHasher(params, conc)
	if err != nil {
		return nil, err
	}
	s.h = h
	if s.sealer, err = newSealer(cfg.SecretKey); err != nil {
		return nil, err
	}
	s.issuer = cfg.Issuer
	if s.issuer == "" {
		s.issuer = "DevServer Console"
	}
	return s, nil
}

// userRow is a users row as stored.
type userRow struct {
	ID                int64  `db:"id"`
	Name              string `db:"name"`
	Role              string `db:"role"`
	PasswordHash      string `db:"password_hash"`
	Disabled          bool   `db:"disabled"`
	CreatedAt         int64  `db:"created_at"`
	UpdatedAt         int64  `db:"updated_at"`
	PasswordChangedAt int64  `db:"password_changed_at"`
	HasFactor         bool   `db:"has_factor"`
}

func (r *userRow) user() *User {
	return &User{
		ID:                r.ID,
		Name:              r.Name,
		Role:              Role(r.Role),
		Disabled:          r.Disabled,
		CreatedAt:         fromMillis(r.CreatedAt),
		UpdatedAt:         fromMillis(r.UpdatedAt),
		PasswordChangedAt: fromMillis(r.PasswordChangedAt),
		HasFactor:         r.HasFactor,
	}
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

const userColumns = `id, name, role, password_hash, disabled, created_at, updated_at, password_changed_at,
	EXISTS (SELECT 1 FROM user_factors f WHERE f.user_id = users.id AND f.confirmed_at IS NOT NULL) AS has_factor`

// CreateUser adds a user. The name is unique regardless of case.
func (s *Store) CreateUser(ctx context.Context, name string, role Role, password string) (*User, error) {
	u, err := s.createUser(ctx, name, role, password, false)
	if err != nil {
		return nil, err
	}
	if err := s.emit(ctx, EventUserCreated, u, map[string]string{"role": string(u.Role)}); err != nil {
		return u, err
	}
	return u, nil
}

// createUser validates and inserts a user; onlyIfEmpty makes the insert
// conditional on the table being empty (bootstrap), returning a nil user
// when it is not.
func (s *Store) createUser(ctx context.Context, name string, role Role, password string, onlyIfEmpty bool) (*User, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, ErrInvalidRole
	}
	if err := ValidPassword(password); err != nil {
		return nil, err
	}
	hash, err := s.h.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := millis(s.now())
	var created *User
	err = s.tx(ctx, func(tx *sqlx.Tx) error {
		if onlyIfEmpty {
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM users`); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM users WHERE name = ?`, name); err != nil {
			return err
		}
		if n > 0 {
			return ErrNameTaken
		}
		var id int64
		if err := tx.GetContext(ctx, &id, `INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at, password_changed_at)
			VALUES (?, ?, ?, 0, ?, ?, ?) RETURNING id`, name, string(role), hash, now, now, now); err != nil {
			return err
		}
		created = &User{ID: id, Name: name, Role: role, CreatedAt: fromMillis(now), UpdatedAt: fromMillis(now), PasswordChangedAt: fromMillis(now)}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNameTaken) {
			return nil, ErrNameTaken
		}
		return nil, fmt.Errorf("auth: create user %q: %w", name, err)
	}
	return created, nil
}

// EnsureAdmin creates the first user, "admin" with role admin, when the
// console has no users at all. The password is the given one or, when that
// is empty, a random one returned in generated so the caller can print it
// once. created is false (and nothing changes) when any user exists.
func (s *Store) EnsureAdmin(ctx context.Context, password string) (created bool, generated string, err error) {
	var n int
	if err := s.db.Read.GetContext(ctx, &n, `SELECT count(*) FROM users`); err != nil {
		return false, "", fmt.Errorf("auth: count users: %w", err)
	}
	if n > 0 {
		return false, "", nil
	}
	if password == "" {
		generated, err = randomPassword()
		if err != nil {
			return false, "", err
		}
		password = generated
	}
	u, err := s.createUser(ctx, "admin", RoleAdmin, password, true)
	if err != nil {
		return false, "", fmt.Errorf("auth: bootstrap admin: %w", err)
	}
	if u == nil { // another process created the first user meanwhile
		return false, "", nil
	}
	if ActorFrom(ctx) == (Actor{}) {
		ctx = WithActor(ctx, Actor{Name: "console (first start)"})
	}
	detail := map[string]string{"role": string(RoleAdmin), "bootstrap": "true"}
	// Audit redacts detail keys that mention passwords, hence the name.
	if generated != "" {
		detail["initial_credential"] = "generated"
	} else {
		detail["initial_credential"] = "configured"
	}
	if err := s.emit(ctx, EventUserCreated, u, detail); err != nil {
		return true, generated, err
	}
	return true, generated, nil
}

// Get returns the user with the given id.
func (s *Store) Get(ctx context.Context, id int64) (*User, error) {
	r, err := s.row(ctx, s.db.Read, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	return r.user(), nil
}

// GetByName returns the user with the given name, compared without case.
func (s *Store) GetByName(ctx context.Context, name string) (*User, error) {
	r, err := s.row(ctx, s.db.Read, `WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	return r.user(), nil
}

func (s *Store) row(ctx context.Context, q sqlx.QueryerContext, where string, arg any) (*userRow, error) {
	var r userRow
	err := sqlx.GetContext(ctx, q, &r, `SELECT `+userColumns+` FROM users `+where, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load user: %w", err)
	}
	return &r, nil
}

// List returns every user, ordered by name.
func (s *Store) List(ctx context.Context) ([]User, error) {
	var rows []userRow
	if err := s.db.Read.SelectContext(ctx, &rows, `SELECT `+userColumns+` FROM users ORDER BY name`); err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	users := make([]User, len(rows))
	for i := range rows {
		users[i] = *rows[i].user()
	}
	return users, nil
}

// SetPassword replaces a user's password, ends all their sessions and
// lifts any sign-in lock-out on their name.
func (s *Store) SetPassword(ctx context.Context, id int64, password string) error {
	if err := ValidPassword(password); err != nil {
		return err
	}
	hash, err := s.h.hash(ctx, password)
	if err != nil {
		return err
	}
	now := millis(s.now())
	var u *User
	var revoked int64
	err = s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ?, password_changed_at = ? WHERE id = ?`,
			hash, now, now, id); err != nil {
			return err
		}
		if revoked, err = revokeUserSessions(ctx, tx, id, now, "password_changed"); err != nil {
			return err
		}
		// Lift the delays on the name, from every address.
		if _, err := tx.ExecContext(ctx, `DELETE FROM signin_throttle WHERE kind = 'pair' AND name = ?`, userSubject(r.Name)); err != nil {
			return err
		}
		u = r.user()
		return nil
	})
	if err != nil {
		return wrapUserErr("set password", id, err)
	}
	return s.emit(ctx, EventUserPassword, u, map[string]string{"ended_logins": strconv.FormatInt(revoked, 10)})
}

// SetRole changes a user's role. It takes effect on the user's next
// request: sessions read the role from the users table each time.
func (s *Store) SetRole(ctx context.Context, id int64, role Role) error {
	if !role.Valid() {
		return ErrInvalidRole
	}
	var u *User
	var from Role
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		from = Role(r.Role)
		if from == role {
			return nil
		}
		if from == RoleAdmin && !r.Disabled {
			if err := ensureOtherAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, string(role), millis(s.now()), id); err != nil {
			return err
		}
		u = r.user()
		u.Role = role
		return nil
	})
	if err != nil {
		return wrapUserErr("set role", id, err)
	}
	if u == nil { // unchanged
		return nil
	}
	return s.emit(ctx, EventUserRoleChanged, u, map[string]string{"from": string(from), "to": string(role)})
}

// Disable stops a user from signing in and ends all their sessions.
func (s *Store) Disable(ctx context.Context, id int64) error {
	now := millis(s.now())
	var u *User
	var revoked int64
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if Role(r.Role) == RoleAdmin && !r.Disabled {
			if err := ensureOtherAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		if !r.Disabled {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = 1, updated_at = ? WHERE id = ?`, now, id); err != nil {
				return err
			}
			u = r.user()
			u.Disabled = true
		}
		// Revoke even when already disabled: belt and braces.
		revoked, err = revokeUserSessions(ctx, tx, id, now, "user_disabled")
		return err
	})
	if err != nil {
		return wrapUserErr("disable", id, err)
	}
	var emitErr error
	if u != nil {
		emitErr = s.emit(ctx, EventUserDisabled, u, map[string]string{"ended_logins": strconv.FormatInt(revoked, 10)})
	}
	// Even when already disabled: whatever they left pending goes too.
	if s.onDis != nil {
		if err := s.onDis(ctx, id); err != nil {
			s.log.ErrorContext(ctx, "after disabling a user", "user_id", id, "err", err)
			return errors.Join(emitErr, fmt.Errorf("auth: user %d disabled, but: %w", id, err))
		}
	}
	return emitErr
}

// Enable lets a disabled user sign in again.
func (s *Store) Enable(ctx context.Context, id int64) error {
	var u *User
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if !r.Disabled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = 0, updated_at = ? WHERE id = ?`, millis(s.now()), id); err != nil {
			return err
		}
		u = r.user()
		u.Disabled = false
		return nil
	})
	if err != nil {
		return wrapUserErr("enable", id, err)
	}
	if u == nil {
		return nil
	}
	return s.emit(ctx, EventUserEnabled, u, nil)
}

func ensureOtherAdmin(ctx context.Context, tx *sqlx.Tx, id int64) error {
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?`, id); err != nil {
		return err
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

func wrapUserErr(op string, id int64, err error) error {
	switch {
	case errors.Is(err, ErrUserNotFound), errors.Is(err, ErrLastAdmin):
		return err
	}
	return fmt.Errorf("auth: %s user %d: %w", op, id, err)
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE on the single writer).
func (s *Store) tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.db.WriteTx(ctx, fn)
}

// emit records a user.* event about target. The change has already
// committed, so a recording failure is logged and returned: the caller
// must tell the operator the audit log is missing the event.
func (s *Store) emit(ctx context.Context, kind string, target *User, detail map[string]string) error {
	if s.record == nil {
		return nil
	}
	d := map[string]string{"user": target.Name, "user_id": strconv.FormatInt(target.ID, 10)}
	for k, v := range detail {
		d[k] = v
	}
	if err := s.record(ctx, Event{Kind: kind, Detail: d}); err != nil {
		s.log.ErrorContext(ctx, "security event not recorded", "kind", kind, "user", target.Name, "err", err)
		return fmt.Errorf("auth: %s for %q committed but not recorded in the audit log: %w", kind, target.Name, err)
	}
	return nil
}

// Projects returns the names of the projects user id is limited to, sorted;
// none means the user sees every project.
func (s *Store) Projects(ctx context.Context, id int64) ([]string, error) {
	var names []string
	if err := s.db.Read.SelectContext(ctx, &names, `SELECT project FROM user_projects WHERE user_id = ? ORDER BY project`, id); err != nil {
		return nil, fmt.Errorf("auth: projects of user %d: %w", id, err)
	}
	return names, nil
}

// SetProjects limits user id to the projects named (none: every project)
// and records the change as a security event. The caller checks that the
// names are projects the console has.
func (s *Store) SetProjects(ctx context.Context, id int64, names []string) error {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var u *User
	var before []string
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := tx.SelectContext(ctx, &before, `SELECT project FROM user_projects WHERE user_id = ? ORDER BY project`, id); err != nil {
			return err
		}
		if slices.Equal(before, names) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_projects WHERE user_id = ?`, id); err != nil {
			return err
		}
		for _, n := range names {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_projects (user_id, project) VALUES (?, ?)`, id, n); err != nil {
				return err
			}
		}
		u = r.user()
		return nil
	})
	if err != nil {
		return wrapUserErr("set projects", id, err)
	}
	if u == nil { // unchanged
		return nil
	}
	all := func(ns []string) string {
		if len(ns) == 0 {
			return "all"
		}
		return strings.Join(ns, ",")
	}
	return s.emit(ctx, EventUserProjects, u, map[string]string{"from": all(before), "to": all(names)})
}
