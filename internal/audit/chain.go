package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// timeLayout is how created_at is stored: UTC, fixed width, so that text
// order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// GenesisHash is the prev_hash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// chainDomain prefixes every hashed message, naming the encoding version.
const chainDomain = "console-audit-v1\n"

// row is an entry exactly as stored: the form the hash covers.
type row struct {
	ID              int64  `db:"id"`
	CreatedAt       string `db:"created_at"`
	Kind            string `db:"kind"`
	ActorID         int64  `db:"actor_id"`
	ActorName       string `db:"actor_name"`
	ActorRole       string `db:"actor_role"`
	ClientIP        string `db:"client_ip"`
	UserAgent       string `db:"user_agent"`
	CorrelationID   string `db:"correlation_id"`
	Action          string `db:"action"`
	Targets         string `db:"targets"`
	Detail          string `db:"detail"`
	Method          string `db:"method"`
	URL             string `db:"url"`
	RequestHeaders  string `db:"request_headers"`
	RequestBody     []byte `db:"request_body"`
	Status          int64  `db:"status"`
	ResponseHeaders string `db:"response_headers"`
	ResponseBody    []byte `db:"response_body"`
	RequestID       string `db:"request_id"`
	DurationMS      int64  `db:"duration_ms"`
	Error           string `db:"error"`
	Outcome         string `db:"outcome"`
	RefID           int64  `db:"ref_id"`
	Project         string `db:"project"`
	PrevHash        string `db:"prev_hash"`
	Hash            string `db:"hash"`
}

// columns lists every column of audit_entries in canonical order.
const columns = `id, created_at, kind, actor_id, actor_name, actor_role, client_ip, user_agent,
	correlation_id, action, targets, detail, method, url, request_headers, request_body, status,
	response_headers, response_body, request_id, duration_ms, error, outcome, ref_id, project, prev_hash, hash`

// appendCanonical appends the canonical content of r to dst: every stored
// column except id, prev_hash and hash, in schema order, each as
// "name=<byte length>:<bytes>\n", integers in decimal. The length prefix
// makes the encoding unambiguous whatever the values contain.
func appendCanonical(dst []byte, r *row) []byte {
	str := func(name, v string) {
		dst = append(dst, name...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, int64(len(v)), 10)
		dst = append(dst, ':')
		dst = append(dst, v...)
		dst = append(dst, '\n')
	}
	blob := func(name string, v []byte) {
		dst = append(dst, name...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, int64(len(v)), 10)
		dst = append(dst, ':')
		dst = append(dst, v...)
		dst = append(dst, '\n')
	}
	i64 := func(name string, v int64) {
		var num [20]byte
		blob(name, strconv.AppendInt(num[:0], v, 10))
	}
	str("created_at", r.CreatedAt)
	str("kind", r.Kind)
	i64("actor_id", r.ActorID)
	str("actor_name", r.ActorName)
	str("actor_role", r.ActorRole)
	str("client_ip", r.ClientIP)
	str("user_agent", r.UserAgent)
	str("correlation_id", r.CorrelationID)
	str("action", r.Action)
	str("targets", r.Targets)
	str("detail", r.Detail)
	str("method", r.Method)
	str("url", r.URL)
	str("request_headers", r.RequestHeaders)
	blob("request_body", r.RequestBody)
	i64("status", r.Status)
	str("response_headers", r.ResponseHeaders)
	blob("response_body", r.ResponseBody)
	str("request_id", r.RequestID)
	i64("duration_ms", r.DurationMS)
	str("error", r.Error)
	str("outcome", r.Outcome)
	i64("ref_id", r.RefID)
	// Added with projects (migration 0028): hashed only when set, so the
	// entries written before keep their hashes.
	if r.Project != "" {
		str("project", r.Project)
	}
	return dst
}

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// chainHash returns hex(SHA-256("console-audit-v1\n" || prevHash || "\n" || canonical(r))).
func chainHash(prevHash string, r *row) string {
	bp := hashBufs.Get().(*[]byte)
	b := append((*bp)[:0], chainDomain...)
	b = append(b, prevHash...)
	b = append(b, '\n')
	b = appendCanonical(b, r)
	sum := sha256.Sum256(b)
	*bp = b
	hashBufs.Put(bp)
	return hex.EncodeToString(sum[:])
}

// keyedDomain prefixes every message hashed under the audit key.
const keyedDomain = "console-audit-v2\n"

