package audit

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// exportColumns is the CSV header and the JSONL key order.
var exportColumns = []string{
	"id", "created_at", "kind", "actor_id", "actor_name", "actor_role", "client_ip", "user_agent",
	"correlation_id", "action", "targets", "detail", "method", "url", "status", "outcome", "request_id",
	"duration_ms", "error", "ref_id", "request_headers", "request_body", "response_headers",
	"response_body", "project", "prev_hash", "hash",
}

// ExportInfo describes an export before its first byte is written.
type ExportInfo struct {
	Entries  int64  // entries the export holds; -1 when not counted in advance
	HeadID   int64  // the log's newest entry in the export's snapshot (0: empty log)
	HeadHash string // its hash
}

// ExportOptions adjusts an export.
type ExportOptions struct {
	// Count counts the matching entries before writing (one more query).
	Count bool
	// Start, when set, is called with the export's snapshot before anything
	// is written, e.g. to name the download; an error stops the export.
	Start func(ExportInfo) error
}

// each streams every entry matching f, oldest first, to fn, one row at a
// time, inside one read snapshot: nothing beyond the current row is held in
// memory. It returns the snapshot's head and how many rows it passed on.
func (s *Store) each(ctx context.Context, f Filter, o ExportOptions, fn func(*row) error) (ExportInfo, int64, error) {
	info := ExportInfo{Entries: -1}
	q, err := s.compile(ctx, f)
	if err != nil {
		return info, 0, err
	}
	tx, err := s.db.BeginSnapshot(ctx)
	if err != nil {
		return info, 0, fmt.Errorf("audit: export: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	err = tx.QueryRowContext(ctx, `SELECT id, hash FROM audit_entries ORDER BY id DESC LIMIT 1`).Scan(&info.HeadID, &info.HeadHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return info, 0, fmt.Errorf("audit: export: read head: %w", err)
	}
	if o.Count {
		info.Entries = 0
		if !q.empty {
			if err := tx.GetContext(ctx, &info.Entries, `SELECT count(*) FROM (`+q.sql("", "ASC", 0)+`) AS matching`, q.args...); err != nil {
				return info, 0, fmt.Errorf("audit: export: count: %w", err)
			}
		}
	}
	if o.Start != nil {
		if err := o.Start(info); err != nil {
			return info, 0, err
		}
	}
	if q.empty {
		return info, 0, nil
	}
	rows, err := tx.QueryxContext(ctx, q.sql("", "ASC", 0), q.args...)
	if err != nil {
		return info, 0, fmt.Errorf("audit: export: %w", err)
	}
	defer rows.Close()
	var r row
	var n int64
	for rows.Next() {
		if err := rows.StructScan(&r); err != nil {
			return info, n, fmt.Errorf("audit: export: %w", err)
		}
		if err := fn(&r); err != nil {
			return info, n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return info, n, fmt.Errorf("audit: export: %w", err)
	}
	return info, n, nil
}

// ExportCSV writes the entries matching f, oldest first, as CSV with a header
// row (exportColumns), streaming. Every stored column is included; bodies and
// JSON columns are their stored text. So that a spreadsheet never runs a
// formula from hostile text, a text cell starting with = + - @ or a tab or CR
// gets a leading apostrophe; the JSON lines export is the exact form.
func (s *Store) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	return s.ExportCSVWith(ctx, w, f, ExportOptions{})
}

// ExportCSVWith is ExportCSV with options. The header row is written after
// o.Start.
func (s *Store) ExportCSVWith(ctx context.Context, w io.Writer, f Filter, o ExportOptions) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(exportColumns))
	start := o.Start
	o.Start = func(info ExportInfo) error {
		if start != nil {
			if err := start(info); err != nil {
				return err
			}
		}
		if err := cw.Write(exportColumns); err != nil {
			return fmt.Errorf("audit: export csv: %w", err)
		}
		return nil
	}
	_, _, err := s.each(ctx, f, o, func(r *row) error {
		i64 := strconv.FormatInt
		rec = rec[:0]
		rec = append(rec, i64(r.ID, 10), r.CreatedAt, r.Kind, i64(r.ActorID, 10), cell(r.ActorName),
			cell(r.ActorRole), cell(r.ClientIP), cell(r.UserAgent), cell(r.CorrelationID), cell(r.Action),
			cell(r.Targets), cell(r.Detail), cell(r.Method), cell(r.URL), i64(r.Status, 10), r.Outcome,
			cell(r.RequestID), i64(r.DurationMS, 10), cell(r.Error), i64(r.RefID, 10),
			cell(r.RequestHeaders), cell(string(r.RequestBody)), cell(r.ResponseHeaders),
			cell(string(r.ResponseBody)), cell(r.Project), r.PrevHash, r.Hash)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("audit: export csv: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("audit: export csv: %w", err)
	}
	return nil
}

// cell neutralises spreadsheet formulas (OWASP CSV injection): a leading
// apostrophe goes before the text, and before every part after a ';' (the
// separator spreadsheets use in many locales, which this writer does not
// quote), when that part starts, after any spaces, with = + - @ a tab or CR.
func cell(s string) string {
	if !strings.ContainsAny(s, "=+-@\t\r") {
		return s
	}
	parts := strings.Split(s, ";")
	changed := false
	for i, p := range parts {
		t := strings.TrimLeft(p, " ")
		if t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
			parts[i] = "'" + p
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(parts, ";")
}

// exportRecord is one JSON line. JSON columns are embedded as JSON; bodies
// are strings holding the exact stored text, or base64 in *_base64 when they
// are not valid UTF-8. Any other column whose stored text is not valid UTF-8
// (JSON cannot carry such bytes) appears in the line with each bad byte
// replaced by U+FFFD, and its exact bytes in raw_base64 under the column's
// name; a JSON column that is not valid JSON or UTF-8 is null there.
type exportRecord struct {
	ID                 int64             `json:"id"`
	CreatedAt          string            `json:"created_at"`
	Kind               string            `json:"kind"`
	ActorID            int64             `json:"actor_id"`
	ActorName          string            `json:"actor_name"`
	ActorRole          string            `json:"actor_role"`
	ClientIP           string            `json:"client_ip"`
	UserAgent          string            `json:"user_agent"`
	CorrelationID      string            `json:"correlation_id"`
	Action             string            `json:"action"`
	Targets            json.RawMessage   `json:"targets"`
	Detail             json.RawMessage   `json:"detail"`
	Method             string            `json:"method"`
	URL                string            `json:"url"`
	Status             int64             `json:"status"`
	Outcome            string            `json:"outcome"`
	RequestID          string            `json:"request_id"`
	DurationMS         int64             `json:"duration_ms"`
	Error              string            `json:"error"`
	RefID              int64             `json:"ref_id"`
	RequestHeaders     json.RawMessage   `json:"request_headers"`
	RequestBody        string            `json:"request_body"`
	RequestBodyBase64  string            `json:"request_body_base64,omitempty"`
	ResponseHeaders    json.RawMessage   `json:"response_headers"`
	ResponseBody       string            `json:"response_body"`
	ResponseBodyBase64 string            `json:"response_body_base64,omitempty"`
	Project            string            `json:"project,omitempty"`
	PrevHash           string            `json:"prev_hash"`
	Hash               string            `json:"hash"`
	RawBase64          map[string]string `json:"raw_base64,omitempty"`
}

// lossless fills rec's text and JSON columns from r, keeping the exact bytes
// of those that JSON cannot carry in rec.RawBase64.
func (rec *exportRecord) lossless(r *row) {
	keep := func(name, v string) {
		if rec.RawBase64 == nil {
			rec.RawBase64 = map[string]string{}
		}
		rec.RawBase64[name] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	txt := func(name, v string) string {
		if utf8.ValidString(v) {
			return v
		}
		keep(name, v)
		return strings.ToValidUTF8(v, "\uFFFD")
	}
	js := func(name, v string) json.RawMessage {
		if utf8.ValidString(v) && json.Valid([]byte(v)) {
			return json.RawMessage(v)
		}
		keep(name, v)
		return json.RawMessage("null")
	}
	rec.CreatedAt, rec.Kind = txt("created_at", r.CreatedAt), txt("kind", r.Kind)
	rec.ActorName, rec.ActorRole = txt("actor_name", r.ActorName), txt("actor_role", r.ActorRole)
	rec.ClientIP, rec.UserAgent = txt("client_ip", r.ClientIP), txt("user_agent", r.UserAgent)
	rec.CorrelationID, rec.Action = txt("correlation_id", r.CorrelationID), txt("action", r.Action)
	rec.Method, rec.URL = txt("method", r.Method), txt("url", r.URL)
	rec.Outcome, rec.RequestID = txt("outcome", r.Outcome), txt("request_id", r.RequestID)
	rec.Error, rec.Project = txt("error", r.Error), txt("project", r.Project)
	rec.PrevHash, rec.Hash = txt("prev_hash", r.PrevHash), txt("hash", r.Hash)
	rec.Targets, rec.Detail = js("targets", r.Targets), js("detail", r.Detail)
	rec.RequestHeaders, rec.ResponseHeaders = js("request_headers", r.RequestHeaders), js("response_headers", r.ResponseHeaders)
}

// ExportTrailer is the last line of a JSON-lines export: an export without
// it, or whose line count differs from Entries, is incomplete.
type ExportTrailer struct {
	Trailer  bool   `json:"trailer"`         // always true: tells the trailer from an entry
	Entries  int64  `json:"entries"`         // entry lines before the trailer
	LastID   int64  `json:"last_id"`         // the last exported entry (0: none)
	HeadID   int64  `json:"chain_head_id"`   // the log's newest entry when the export began
	HeadHash string `json:"chain_head_hash"` // its hash
}

// ExportJSONL writes the entries matching f, oldest first, one JSON object
// per line, streaming, and ends with an ExportTrailer line.
func (s *Store) ExportJSONL(ctx context.Context, w io.Writer, f Filter) error {
	return s.ExportJSONLWith(ctx, w, f, ExportOptions{})
}

// ExportJSONLWith is ExportJSONL with options.
func (s *Store) ExportJSONLWith(ctx context.Context, w io.Writer, f Filter, o ExportOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	var lastID int64
	info, n, err := s.each(ctx, f, o, func(r *row) error {
		lastID = r.ID
		rec := exportRecord{ID: r.ID, ActorID: r.ActorID, Status: r.Status, DurationMS: r.DurationMS, RefID: r.RefID}
		rec.lossless(r)
		rec.RequestBody, rec.RequestBodyBase64 = bodyText(r.RequestBody)
		rec.ResponseBody, rec.ResponseBodyBase64 = bodyText(r.ResponseBody)
		if err := enc.Encode(&rec); err != nil {
			return fmt.Errorf("audit: export jsonl: entry %d: %w", r.ID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := enc.Encode(ExportTrailer{Trailer: true, Entries: n, LastID: lastID, HeadID: info.HeadID, HeadHash: info.HeadHash}); err != nil {
		return fmt.Errorf("audit: export jsonl: trailer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: export jsonl: %w", err)
	}
	return nil
}

func bodyText(b []byte) (text, b64 string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return "", base64.StdEncoding.EncodeToString(b)
}
