package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
)

// SessionCookieName is the name of the session cookie.
const SessionCookieName = "console_session"

// Default session lifetimes.
const (
	DefaultIdleTimeout      = 30 * time.Minute
	DefaultAbsoluteLifetime = 12 * time.Hour
)

// maxTouchEvery is how stale last_seen_at may get before a request
// updates it (or a tenth of the idle timeout, when shorter); it spares the
// single writer one UPDATE per request. The idle timeout is therefore
// exact to within this interval.
const maxTouchEvery = time.Minute

// Errors from SessionManager.Load. Both mean "not signed in".
var (
	ErrNoSession      = errors.New("not signed in")
	ErrSessionExpired = fmt.Errorf("session expired: %w", ErrNoSession)
	// ErrUserDisabled: the session belongs to a user an admin has
	// disabled (its sessions were ended then); the sign-in page says why.
	ErrUserDisabled = fmt.Errorf("user disabled: %w", ErrNoSession)
	// ErrSecondFactorPending: the password was right but the second
	// factor is still to be given. Load returns the user and session with
	// it, for the code form only; it matches ErrNoSession, so nothing else
	// treats the request as signed in.
	ErrSecondFactorPending = fmt.Errorf("second factor pending: %w", ErrNoSession)
)

// FactorWait is how long a sign-in may wait for its second factor.
const FactorWait = 5 * time.Minute

// SessionConfig configures a SessionManager.
type SessionConfig struct {
	// Keys are master keys of at least 32 bytes. The first signs and
	// encrypts new cookies; all are accepted, so a key can be rotated
	// without signing everyone out.
	Keys [][]byte
	// Idle ends a session not used for this long (default 30m).
	Idle time.Duration
	// Absolute ends every session this long after sign-in (default 12h).
	Absolute time.Duration
	// Secure marks cookies Secure even on plain-HTTP requests: set it
	// behind a TLS-terminating proxy. Requests over TLS always get Secure.
	Secure bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives operational messages (default slog.Default()).
	Log *slog.Logger
}

// Session is a signed-in session as stored server-side. It never holds
// the session id itself, only its hash.
type Session struct {
	IDHash     string `db:"id_hash"`
	UserID     int64  `db:"user_id"`
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	ClientIP   string `db:"client_ip"`
	UserAgent  string `db:"user_agent"`
	// FactorPending marks a sign-in waiting for its second factor.
	FactorPending bool
}

// Handle names the session in forms (ending one of your sessions)
// without revealing what the cookie is checked against.
func (s *Session) Handle() string {
	return hashID("handle:" + s.IDHash)[:32]
}

// SessionManager issues, loads and ends sessions: a signed and encrypted
// cookie (gorilla/sessions) that carries only a random id, and a row in
// the sessions table that can be revoked.
type SessionManager struct {
	db      *store.DB
	cfg     SessionConfig
	cookies *sessions.CookieStore
	csrf    [][]byte // CSRF MAC keys, one per master key
	now     func() time.Time
	log     *slog.Logger
}

// NewSessionManager returns a SessionManager over db.
func NewSessionManager(db *store.DB, cfg SessionConfig) (*SessionManager, error) {
	if db == nil {
		return nil, errors.New("auth: NewSessionManager: nil database")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("auth: NewSessionManager: no session key")
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdleTimeout
	}
	if cfg.Absolute <= 0 {
		cfg.Absolute = DefaultAbsoluteLifetime
	}
	if cfg.Idle > cfg.Absolute {
		return nil, errors.New("auth: NewSessionManager: idle timeout longer than the absolute lifetime")
	}
	m := &SessionManager{db: db, cfg: cfg, now: cfg.Now, log: cfg.Log}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	var pairs [][]byte
	for i, k := range cfg.Keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("auth: session key %d is %d bytes; want at least %d", i+1, len(k), MinKeyLen)
		}
		pairs = append(pairs, derive(k, "console session cookie signing v1"), derive(k, "console session cookie encryption v1"))
		m.csrf = append(m.csrf, derive(k, "console csrf v1"))
	}
	m.cookies = sessions.NewCookieStore(pairs...)
	m.cookies.Options = &sessions.Options{Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	m.cookies.MaxAge(int(cfg.Absolute / time.Second))
	return m, nil
}

