package auth

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Errors about second factors.
var (
	ErrFactorEnrolled = errors.New("a second factor is already set up; an admin can reset it")
	ErrNoEnrolment    = errors.New("no second-factor set-up is in progress; start it again")
	ErrNoFactor       = errors.New("this user has no second factor")
)

// Reasons a second-factor check failed, for the audit log.
const (
	ReasonWrongCode = "wrong_code"
	ReasonCodeReuse = "code_reused"
)

// Second-factor methods, for the audit log.
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
)

// RecoveryCodeCount is how many one-time recovery codes an enrolment gives.
const RecoveryCodeCount = 10

// totpOpts are the RFC 6238 parameters every authenticator app defaults
// to: SHA-1, six digits, 30-second steps. One step either side is allowed
// for clock drift.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is a second factor waiting for its first code.
type Enrolment struct {
	Secret string // base32, shown as text for typing into an app
	URL    string // otpauth:// URL, the QR code's content
	QRPNG  []byte // the QR code as a PNG image
}

// StartEnrolment creates a new TOTP secret for u, replacing any earlier
// unconfirmed one. A user with a confirmed factor gets ErrFactorEnrolled.
func (s *Store) StartEnrolment(ctx context.Context, userID int64) (*Enrolment, error) {
	u, err := s.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.issuer, AccountName: u.Name, Period: totpOpts.Period,
		Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm, SecretSize: 20,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: new TOTP secret: %w", err)
	}
	sealed, err := s.sealer.seal(key.Secret(), userID)
	if err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(tx *sqlx.Tx) error {
		var confirmed sql.NullInt64
		err := tx.GetContext(ctx, &confirmed, `SELECT confirmed_at FROM user_factors WHERE user_id = ?`, userID)
		if err == nil && confirmed.Valid {
			return ErrFactorEnrolled
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO user_factors (user_id, secret, created_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0`,
			userID, sealed, millis(s.now()))
		return err
	})
	if errors.Is(err, ErrFactorEnrolled) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("auth: start second-factor set-up for user %d: %w", userID, err)
	}
	return s.enrolment(u.Name, key.Secret())
}

// PendingEnrolment returns the user's unconfirmed factor, or nil when
// there is none.
func (s *Store) PendingEnrolment(ctx context.Context, userID int64) (*Enrolment, error) {
	f, err := s.factor(ctx, s.db.Read, userID)
	if errors.Is(err, ErrNoFactor) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if f.confirmed {
		return nil, nil
	}
	u, err := s.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.enrolment(u.Name, f.secret)
}

func (s *Store) enrolment(name, secret string) (*Enrolment, error) {
	key, err := otp.NewKeyFromURL((&totpURL{issuer: s.issuer, account: name, secret: secret}).String())
	if err != nil {
		return nil, fmt.Errorf("auth: TOTP key: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("auth: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("auth: QR code: %w", err)
	}
	return &Enrolment{Secret: secret, URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// totpURL builds the otpauth:// URL authenticator apps read.
type totpURL struct{ issuer, account, secret string }

func (t *totpURL) String() string {
	q := "secret=" + t.secret + "&issuer=" + urlEscape(t.issuer) + "&period=30&digits=6&algorithm=SHA1"
	return "otpauth://totp/" + urlEscape(t.issuer) + ":" + urlEscape(t.account) + "?" + q
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ConfirmEnrolment checks the first code from the user's app. On success
// the factor is on and the ten recovery codes are returned: they are shown
// once and only their hashes are kept. A wrong code counts towards the
// sign-in delays of the user's name from clientIP.
func (s *Store) ConfirmEnrolment(ctx context.Context, userID int64, code, clientIP string) ([]string, error) {
	var codes []string
	var u *User
	var cerr error
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, userID)
		if err != nil {
			return err
		}
		u = r.user()
		f, err := s.factor(ctx, tx, userID)
		if errors.Is(err, ErrNoFactor) {
			return ErrNoEnrolment
		}
		if err != nil {
			return err
		}
		if f.confirmed {
			return ErrFactorEnrolled
		}
		subject := userSubject(u.Name)
		if err := s.lockSubjectsTx(ctx, tx, subject, clientIP); err != nil {
			return err
		}
		now := s.now()
		if le, err := lockedOutQ(ctx, tx, subject, clientIP, now); err != nil || le != nil {
			if le != nil {
				cerr = le
			}
			return err
		}
		step, ok := matchTOTP(f.secret, code, now, f.lastStep)
		if !ok {
			ce := &CredentialsError{Reason: ReasonWrongCode}
			le, err := s.countFailure(ctx, tx, subject, clientIP, now)
			if err != nil {
				return err
			}
			cerr = ce
			if le != nil {
				cerr = errors.Join(ce, le)
			}
			return nil
		}
		// Conditional: of two replicas confirming at once, one does.
		res, err := tx.ExecContext(ctx, `UPDATE user_factors SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND confirmed_at IS NULL`,
			millis(now), step, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrFactorEnrolled
		}
		codes, err = newRecoveryCodes(ctx, tx, userID)
		return err
	})
	switch {
	case errors.Is(err, ErrNoEnrolment), errors.Is(err, ErrFactorEnrolled), errors.Is(err, ErrUserNotFound):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("auth: confirm second factor of user %d: %w", userID, err)
	}
	if cerr != nil {
		detail := map[string]string{"reason": ReasonWrongCode, "step": "enrolment"}
		var le *LockedError
		if errors.As(cerr, &le) {
			detail["delayed_until"] = le.Until.UTC().Format(time.RFC3339)
			if !errors.Is(cerr, ErrInvalidCredentials) {
				detail["reason"] = "delayed"
			}
		}
		if rerr := s.emit(ctx, EventFactorFailure, u, detail); rerr != nil {
			return nil, errors.Join(cerr, rerr)
		}
		return nil, cerr
	}
	if err := s.emit(ctx, EventFactorEnrolled, u, map[string]string{"method": MethodTOTP, "recovery_codes": strconv.Itoa(len(codes))}); err != nil {
		return codes, err
	}
	return codes, nil
}

// VerifyFactor checks a code given at sign-in: a current TOTP code not
// used before, or an unused recovery code (which is then used up). It
// returns the method that matched. Failures match ErrInvalidCredentials
// (a *CredentialsError with ReasonWrongCode or ReasonCodeReuse) and count
// towards the sign-in delays; while a delay is in force the code is not
// checked and the error matches ErrLocked. The caller audits failures
// like failed sign-ins; recovery-code use is audited here.
func (s *Store) VerifyFactor(ctx context.Context, userID int64, code, clientIP string) (string, error) {
	if len(clientIP) > maxSubjectLen {
		clientIP = clientIP[:maxSubjectLen]
	}
	var u *User
	var cerr error
	method := ""
	left := 0
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, userID)
		if err != nil {
			return err
		}
		u = r.user()
		f, err := s.factor(ctx, tx, userID)
		if err != nil {
			return err
		}
		if !f.confirmed {
			return ErrNoFactor
		}
		subject := userSubject(u.Name)
		if err := s.lockSubjectsTx(ctx, tx, subject, clientIP); err != nil {
			return err
		}
		now := s.now()
		if le, err := lockedOutQ(ctx, tx, subject, clientIP, now); err != nil || le != nil {
			if le != nil {
				cerr = le
			}
			return err
		}
		reason := ReasonWrongCode
		if isTOTPCode(code) {
			step, ok := matchTOTP(f.secret, code, now, 0)
			if ok && step > f.lastStep {
				// Conditional, so that of two replicas accepting the same
				// code at once only one does.
				res, err := tx.ExecContext(ctx, `UPDATE user_factors SET last_step = ? WHERE user_id = ? AND last_step < ?`, step, userID, step)
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n == 1 {
					method = MethodTOTP
				} else {
					reason = ReasonCodeReuse
				}
			} else if ok {
				reason = ReasonCodeReuse
			}
		} else if h := recoveryHash(code); h != "" {
			res, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`,
				millis(now), userID, h)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				method = MethodRecoveryCode
				if err := tx.GetContext(ctx, &left, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID); err != nil {
					return err
				}
			}
		}
		if method != "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM signin_throttle WHERE kind = 'pair' AND name = ? AND addr = ?`, subject, clientIP)
			return err
		}
		ce := &CredentialsError{Reason: reason}
		le, err := s.countFailure(ctx, tx, subject, clientIP, now)
		if err != nil {
			return err
		}
		cerr = ce
		if le != nil {
			cerr = errors.Join(ce, le)
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNoFactor), errors.Is(err, ErrUserNotFound):
		return "", err
	case err != nil:
		return "", fmt.Errorf("auth: check second factor of user %d: %w", userID, err)
	case cerr != nil:
		return "", cerr
	}
	if method == MethodRecoveryCode {
		if err := s.emit(ctx, EventRecoveryCodeUsed, u, map[string]string{"recovery_codes_left": strconv.Itoa(left)}); err != nil {
			return "", err
		}
	}
	return method, nil
}