// keyedHash returns hex(HMAC-SHA256(key, "console-audit-v2\n" || prevHash || "\n" || canonical(r))).
func keyedHash(key []byte, prevHash string, r *row) string {
	bp := hashBufs.Get().(*[]byte)
	b := append((*bp)[:0], keyedDomain...)
	b = append(b, prevHash...)
	b = append(b, '\n')
	b = appendCanonical(b, r)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	sum := m.Sum(nil)
	*bp = b
	hashBufs.Put(bp)
	return hex.EncodeToString(sum)
}

// toRow encodes e in its stored form (without id and hashes).
func toRow(e *Entry) (*row, error) {
	targets := e.Targets
	if targets == nil {
		targets = []Target{}
	}
	tj, err := json.Marshal(targets)
	if err != nil {
		return nil, fmt.Errorf("encode targets: %w", err)
	}
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	dj, err := json.Marshal(detail)
	if err != nil {
		return nil, fmt.Errorf("encode detail: %w", err)
	}
	reqH, err := encodeHeader(e.RequestHeaders)
	if err != nil {
		return nil, err
	}
	respH, err := encodeHeader(e.ResponseHeaders)
	if err != nil {
		return nil, err
	}
	reqBody, respBody := e.RequestBody, e.ResponseBody
	if reqBody == nil {
		reqBody = []byte{}
	}
	if respBody == nil {
		respBody = []byte{}
	}
	return &row{
		CreatedAt:       e.CreatedAt.UTC().Format(timeLayout),
		Kind:            string(e.Kind),
		ActorID:         e.Actor.UserID,
		ActorName:       e.Actor.Name,
		ActorRole:       e.Actor.Role,
		ClientIP:        e.Actor.ClientIP,
		UserAgent:       e.Actor.UserAgent,
		CorrelationID:   e.CorrelationID,
		Project:         e.Project,
		Action:          e.Action,
		Targets:         string(tj),
		Detail:          string(dj),
		Method:          e.Method,
		URL:             e.URL,
		RequestHeaders:  reqH,
		RequestBody:     reqBody,
		Status:          int64(e.Status),
		ResponseHeaders: respH,
		ResponseBody:    respBody,
		RequestID:       e.RequestID,
		DurationMS:      e.Duration.Milliseconds(),
		Error:           e.Error,
		Outcome:         string(e.Outcome),
		RefID:           e.RefID,
	}, nil
}

// encodeHeader stores a header as a JSON object with sorted keys.
func encodeHeader(h http.Header) (string, error) {
	if h == nil {
		h = http.Header{}
	}
	b, err := json.Marshal(map[string][]string(h))
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	return string(b), nil
}

// toEntry decodes a stored row.
func (r *row) toEntry() (*Entry, error) {
	at, err := time.Parse(timeLayout, r.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("entry %d: created_at %q: %w", r.ID, r.CreatedAt, err)
	}
	e := &Entry{
		ID:        r.ID,
		CreatedAt: at,
		Kind:      EventKind(r.Kind),
		Actor: Actor{
			UserID: r.ActorID, Name: r.ActorName, Role: r.ActorRole,
			ClientIP: r.ClientIP, UserAgent: r.UserAgent,
		},
		CorrelationID: r.CorrelationID,
		Project:       r.Project,
		Action:        r.Action,
		Method:        r.Method,
		URL:           r.URL,
		RequestBody:   r.RequestBody,
		Status:        int(r.Status),
		ResponseBody:  r.ResponseBody,
		RequestID:     r.RequestID,
		Duration:      time.Duration(r.DurationMS) * time.Millisecond,
		Error:         r.Error,
		Outcome:       Outcome(r.Outcome),
		RefID:         r.RefID,
		PrevHash:      r.PrevHash,
		Hash:          r.Hash,
	}
	if err := json.Unmarshal([]byte(r.Targets), &e.Targets); err != nil {
		return nil, fmt.Errorf("entry %d: targets: %w", r.ID, err)
	}
	if r.Detail != "{}" {
		if err := json.Unmarshal([]byte(r.Detail), &e.Detail); err != nil {
			return nil, fmt.Errorf("entry %d: detail: %w", r.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(r.RequestHeaders), &e.RequestHeaders); err != nil {
		return nil, fmt.Errorf("entry %d: request headers: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.ResponseHeaders), &e.ResponseHeaders); err != nil {
		return nil, fmt.Errorf("entry %d: response headers: %w", r.ID, err)
	}
	return e, nil
}
