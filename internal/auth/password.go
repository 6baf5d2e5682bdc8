package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/argon2"
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
//
// Each argon2id run allocates its memory parameter (19 MiB) afresh. The Go
// runtime keeps freed heap mapped and returns it to the system only
// slowly, so a console that has hashed a few passwords would sit tens of
// MiB larger while idle. When the last run in flight ends and no other
// starts for releaseAfter, the hasher hands the memory back at once.
type hasher struct {
	params argon2id.Params
	sem    chan struct{}
	dummy  string // random salt and key in PHC form, verified for unknown users

	mu       sync.Mutex
	inFlight int
	timer    *time.Timer
	// freeMemory returns unused heap to the system (debug.FreeOSMemory).
	freeMemory func()
}

// releaseAfter is how long the hasher waits after the last argon2id run
// before returning its memory: long enough that a burst of sign-ins
// reuses it, short enough that an idle console stays small.
const releaseAfter = 2 * time.Second

func newHasher(params argon2id.Params, concurrency int) (*hasher, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &hasher{params: params, sem: make(chan struct{}, concurrency), freeMemory: debug.FreeOSMemory}
	// The dummy "hash" is random bytes in the PHC format with the current
	// parameters: verifying against it costs exactly one argon2id run, no
	// password matches it, and making it costs no hashing (and none of the
	// 19 MiB) at start.
	salt := make([]byte, params.SaltLength)
	key := make([]byte, params.KeyLength)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("auth: dummy hash: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("auth: dummy hash: %w", err)
	}
	h.dummy = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, params.Memory, params.Iterations, params.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	return h, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		h.mu.Lock()
		h.inFlight++
		if h.timer != nil {
			h.timer.Stop()
		}
		h.mu.Unlock()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: wait to hash password: %w", ctx.Err())
	}
}

func (h *hasher) release() {
	<-h.sem
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight--
	if h.inFlight > 0 {
		return
	}
	if h.timer == nil {
		h.timer = time.AfterFunc(releaseAfter, h.releaseMemory)
	} else {
		h.timer.Reset(releaseAfter)
	}
}

// releaseMemory returns the argon2id buffers to the system unless a run
// started meanwhile.
func (h *hasher) releaseMemory() {
	h.mu.Lock()
	idle := h.inFlight == 0
	h.mu.Unlock()
	if idle {
		h.freeMemory()
	}
}

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
	s, err := randomString(25)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < len(s); i += 5 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i : i+5])
	}
	return b.String(), nil
}

// randomString returns n characters drawn uniformly from passwordAlphabet.
func randomString(n int) (string, error) {
	// Rejection sampling keeps every letter equally likely: bytes at or
	// above the largest multiple of the alphabet size are drawn again.
	limit := byte(256 - 256%len(passwordAlphabet))
	var b strings.Builder
	var one [1]byte
	for i := 0; i < n; {
		if _, err := rand.Read(one[:]); err != nil {
			return "", fmt.Errorf("auth: random string: %w", err)
		}
		if one[0] >= limit {
			continue
		}
		b.WriteByte(passwordAlphabet[int(one[0])%len(passwordAlphabet)])
		i++
	}
	return b.String(), nil
}
