package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// Password length limits. The upper bound keeps a single sign-in attempt
// cheap to reject; argon2id itself would accept anything.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// DefaultHashParams are the argon2id parameters for new password hashes:
// the OWASP recommendation of 19 MiB, two passes, one lane. Verification
// always uses the parameters stored in the hash, so they can be raised later.
var DefaultHashParams = argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// Validation errors returned by the user store. The web layer shows their
// text next to the offending field; none of them contain the password.
var (
	ErrInvalidName  = errors.New("user name must be 1 to 64 letters, digits, dots, hyphens or underscores, starting with a letter or digit")
	ErrInvalidRole  = errors.New("role must be viewer, operator, approver or admin")
	ErrWeakPassword = fmt.Errorf("password must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether name is acceptable as a user name.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return ErrInvalidName
	}
	return nil
}

// ValidPassword checks the password policy: length only (NIST SP 800-63B
// advises against composition rules), counted in characters.
func ValidPassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen || n > MaxPasswordLen || !utf8.ValidString(password) {
		return ErrWeakPassword
	}
	if strings.TrimSpace(password) == "" {
		return ErrWeakPassword
	}
	return nil
}

// hasher hashes and verifies passwords, bounding how many argon2id runs are
// in flight at once so a burst of sign-ins cannot exhaust memory.
type hasher struct {
	params argon2id.Params
	sem    chan struct{}
	dummy  string // a hash of a random password, verified for unknown users
}

func newHasher(params argon2id.Params, concurrency int) (*hasher, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &hasher{params: params, sem: make(chan struct{}, concurrency)}
	pw, err := randomPassword()
	if err != nil {
		return nil, err
	}
	h.dummy, err = argon2id.CreateHash(pw, &h.params)
	if err != nil {
		return nil, fmt.Errorf("auth: hash dummy password: %w", err)
	}
	return h, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: wait to hash password: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns the argon2id hash of password in PHC string format.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	s, err := argon2id.CreateHash(password, &h.params)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return s, nil
}

// verify reports whether password matches encoded. An empty encoded hash
// (unknown user) is checked against the dummy hash so the time taken does
// not reveal whether the user exists; the result is then always false.
func (h *hasher) verify(ctx context.Context, password, encoded string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	return h.compare(password, encoded)
}

// compare is verify for a caller that already holds a slot (acquire).
func (h *hasher) compare(password, encoded string) (bool, error) {
	if encoded == "" {
		_, err := argon2id.ComparePasswordAndHash(password, h.dummy)
		return false, err
	}
	ok, err := argon2id.ComparePasswordAndHash(password, encoded)
	if err != nil {
		return false, fmt.Errorf("auth: verify password: %w", err)
	}
	return ok, nil
}

// passwordAlphabet leaves out look-alike characters (0/O, 1/l/I).
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// randomPassword returns a random password of five groups of five
// characters from a 31-letter alphabet (about 124 bits), easy to read off a
// terminal and type.
func randomPassword() (string, error) {
	const groups, per = 5, 5
	// Rejection sampling keeps every letter equally likely: bytes at or
	// above the largest multiple of the alphabet size are drawn again.
	limit := byte(256 - 256%len(passwordAlphabet))
	var b strings.Builder
	var one [1]byte
	for n := 0; n < groups*per; {
		if _, err := rand.Read(one[:]); err != nil {
			return "", fmt.Errorf("auth: random password: %w", err)
		}
		if one[0] >= limit {
			continue
		}
		if n > 0 && n%per == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(passwordAlphabet[int(one[0])%len(passwordAlphabet)])
		n++
	}
	return b.String(), nil
}
