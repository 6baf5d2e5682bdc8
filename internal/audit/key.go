package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/devserver-console/console/internal/config"
)

// EventChainKeyed is the entry that switches the chain to the keyed
// (HMAC-SHA256) form: it and every entry after it are hashed under the audit
// key. Its detail names the key by KeyID.
const EventChainKeyed EventKind = "audit.keyed"

// ErrNoKey is returned when an append or a verification needs the audit key
// and the store has none.
var ErrNoKey = errors.New("audit: the audit log is keyed and no audit key was given (CONSOLE_AUDIT_KEY or CONSOLE_AUDIT_KEY_FILE)")

// ErrWrongKey is returned by UseKey when the log is chained under another key.
var ErrWrongKey = errors.New("audit: the audit key is not the key this log is chained under")

// keyIDLabel derives the public name of a key.
const keyIDLabel = "console-audit-key-id"

// KeyID names key without revealing it: the first 16 hex digits of
// HMAC-SHA256(key, "console-audit-key-id").
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(keyIDLabel))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// KeySource says where the audit key comes from.
type KeySource struct {
	Text   string // CONSOLE_AUDIT_KEY, hex or base64
	File   string // CONSOLE_AUDIT_KEY_FILE
	DBPath string // the database; the default file is config.DefaultAuditKeyFile(DBPath)
}

// LoadedKey is an audit key and where it came from.
type LoadedKey struct {
	Key     []byte
	Path    string // the file it was read from or created in; "" when given as text
	Created bool   // a new key file was created
}

// LoadKey returns the audit key: the text when given, else the named file,
// else the default file beside the database. When create is set and the
// default file does not exist, a new random key is written to it (mode
// 0600, never overwriting). Without create, a missing default file yields a
// nil key and no error: the caller works without a key.
func LoadKey(src KeySource, create bool) (LoadedKey, error) {
	if src.Text != "" {
		k, err := config.ParseAuditKey(src.Text)
		if err != nil {
			return LoadedKey{}, fmt.Errorf("audit: CONSOLE_AUDIT_KEY: %w", err)
		}
		return LoadedKey{Key: k}, nil
	}
	if src.File != "" {
		k, err := readKeyFile(src.File)
		if err != nil {
			return LoadedKey{}, err
		}
		return LoadedKey{Key: k, Path: src.File}, nil
	}
	path := config.DefaultAuditKeyFile(src.DBPath)
	k, err := readKeyFile(path)
	if err == nil {
		return LoadedKey{Key: k, Path: path}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return LoadedKey{}, err
	}
	if !create {
		return LoadedKey{}, nil
	}
	k = make([]byte, config.MinAuditKeyLen)
	if _, err := rand.Read(k); err != nil {
		return LoadedKey{}, fmt.Errorf("audit: generate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return LoadedKey{}, fmt.Errorf("audit: create key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process created it meanwhile: use theirs
		k, err := readKeyFile(path)
		return LoadedKey{Key: k, Path: path}, err
	}
	if err != nil {
		return LoadedKey{}, fmt.Errorf("audit: create key file: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(k) + "\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return LoadedKey{}, fmt.Errorf("audit: write key file %s: %w", path, werr)
	}
	return LoadedKey{Key: k, Path: path, Created: true}, nil
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read key file: %w", err)
	}
	k, err := config.ParseAuditKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("audit: key file %s: %w", path, err)
	}
	return k, nil
}

// SetKey gives the store the audit key without writing anything: appends
// are then chained under it (the switch entry is written by the first
// append if the log has no keyed part yet) and Verify checks the keyed
// part. Use UseKey at start instead, which also checks the key.
func (s *Store) SetKey(key []byte) {
	s.kmu.Lock()
	defer s.kmu.Unlock()
	s.key = append([]byte(nil), key...)
	s.keyID = KeyID(key)
}

func (s *Store) currentKey() ([]byte, string) {
	s.kmu.Lock()
	defer s.kmu.Unlock()
	return s.key, s.keyID
}

// KeyID names the audit key the store chains under (see KeyID), without
// revealing it; "" when it has none.
func (s *Store) KeyID() string {
	_, id := s.currentKey()
	return id
}

// ReadCheckpointFile reads the anchor file at path and checks every
// checkpoint's signature with the store's audit key (see ReadCheckpoints);
// without a key it fails with ErrNoKey.
func (s *Store) ReadCheckpointFile(path string) ([]Checkpoint, error) {
	key, _ := s.currentKey()
	return ReadCheckpointFile(path, key)
}

// UseKey sets the audit key, checks that the log (if already keyed) is
// chained under it, and makes sure the switch to the keyed chain is
// recorded: on a log that has no keyed part yet it appends the
// EventChainKeyed entry, so existing logs continue under the key. It costs
// one index lookup however long the log is.
func (s *Store) UseKey(ctx context.Context, key []byte) error {
	id := KeyID(key)
	sw, err := s.keyedSwitch(ctx)
	if err != nil {
		return err
	}
	if sw != nil && sw.keyID != id {
		return fmt.Errorf("%w: entries from #%d are chained under key %s, the key given is %s; restore the key file from its backup",
			ErrWrongKey, sw.id, sw.keyID, id)
	}
	s.SetKey(key)
	if sw != nil {
		s.keyedFrom.Store(sw.id)
		return nil
	}
	// The first keyed append writes the switch entry (insertTx).
	if err := s.append(ctx); err != nil {
		return fmt.Errorf("audit: switch to the keyed chain: %w", err)
	}
	return nil
}

type keyedSwitch struct {
	id    int64
	keyID string
}

// keyedSwitch returns the log's switch entry, or nil when the log is not keyed.
func (s *Store) keyedSwitch(ctx context.Context) (*keyedSwitch, error) {
	return switchIn(ctx, s.db.Read)
}

type getter interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func switchIn(ctx context.Context, q getter) (*keyedSwitch, error) {
	var id int64
	var detail string
	err := q.QueryRowContext(ctx, `SELECT id, detail FROM audit_entries WHERE kind = ? ORDER BY id LIMIT 1`, string(EventChainKeyed)).Scan(&id, &detail)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: find the keyed chain's start: %w", err)
	}
	return &keyedSwitch{id: id, keyID: detailKeyID(detail)}, nil
}

func detailKeyID(detail string) string {
	var d map[string]string
	if json.Unmarshal([]byte(detail), &d) != nil {
		return ""
	}
	return d["key_id"]
}

// switchEntry is the entry that starts the keyed chain.
func switchEntry(keyID string) *Entry {
	return &Entry{
		Kind:   EventChainKeyed,
		Action: string(EventChainKeyed),
		Actor:  Actor{Name: "console", Role: "system"},
		Detail: map[string]string{
			"key_id": keyID,
			"scheme": "HMAC-SHA256, console-audit-v2",
			"note":   "from this entry on, each entry's hash is keyed; earlier entries keep the plain SHA-256 chain",
		},
	}
}