// ResetFactor removes a user's second factor and recovery codes (an admin
// does this for a user who lost their device). Users whose role needs a
// factor must set up a new one at their next request.
func (s *Store) ResetFactor(ctx context.Context, userID int64) error {
	var u *User
	var had bool
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		r, err := s.row(ctx, tx, `WHERE id = ?`, userID)
		if err != nil {
			return err
		}
		u = r.user()
		res, err := tx.ExecContext(ctx, `DELETE FROM user_factors WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		had = n > 0
		_, err = tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID)
		return err
	})
	if err != nil {
		return wrapUserErr("reset second factor of", userID, err)
	}
	if !had {
		return nil
	}
	return s.emit(ctx, EventFactorReset, u, map[string]string{"had_factor": strconv.FormatBool(u.HasFactor)})
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	if err := s.db.Read.GetContext(ctx, &n, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID); err != nil {
		return 0, fmt.Errorf("auth: count recovery codes: %w", err)
	}
	return n, nil
}

type factor struct {
	secret    string
	confirmed bool
	lastStep  int64
}

func (s *Store) factor(ctx context.Context, q sqlx.QueryerContext, userID int64) (*factor, error) {
	var row struct {
		Secret    string        `db:"secret"`
		Confirmed sql.NullInt64 `db:"confirmed_at"`
		LastStep  int64         `db:"last_step"`
	}
	err := sqlx.GetContext(ctx, q, &row, `SELECT secret, confirmed_at, last_step FROM user_factors WHERE user_id = ?`, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoFactor
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load second factor: %w", err)
	}
	secret, err := s.sealer.open(row.Secret, userID)
	if err != nil {
		return nil, err
	}
	return &factor{secret: secret, confirmed: row.Confirmed.Valid, lastStep: row.LastStep}, nil
}

// SealPlainFactors seals every second factor still stored in plain text
// (enrolled before the console had a secret key) and returns how many it
// sealed. Without a key it does nothing. Each row is replaced only if it
// still holds the plain text read, so a concurrent enrolment wins.
func (s *Store) SealPlainFactors(ctx context.Context) (int, error) {
	if s.sealer.aead == nil {
		return 0, nil
	}
	var rows []struct {
		UserID int64  `db:"user_id"`
		Secret string `db:"secret"`
	}
	if err := s.db.Read.SelectContext(ctx, &rows, `SELECT user_id, secret FROM user_factors WHERE secret LIKE 'plain:%'`); err != nil {
		return 0, fmt.Errorf("auth: find plain second factors: %w", err)
	}
	n := 0
	for _, r := range rows {
		sealed, err := s.sealer.seal(strings.TrimPrefix(r.Secret, plainPrefix), r.UserID)
		if err != nil {
			return n, err
		}
		err = s.tx(ctx, func(tx *sqlx.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE user_factors SET secret = ? WHERE user_id = ? AND secret = ?`, sealed, r.UserID, r.Secret)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 1 {
				n++
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("auth: seal second factor of user %d: %w", r.UserID, err)
		}
	}
	return n, nil
}