// derive returns HMAC-SHA256(key, label): independent subkeys from one
// master key.
func derive(key []byte, label string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

// Idle returns the idle timeout.
func (m *SessionManager) Idle() time.Duration { return m.cfg.Idle }

// Absolute returns the absolute session lifetime.
func (m *SessionManager) Absolute() time.Duration { return m.cfg.Absolute }

// SecureRequest reports whether cookies set for r must be Secure.
func (m *SessionManager) SecureRequest(r *http.Request) bool {
	return m.cfg.Secure || r.TLS != nil
}

const sidValue = "sid"

// cookieID returns the session id in r's cookie, or "" when there is none
// or it does not verify.
func (m *SessionManager) cookieID(r *http.Request) string {
	if _, err := r.Cookie(SessionCookieName); err != nil {
		return ""
	}
	sess, err := m.cookies.New(r, SessionCookieName)
	if err != nil || sess.IsNew {
		return ""
	}
	id, _ := sess.Values[sidValue].(string)
	return id
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (m *SessionManager) writeCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) error {
	sess := sessions.NewSession(m.cookies, SessionCookieName)
	opts := *m.cookies.Options
	opts.Secure = m.SecureRequest(r)
	opts.MaxAge = maxAge
	sess.Options = &opts
	if id != "" {
		sess.Values[sidValue] = id
	}
	if maxAge < 0 {
		http.SetCookie(w, sessions.NewCookie(SessionCookieName, "", &opts))
		return nil
	}
	if err := m.cookies.Save(r, w, sess); err != nil {
		return fmt.Errorf("auth: write session cookie: %w", err)
	}
	return nil
}

// Begin signs u in: it ends any session the request already carries
// (rotation), stores a new session with a fresh random id and sets the
// cookie. The returned Session describes the new session.
func (m *SessionManager) Begin(w http.ResponseWriter, r *http.Request, u *User) (*Session, error) {
	return m.begin(w, r, u, false)
}

// BeginPending starts a sign-in that waits for the second factor: like
// Begin, but the session signs nobody in (Load gives
// ErrSecondFactorPending) and it ends after FactorWait. Begin, once the
// code is right, replaces it.
func (m *SessionManager) BeginPending(w http.ResponseWriter, r *http.Request, u *User) (*Session, error) {
	return m.begin(w, r, u, true)
}

func (m *SessionManager) begin(w http.ResponseWriter, r *http.Request, u *User, pending bool) (*Session, error) {
	ctx := r.Context()
	now := m.now()
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("auth: new session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(buf)
	s := &Session{
		IDHash:     hashID(id),
		UserID:     u.ID,
		CreatedAt:  fromMillis(millis(now)),
		LastSeenAt: fromMillis(millis(now)),
		ExpiresAt:  fromMillis(millis(now.Add(m.cfg.Absolute))),
		ClientIP:   clientIP(r),
		UserAgent:  truncate(r.UserAgent(), 512),

		FactorPending: pending,
	}
	if pending {
		s.ExpiresAt = fromMillis(millis(now.Add(min(FactorWait, m.cfg.Absolute))))
	}
	old := m.cookieID(r)
	err := m.db.WriteTx(ctx, func(tx *sqlx.Tx) error {
		if old != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoked_reason = 'rotated'
				WHERE id_hash = ? AND revoked_at IS NULL`, millis(now), hashID(old)); err != nil {
				return err
			}
		}
		// Keep ended sessions a week for inspection, then forget them.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, millis(now.Add(-7*24*time.Hour))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, client_ip, user_agent, factor_pending)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.IDHash, s.UserID, millis(now), millis(now), millis(s.ExpiresAt), s.ClientIP, s.UserAgent, pending)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: begin session: %w", err)
	}
	if err := m.writeCookie(w, r, id, int(m.cfg.Absolute/time.Second)); err != nil {
		return nil, err
	}
	return s, nil
}

type sessionRow struct {
	IDHash     string        `db:"id_hash"`
	UserID     int64         `db:"user_id"`
	CreatedAt  int64         `db:"created_at"`
	LastSeenAt int64         `db:"last_seen_at"`
	ExpiresAt  int64         `db:"expires_at"`
	RevokedAt  sql.NullInt64 `db:"revoked_at"`
	ClientIP   string        `db:"client_ip"`
	UserAgent  string        `db:"user_agent"`
	Name       string        `db:"name"`
	Role       string        `db:"role"`
	Disabled   bool          `db:"disabled"`
	Pending    bool          `db:"factor_pending"`
	HasFactor  bool          `db:"has_factor"`
}

// Load returns the signed-in user and session of r. Any missing, forged,
// revoked or expired session, or a disabled user, gives an error matching
// ErrNoSession (ErrSessionExpired when it just timed out). Other errors
// are internal. The user's role is read fresh on every call.
func (m *SessionManager) Load(r *http.Request) (*User, *Session, error) {
	id := m.cookieID(r)
	if id == "" {
		return nil, nil, ErrNoSession
	}
	ctx := r.Context()
	var row sessionRow
	err := m.db.Read.GetContext(ctx, &row, `SELECT s.id_hash, s.user_id, s.created_at, s.last_seen_at, s.expires_at,
			s.revoked_at, s.client_ip, s.user_agent, s.factor_pending, u.name, u.role, u.disabled,
			EXISTS (SELECT 1 FROM user_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL) AS has_factor
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id_hash = ?`, hashID(id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("auth: load session: %w", err)
	}
	if row.Disabled {
		return nil, nil, ErrUserDisabled
	}
	if row.RevokedAt.Valid {
		return nil, nil, ErrNoSession
	}
	now := m.now()
	nowMS := millis(now)
	reason := ""
	switch {
	case nowMS >= row.ExpiresAt:
		reason = "expired_absolute"
	case nowMS-row.LastSeenAt >= m.cfg.Idle.Milliseconds():
		reason = "expired_idle"
	}
	if reason != "" {
		if err := m.revoke(ctx, row.IDHash, reason); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrSessionExpired
	}
	if nowMS-row.LastSeenAt >= min(maxTouchEvery, m.cfg.Idle/10).Milliseconds() {
		if _, err := m.db.Write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND revoked_at IS NULL`,
			nowMS, row.IDHash); err != nil {
			// Not fatal: the session is valid; at worst it idles out early.
			m.log.WarnContext(ctx, "session: could not record activity", "user", row.Name, "err", err)
		} else {
			row.LastSeenAt = nowMS
		}
	}
	u := &User{ID: row.UserID, Name: row.Name, Role: Role(row.Role), Disabled: row.Disabled, HasFactor: row.HasFactor}
	s := &Session{
		FactorPending: row.Pending,
		IDHash:        row.IDHash,
		UserID:        row.UserID,
		CreatedAt:     fromMillis(row.CreatedAt),
		LastSeenAt:    fromMillis(row.LastSeenAt),
		ExpiresAt:     fromMillis(row.ExpiresAt),
		ClientIP:      row.ClientIP,
		UserAgent:     row.UserAgent,
	}
	if row.Pending {
		return u, s, ErrSecondFactorPending
	}
	return u, s, nil
}

// List returns the user's active sessions (not ended, not expired, not
// waiting for a second factor), most recently used first.
func (m *SessionManager) List(ctx context.Context, userID int64) ([]Session, error) {
	now := millis(m.now())
	var rows []sessionRow
	err := m.db.Read.SelectContext(ctx, &rows, `SELECT id_hash, user_id, created_at, last_seen_at, expires_at, client_ip, user_agent
		FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND factor_pending = 0 AND expires_at > ? AND last_seen_at > ?
		ORDER BY last_seen_at DESC, created_at DESC`, userID, now, now-m.cfg.Idle.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("auth: list sessions of user %d: %w", userID, err)
	}
	out := make([]Session, len(rows))
	for i, r := range rows {
		out[i] = Session{IDHash: r.IDHash, UserID: r.UserID, CreatedAt: fromMillis(r.CreatedAt), LastSeenAt: fromMillis(r.LastSeenAt),
			ExpiresAt: fromMillis(r.ExpiresAt), ClientIP: r.ClientIP, UserAgent: r.UserAgent}
	}
	return out, nil
}

// ErrSessionNotFound: no active session of the user has that handle.
var ErrSessionNotFound = errors.New("that session has already ended")

// EndByHandle ends one of the user's active sessions, named by its
// Handle. Someone else's session is never found.
func (m *SessionManager) EndByHandle(ctx context.Context, userID int64, handle string) (*Session, error) {
	list, err := m.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if subtleEqual(list[i].Handle(), handle) {
			if err := m.revoke(ctx, list[i].IDHash, "ended_by_user"); err != nil {
				return nil, err
			}
			return &list[i], nil
		}
	}
	return nil, ErrSessionNotFound
}

func subtleEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

func (m *SessionManager) revoke(ctx context.Context, idHash, reason string) error {
	if _, err := m.db.Write.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoked_reason = ?
		WHERE id_hash = ? AND revoked_at IS NULL`, millis(m.now()), reason, idHash); err != nil {
		return fmt.Errorf("auth: end session: %w", err)
	}
	return nil
}

// End signs the request's session out: the row is revoked server-side, so
// the cookie is useless even if a copy survives, and the cookie is
// cleared. It is safe to call without a session.
func (m *SessionManager) End(w http.ResponseWriter, r *http.Request) error {
	if id := m.cookieID(r); id != "" {
		if err := m.revoke(r.Context(), hashID(id), "signout"); err != nil {
			return err
		}
	}
	return m.writeCookie(w, r, "", -1)
}

// RevokeUser ends every session of the user and returns how many ended.
func (m *SessionManager) RevokeUser(ctx context.Context, userID int64, reason string) (int64, error) {
	var n int64
	err := m.db.WriteTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = revokeUserSessions(ctx, tx, userID, millis(m.now()), reason)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("auth: end sessions of user %d: %w", userID, err)
	}
	return n, nil
}

func revokeUserSessions(ctx context.Context, tx *sqlx.Tx, userID, nowMS int64, reason string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoked_reason = ?
		WHERE user_id = ? AND revoked_at IS NULL`, nowMS, reason, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// clientIP is the address recorded with a session. The web layer passes
// the proxy-aware address in the context (see WithActor); without it, the
// connection's remote address is used.
func clientIP(r *http.Request) string {
	if a := ActorFrom(r.Context()); a.ClientIP != "" {
		return truncate(a.ClientIP, maxSubjectLen)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return truncate(host, maxSubjectLen)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
