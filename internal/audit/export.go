package audit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
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
	"response_body", "prev_hash", "hash",
}

// each streams every entry matching f, oldest first, to fn, one row at a
// time: nothing beyond the current row is held in memory.
func (s *Store) each(ctx context.Context, f Filter, fn func(*row) error) error {
	q, err := s.compile(ctx, f)
	if err != nil {
		return err
	}
	if q.empty {
		return nil
	}
	rows, err := s.db.Read.QueryxContext(ctx, q.sql("", "ASC", 0), q.args...)
	if err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	defer rows.Close()
	var r row
	for rows.Next() {
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	return nil
}

// ExportCSV writes the entries matching f, oldest first, as CSV with a header
// row (exportColumns), streaming. Every stored column is included; bodies and
// JSON columns are their stored text. So that a spreadsheet never runs a
// formula from hostile text, a text cell starting with = + - @ or a tab or CR
// gets a leading apostrophe; the JSON lines export is the exact form.
func (s *Store) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportColumns); err != nil {
		return fmt.Errorf("audit: export csv: %w", err)
	}
	rec := make([]string, len(exportColumns))
	err := s.each(ctx, f, func(r *row) error {
		i64 := strconv.FormatInt
		rec = rec[:0]
		rec = append(rec, i64(r.ID, 10), r.CreatedAt, r.Kind, i64(r.ActorID, 10), cell(r.ActorName),
			cell(r.ActorRole), cell(r.ClientIP), cell(r.UserAgent), cell(r.CorrelationID), cell(r.Action),
			cell(r.Targets), cell(r.Detail), cell(r.Method), cell(r.URL), i64(r.Status, 10), r.Outcome,
			cell(r.RequestID), i64(r.DurationMS, 10), cell(r.Error), i64(r.RefID, 10),
			cell(r.RequestHeaders), cell(string(r.RequestBody)), cell(r.ResponseHeaders),
			cell(string(r.ResponseBody)), r.PrevHash, r.Hash)
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

// cell neutralises spreadsheet formulas (OWASP CSV injection).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// exportRecord is one JSON line. JSON columns are embedded as JSON; bodies
// are strings holding the exact stored text, or base64 in *_base64 when they
// are not valid UTF-8.
type exportRecord struct {
	ID                 int64           `json:"id"`
	CreatedAt          string          `json:"created_at"`
	Kind               string          `json:"kind"`
	ActorID            int64           `json:"actor_id"`
	ActorName          string          `json:"actor_name"`
	ActorRole          string          `json:"actor_role"`
	ClientIP           string          `json:"client_ip"`
	UserAgent          string          `json:"user_agent"`
	CorrelationID      string          `json:"correlation_id"`
	Action             string          `json:"action"`
	Targets            json.RawMessage `json:"targets"`
	Detail             json.RawMessage `json:"detail"`
	Method             string          `json:"method"`
	URL                string          `json:"url"`
	Status             int64           `json:"status"`
	Outcome            string          `json:"outcome"`
	RequestID          string          `json:"request_id"`
	DurationMS         int64           `json:"duration_ms"`
	Error              string          `json:"error"`
	RefID              int64           `json:"ref_id"`
	RequestHeaders     json.RawMessage `json:"request_headers"`
	RequestBody        string          `json:"request_body"`
	RequestBodyBase64  string          `json:"request_body_base64,omitempty"`
	ResponseHeaders    json.RawMessage `json:"response_headers"`
	ResponseBody       string          `json:"response_body"`
	ResponseBodyBase64 string          `json:"response_body_base64,omitempty"`
	PrevHash           string          `json:"prev_hash"`
	Hash               string          `json:"hash"`
}

// ExportJSONL writes the entries matching f, oldest first, one JSON object
// per line, streaming.
func (s *Store) ExportJSONL(ctx context.Context, w io.Writer, f Filter) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	err := s.each(ctx, f, func(r *row) error {
		rec := exportRecord{
			ID: r.ID, CreatedAt: r.CreatedAt, Kind: r.Kind, ActorID: r.ActorID, ActorName: r.ActorName,
			ActorRole: r.ActorRole, ClientIP: r.ClientIP, UserAgent: r.UserAgent,
			CorrelationID: r.CorrelationID, Action: r.Action, Targets: json.RawMessage(r.Targets),
			Detail: json.RawMessage(r.Detail), Method: r.Method, URL: r.URL, Status: r.Status,
			Outcome: r.Outcome, RequestID: r.RequestID, DurationMS: r.DurationMS, Error: r.Error,
			RefID: r.RefID, RequestHeaders: json.RawMessage(r.RequestHeaders),
			ResponseHeaders: json.RawMessage(r.ResponseHeaders), PrevHash: r.PrevHash, Hash: r.Hash,
		}
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
