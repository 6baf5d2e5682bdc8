// Package secrets seals small secrets kept at rest (the admin password and
// user data of an OS change waiting for approval) with AES-256-GCM under a
// key that is never stored in the database: it comes from
// CONSOLE_SECRET_KEY, or from a key file beside the database that is
// created, readable by its owner only, on first start.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeyLen is the length of a key in bytes (AES-256).
const KeyLen = 32

// KeyFileSuffix names the key file beside the database: CONSOLE_DB plus
// this suffix, e.g. ./data/console.db.secret-key.
const KeyFileSuffix = ".secret-key"

// ErrOpen is returned by Open for a sealed value that does not decrypt
// under this key and label: a different key, or altered bytes.
var ErrOpen = errors.New("secrets: the sealed value does not open with this key (wrong key or altered data)")

// version is the first byte of every sealed value, so the format can change.
const version = 1

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a KeyLen-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeyLen {
		return nil, fmt.Errorf("secrets: key is %d bytes; want %d", len(key), KeyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to label (for example a request id): a
// sealed value copied to another label does not open.
func (b *Box) Seal(plaintext []byte, label string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secrets: nonce: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(plaintext)+b.aead.Overhead())
	out = append(out, version)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, []byte(label)), nil
}

// Open decrypts a value sealed under label, or returns ErrOpen.
func (b *Box) Open(sealed []byte, label string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(label))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Errors of DecodeKey.
var (
	ErrKeyEmpty    = errors.New("empty")
	ErrKeyEncoding = errors.New("neither hex nor base64")
)

// DecodeKey decodes a key as the console accepts every configured key (the
// secret key, the audit key, the session key): hex, or standard or
// URL-safe base64, padded or not, surrounding space ignored. It fails with
// ErrKeyEmpty or ErrKeyEncoding, never repeating the key; each caller
// checks the length its key needs.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ErrKeyEmpty
	}
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, ErrKeyEncoding
}

// ParseKey decodes a configured key (DecodeKey) of exactly KeyLen bytes.
// The error never repeats the key.
func ParseKey(s string) ([]byte, error) {
	key, err := DecodeKey(s)
	if err != nil {
		return nil, fmt.Errorf("the key is %w", err)
	}
	if len(key) != KeyLen {
		return nil, fmt.Errorf("the key decodes to %d bytes; want %d (try: openssl rand -hex 32)", len(key), KeyLen)
	}
	return key, nil
}

// KeyFilePath is the key file used for the database at dbPath.
func KeyFilePath(dbPath string) string { return dbPath + KeyFileSuffix }

// LoadKey returns the key: configured (CONSOLE_SECRET_KEY) when not empty,
// else read from path, which is created with a new random key, mode 0600,
// when it does not exist. created reports a new file. A key file that
// group or others may read or write is refused: fix its mode or move the
// key into CONSOLE_SECRET_KEY.
func LoadKey(configured, path string) (key []byte, created bool, err error) {
	if strings.TrimSpace(configured) != "" {
		k, err := ParseKey(configured)
		if err != nil {
			return nil, false, fmt.Errorf("CONSOLE_SECRET_KEY: %w", err)
		}
		return k, false, nil
	}
	k, err := readKeyFile(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	k = make([]byte, KeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, false, fmt.Errorf("secrets: generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process created it first: use theirs
		k, err := readKeyFile(path)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("secrets: create key file %s: %w", path, err)
	}
	_, werr := f.WriteString(hex.EncodeToString(k) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("secrets: write key file %s: %w", path, err)
	}
	return k, true, nil
}

func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secrets: key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: key file %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets: key file %s has mode %04o; others must not read it: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file %s: %w", path, err)
	}
	k, err := ParseKey(string(raw))
	if err != nil {
		return nil, fmt.Errorf("secrets: key file %s: %w", path, err)
	}
	return k, nil
}
