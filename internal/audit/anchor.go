package audit

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strconv"
	"sync"
	"time"
)

// A Checkpoint binds the audit log's head at one moment: the newest entry's
// id and hash and how many entries the log held up to it, signed with the
// audit key. Checkpoints are written outside the database (AnchorSink), so
// that cutting the log back past one is detected by VerifyOptions.Anchors.
type Checkpoint struct {
	EntryID int64     `json:"entry_id"`
	Hash    string    `json:"hash"`
	Count   int64     `json:"count"`
	At      time.Time `json:"at"`
	KeyID   string    `json:"key_id"`
	MAC     string    `json:"mac"` // hex HMAC-SHA256 under the audit key of signedText()
}

// anchorDomain prefixes the signed text of a checkpoint.
const anchorDomain = "console-audit-checkpoint-v1\n"

func (c Checkpoint) signedText() string {
	return anchorDomain + strconv.FormatInt(c.EntryID, 10) + "\n" + c.Hash + "\n" +
		strconv.FormatInt(c.Count, 10) + "\n" + c.At.UTC().Format(timeLayout) + "\n" + c.KeyID + "\n"
}

func (c Checkpoint) mac(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(c.signedText()))
	return hex.EncodeToString(m.Sum(nil))
}

// Line is the checkpoint as one JSON line (with the newline).
func (c Checkpoint) Line() []byte {
	c.At = c.At.UTC()
	b, _ := json.Marshal(c) // fixed struct of strings, ints and a time: cannot fail
	return append(b, '\n')
}

// AnchorSink receives checkpoints. Append must return only once the
// checkpoint is durable where it is kept.
type AnchorSink interface {
	Append(ctx context.Context, c Checkpoint) error
	String() string
}

// FileSink appends checkpoints as JSON lines to a file, fsyncing each. Keep
// the file outside the database's directory, ideally on another machine's
// mount or a write-once medium: whoever can rewrite both can forge history.
type FileSink struct{ Path string }

// Append writes c as one line and fsyncs the file. The file is opened for
// every checkpoint, so rotating or moving it needs no restart.
func (f FileSink) Append(_ context.Context, c Checkpoint) error {
	fh, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: anchor file: %w", err)
	}
	_, werr := fh.Write(c.Line())
	if werr == nil {
		werr = fh.Sync()
	}
	if cerr := fh.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("audit: anchor file %s: %w", f.Path, werr)
	}
	return nil
}

func (f FileSink) String() string { return "file " + f.Path }

// SyslogSink sends checkpoints to the local syslog (facility auth, tag
// console-audit), from where a log shipper can take them off the machine.
type SyslogSink struct {
	mu sync.Mutex
	w  *syslog.Writer
}

// NewSyslogSink connects to the local syslog daemon.
func NewSyslogSink() (*SyslogSink, error) {
	w, err := syslog.New(syslog.LOG_AUTH|syslog.LOG_INFO, "console-audit")
	if err != nil {
		return nil, fmt.Errorf("audit: connect to syslog: %w", err)
	}
	return &SyslogSink{w: w}, nil
}

// Append sends c as one message.
func (s *SyslogSink) Append(_ context.Context, c Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Info("checkpoint " + string(c.Line()[:len(c.Line())-1])); err != nil {
		return fmt.Errorf("audit: syslog checkpoint: %w", err)
	}
	return nil
}

func (s *SyslogSink) String() string { return "syslog" }

// Close disconnects from syslog.
func (s *SyslogSink) Close() error { return s.w.Close() }

// anchorState is the Store's checkpointing state.
type anchorState struct {
	soon    chan struct{} // AnchorSoon → RunAnchors; buffered 1
	mu      sync.Mutex    // serializes Anchor
	sinks   []AnchorSink
	lastID  int64 // entry of the last checkpoint written; 0: none yet
	lastCnt int64
}