// isTOTPCode reports whether code is six digits (spaces ignored).
func isTOTPCode(code string) bool {
	c := strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(c) != 6 {
		return false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// matchTOTP finds the time step (within the allowed skew) whose code is
// code and that is after notBefore. It compares in constant time.
func matchTOTP(secret, code string, now time.Time, notBefore int64) (int64, bool) {
	if !isTOTPCode(code) {
		return 0, false
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	period := int64(totpOpts.Period)
	cur := now.Unix() / period
	var found int64
	ok := false
	for off := -int64(totpOpts.Skew); off <= int64(totpOpts.Skew); off++ {
		step := cur + off
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*period, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > notBefore {
			found, ok = step, true
		}
	}
	return found, ok
}

// newRecoveryCodes replaces the user's recovery codes with ten new ones
// and returns them. Each is ten letters and digits from a 31-character
// alphabet (about 49 bits), so a fast hash (SHA-256) is enough to keep
// them from being read off a copy of the database.
func newRecoveryCodes(ctx context.Context, tx *sqlx.Tx, userID int64) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return nil, err
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		c, err := randomString(10)
		if err != nil {
			return nil, err
		}
		codes[i] = c[:5] + "-" + c[5:]
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, recoveryHash(codes[i])); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

// recoveryHash normalises a typed recovery code (case, spaces, hyphens)
// and hashes it; "" for input that cannot be a recovery code.
func recoveryHash(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
		case strings.ContainsRune(passwordAlphabet, r):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != 10 {
		return ""
	}
	sum := sha256.Sum256([]byte("console recovery code v1:" + b.String()))
	return hex.EncodeToString(sum[:])
}

// sealer keeps TOTP secrets at rest: sealed with AES-256-GCM under a key
// derived from the console's secret key when there is one, else in plain
// text with a "plain:" prefix. Either form can be read back, so adding a
// key later keeps existing factors working (they are sealed when next
// enrolled).
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) == 0 {
		return &sealer{}, nil
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("auth: secret key is %d bytes; want at least %d", len(key), MinKeyLen)
	}
	block, err := aes.NewCipher(derive(key, "console totp secret sealing v1"))
	if err != nil {
		return nil, fmt.Errorf("auth: secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth: secret key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

const (
	plainPrefix  = "plain:"
	sealedPrefix = "sealed:v1:"
)

// seal binds the secret to its user id, so a sealed secret copied to
// another user's row does not open.
func (s *sealer) seal(secret string, userID int64) (string, error) {
	if s.aead == nil {
		return plainPrefix + secret, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("auth: seal secret: %w", err)
	}
	ct := s.aead.Seal(nonce, nonce, []byte(secret), []byte(strconv.FormatInt(userID, 10)))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

func (s *sealer) open(stored string, userID int64) (string, error) {
	switch {
	case strings.HasPrefix(stored, plainPrefix):
		return strings.TrimPrefix(stored, plainPrefix), nil
	case strings.HasPrefix(stored, sealedPrefix):
		if s.aead == nil {
			return "", errors.New("auth: the second factor is sealed with a secret key the console was not given")
		}
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(stored, sealedPrefix))
		if err != nil || len(raw) < s.aead.NonceSize() {
			return "", errors.New("auth: sealed second factor is damaged")
		}
		pt, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(strconv.FormatInt(userID, 10)))
		if err != nil {
			return "", errors.New("auth: sealed second factor does not open with this secret key")
		}
		return string(pt), nil
	}
	return "", errors.New("auth: stored second factor has an unknown format")
}
