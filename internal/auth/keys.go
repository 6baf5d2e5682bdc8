package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/devserver-console/console/internal/secrets"
	"github.com/devserver-console/console/internal/store"
)

// MinKeyLen is the shortest accepted session key, in bytes.
const MinKeyLen = 32

// sessionKeySetting is the settings row holding a generated session key.
const sessionKeySetting = "session_key"

// ParseKey decodes a configured session key (secrets.DecodeKey: hex, or
// standard or URL-safe base64, padded or not). It must decode to at least
// MinKeyLen bytes. The error never repeats the key.
func ParseKey(s string) ([]byte, error) {
	key, err := secrets.DecodeKey(s)
	if err != nil {
		return nil, fmt.Errorf("session key is %w", err)
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("session key decodes to %d bytes; want at least %d (try: openssl rand -hex 32)", len(key), MinKeyLen)
	}
	return key, nil
}

// KeyFromSettings returns the session key: the configured one (see
// ParseKey) when set, else the key kept in the settings table, generating
// and storing a random 32-byte key the first time so restarts keep
// everyone signed in.
func KeyFromSettings(ctx context.Context, db *store.DB, configured string) ([]byte, error) {
	if strings.TrimSpace(configured) != "" {
		k, err := ParseKey(configured)
		if err != nil {
			return nil, fmt.Errorf("auth: CONSOLE_SESSION_KEY: %w", err)
		}
		return k, nil
	}
	if k, err := storedKey(ctx, db); err != nil || k != nil {
		return k, err
	}
	k := make([]byte, MinKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("auth: generate session key: %w", err)
	}
	// Another process may have stored one meanwhile: keep the first.
	if _, err := db.Write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
		sessionKeySetting, k); err != nil {
		return nil, fmt.Errorf("auth: store session key: %w", err)
	}
	k, err := storedKey(ctx, db)
	if err == nil && k == nil {
		err = errors.New("auth: session key vanished after storing it")
	}
	return k, err
}

func storedKey(ctx context.Context, db *store.DB) ([]byte, error) {
	var k []byte
	err := db.Write.GetContext(ctx, &k, `SELECT value FROM settings WHERE key = ?`, sessionKeySetting)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: read session key: %w", err)
	}
	if len(k) < MinKeyLen {
		return nil, fmt.Errorf("auth: stored session key is %d bytes; want at least %d", len(k), MinKeyLen)
	}
	return k, nil
}