// SetAnchors sets where checkpoints go.
func (s *Store) SetAnchors(sinks ...AnchorSink) {
	s.anchors.mu.Lock()
	defer s.anchors.mu.Unlock()
	s.anchors.sinks = sinks
}

// Anchor writes a signed checkpoint of the log's current head to every sink,
// unless the head has not moved since the last one. The batch path calls it
// after every batch, and RunAnchors at least every interval. It needs the
// audit key; without sinks it does nothing.
func (s *Store) Anchor(ctx context.Context) error {
	s.anchors.mu.Lock()
	defer s.anchors.mu.Unlock()
	if len(s.anchors.sinks) == 0 {
		return nil
	}
	key, keyID := s.currentKey()
	if key == nil {
		return fmt.Errorf("audit: anchor: %w", ErrNoKey)
	}
	var head struct {
		ID   int64  `db:"id"`
		Hash string `db:"hash"`
	}
	err := s.db.Read.GetContext(ctx, &head, `SELECT id, hash FROM audit_entries ORDER BY id DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && head.ID == s.anchors.lastID) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: anchor: read head: %w", err)
	}
	// Count incrementally from the last checkpoint: the first one counts
	// the whole log once.
	var n int64
	if err := s.db.Read.GetContext(ctx, &n, `SELECT count(*) FROM audit_entries WHERE id > ? AND id <= ?`,
		s.anchors.lastID, head.ID); err != nil {
		return fmt.Errorf("audit: anchor: count entries: %w", err)
	}
	c := Checkpoint{EntryID: head.ID, Hash: head.Hash, Count: s.anchors.lastCnt + n, At: s.Now().UTC().Truncate(time.Microsecond), KeyID: keyID}
	c.MAC = c.mac(key)
	var errs []error
	for _, sink := range s.anchors.sinks {
		if err := sink.Append(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.anchors.lastID, s.anchors.lastCnt = c.EntryID, c.Count
	return nil
}

// AnchorSoon asks RunAnchors for a checkpoint now, without waiting for it.
// The Recorder calls it after every response it records, so each batch is
// checkpointed as its chunks are answered; several requests made while one
// checkpoint is written become one more checkpoint.
func (s *Store) AnchorSoon() {
	select {
	case s.anchors.soon <- struct{}{}:
	default:
	}
}

// RunAnchors calls Anchor every interval, and when AnchorSoon asks, until
// ctx ends, logging failures. It writes one checkpoint at once.
func (s *Store) RunAnchors(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Anchor(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "audit: could not write a checkpoint of the audit log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.anchors.soon:
		}
	}
}

// ReadCheckpoints reads an anchor file written by FileSink and checks every
// checkpoint's signature with key. Blank lines are skipped; anything else
// that is not a checkpoint signed by key is an error naming its line, since
// a verifier cannot tell a damaged anchor from a forged one.
func ReadCheckpoints(r io.Reader, key []byte) ([]Checkpoint, error) {
	if key == nil {
		return nil, fmt.Errorf("audit: checking checkpoints: %w", ErrNoKey)
	}
	keyID := KeyID(key)
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var c Checkpoint
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("audit: anchor line %d is not a checkpoint: %w", line, err)
		}
		if c.KeyID != keyID {
			return nil, fmt.Errorf("audit: anchor line %d was signed with key %s, not with the key given (%s)", line, c.KeyID, keyID)
		}
		if !hmac.Equal([]byte(c.MAC), []byte(c.mac(key))) {
			return nil, fmt.Errorf("audit: anchor line %d (entry %d): the signature does not match: the checkpoint was forged or altered", line, c.EntryID)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit: read anchor: %w", err)
	}
	return out, nil
}

// ReadCheckpointFile reads the anchor file at path (see ReadCheckpoints).
func ReadCheckpointFile(path string, key []byte) ([]Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open anchor: %w", err)
	}
	defer f.Close()
	return ReadCheckpoints(f, key)
}
