package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/devserver-console/console/internal/modelarts"
)

// UnknownOutcomeError is the error text of an outcome_unknown entry.
const UnknownOutcomeError = "the console stopped before the response was recorded: the call may or may not have reached ModelArts"

// CallRecorder returns the modelarts.Recorder for one call made on behalf of
// meta (who asked, for which batch, which action, on which servers); the
// caller passes it with the call.
//
// BeforeSend commits the request entry and returns its id as ref; it fails
// (and the client must not send) when meta names no actor or action, or the
// entry cannot be committed. AfterSend commits the response entry, linked to
// the request by ref.
func (s *Store) CallRecorder(meta CallMeta) modelarts.Recorder { return recorder{s: s, meta: meta} }

type recorder struct {
	s    *Store
	meta CallMeta
}

var _ modelarts.Recorder = recorder{}

func (r recorder) BeforeSend(ctx context.Context, call *modelarts.OutgoingCall) (int64, error) {
	if call == nil {
		return 0, errors.New("audit: record request: no call")
	}
	if r.meta.Actor.Name == "" || r.meta.Action == "" {
		return 0, ErrNoCallMeta
	}
	e := requestEntry(r.meta, call)
	if err := r.s.append(ctx, e); err != nil {
		r.s.log.ErrorContext(ctx, "audit: request not recorded; call refused", "action", e.Action, "url", e.URL, "err", err)
		return 0, fmt.Errorf("audit: record request: %w", err)
	}
	r.s.inflight.Store(e.ID, e)
	return e.ID, nil
}

func (r recorder) AfterSend(ctx context.Context, ref int64, call *modelarts.OutgoingCall, result *modelarts.CallResult) error {
	ctx = context.WithoutCancel(ctx) // a timed-out call must still be answered
	var req *Entry
	var err error
	if v, ok := r.s.inflight.LoadAndDelete(ref); ok {
		req = v.(*Entry)
	} else {
		req, err = r.s.Get(ctx, ref)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("audit: record response: request entry %d does not exist", ref)
	case err != nil:
		// The request is committed but cannot be read back: keep the answer
		// anyway, attributed from the call's metadata.
		r.s.log.WarnContext(ctx, "audit: request entry unreadable; recording response from the call", "ref", ref, "err", err)
		req = requestEntry(r.meta, call)
		req.ID = ref
	case req.Kind != KindRequest:
		return fmt.Errorf("audit: record response: entry %d is a %s, not a request", ref, req.Kind)
	}
	e := responseEntry(req, result)
	if err := r.s.append(ctx, e); err != nil {
		r.s.log.ErrorContext(ctx, "audit: response not recorded", "ref", ref, "err", err)
		return fmt.Errorf("audit: record response to %d: %w", ref, err)
	}
	r.s.AnchorSoon() // a chunk of a batch was answered: checkpoint it
	return nil
}

// requestEntry builds the request entry of call, redacted.
func requestEntry(meta CallMeta, call *modelarts.OutgoingCall) *Entry {
	if call == nil {
		call = &modelarts.OutgoingCall{}
	}
	return &Entry{
		Kind:           KindRequest,
		Actor:          meta.Actor,
		CorrelationID:  meta.CorrelationID,
		Project:        meta.Project,
		Action:         meta.Action,
		Targets:        callTargets(meta.Targets, call),
		Detail:         callDetail(meta.Detail),
		Method:         call.Method,
		URL:            call.URL,
		RequestHeaders: RedactHeaders(call.Header),
		RequestBody:    RedactBody(call.Body),
	}
}

// responseEntry builds the answer to req from result, redacted.
func responseEntry(req *Entry, result *modelarts.CallResult) *Entry {
	e := &Entry{
		Kind:          KindResponse,
		Actor:         req.Actor,
		CorrelationID: req.CorrelationID,
		Project:       req.Project,
		Action:        req.Action,
		Targets:       req.Targets,
		Detail:        req.Detail,
		Method:        req.Method,
		URL:           req.URL,
		RefID:         req.ID,
	}
	if result == nil {
		e.Outcome, e.Error = OutcomeTransportError, "no result was reported for the call"
		return e
	}
	e.Status = result.Status
	e.ResponseHeaders = RedactHeaders(result.Header)
	e.ResponseBody = RedactBody(result.Body)
	e.RequestID = result.Header.Get("X-Request-Id")
	e.Duration = result.Duration
	switch {
	case result.Err != nil:
		e.Outcome, e.Error = OutcomeTransportError, result.Err.Error()
	case result.Status == 0:
		e.Outcome, e.Error = OutcomeTransportError, "no HTTP response"
	case result.Status >= 200 && result.Status <= 299:
		e.Outcome = OutcomeSuccess
	default:
		e.Outcome = OutcomeAPIError
	}
	return e
}

// unknownEntry marks req as never answered.
func unknownEntry(req *Entry) *Entry {
	return &Entry{
		Kind:          KindOutcomeUnknown,
		Actor:         req.Actor,
		CorrelationID: req.CorrelationID,
		Project:       req.Project,
		Action:        req.Action,
		Targets:       req.Targets,
		Detail:        req.Detail,
		Method:        req.Method,
		URL:           req.URL,
		RefID:         req.ID,
		Outcome:       OutcomeUnknown,
		Error:         UnknownOutcomeError,
	}
}

// callTargets returns the targets the caller named plus any server id the
// client says the call carries that they miss, so the server filter finds
// every call.
func callTargets(meta []Target, call *modelarts.OutgoingCall) []Target {
	out := append([]Target(nil), meta...)
	have := map[string]bool{}
	for _, t := range out {
		have[strings.ToLower(t.ID)] = true
	}
	for _, id := range call.Targets {
		if id != "" && !have[strings.ToLower(id)] {
			have[strings.ToLower(id)] = true
			out = append(out, Target{ID: id})
		}
	}
	return out
}

// callDetail is the redacted detail of a call, nil when there is none.
func callDetail(d map[string]string) map[string]string {
	if len(d) == 0 {
		return nil
	}
	return RedactDetail(d)
}

// RecordEvent durably records a security event (one of EventKinds) caused by
// actor. Detail values under keys that name a secret (password, token, ...)
// are replaced by Redacted.
func (s *Store) RecordEvent(ctx context.Context, kind EventKind, actor Actor, detail map[string]string) error {
	return s.RecordProjectEvent(ctx, "", kind, actor, detail)
}

// RecordProjectEvent is RecordEvent for an event about one console project
// (an approval request's), which the entry records so the audit log's
// project filter finds it; "" is none.
func (s *Store) RecordProjectEvent(ctx context.Context, project string, kind EventKind, actor Actor, detail map[string]string) error {
	if !kind.IsSecurityEvent() {
		return fmt.Errorf("audit: record event: %q is not a security event kind", kind)
	}
	e := &Entry{Kind: kind, Actor: actor, Action: string(kind), Project: project, Detail: RedactDetail(detail)}
	if err := s.append(ctx, e); err != nil {
		return fmt.Errorf("audit: record %s: %w", kind, err)
	}
	return nil
}

// RecoverUnfinished writes one outcome_unknown entry for every request entry
// that has neither a response nor an outcome_unknown entry, and returns how
// many it wrote. Call it once at start, before any call is sent: a request
// still in flight in this process would be marked unknown too. With several
// consoles (replicas) on one database it must not run at start, since it
// would mark the other consoles' requests in flight: each batch's requests
// are recovered by RecoverUnfinishedFor under the batch's claim instead.
//
// Requests up to the head of the previous recovery are known to be answered
// (settings: audit.recovered_through), so only newer ones are looked at and
// a start costs the same however long the log is.
func (s *Store) RecoverUnfinished(ctx context.Context) (_ int, err error) {
	var through, head int64
	var raw []byte // an integer on SQLite, decimal text in bytes on both engines since
	switch err := s.db.Read.GetContext(ctx, &raw, `SELECT value FROM settings WHERE key = ?`, recoveredThroughKey); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, fmt.Errorf("audit: read recovered head: %w", err)
	default:
		if through, err = strconv.ParseInt(string(raw), 10, 64); err != nil {
			return 0, fmt.Errorf("audit: read recovered head %q: %w", raw, err)
		}
	}
	if err := s.db.Read.GetContext(ctx, &head, `SELECT coalesce(max(id), 0) FROM audit_entries`); err != nil {
		return 0, fmt.Errorf("audit: read head: %w", err)
	}
	if head < through { // the log was cut back: look at everything again
		through = 0
	}
	var ids []int64
	err = s.db.Read.SelectContext(ctx, &ids, s.portable(`SELECT r.id FROM audit_entries r INDEXED BY audit_entries_kind
		WHERE r.kind = 'request' AND r.id > ?
		  AND NOT EXISTS (SELECT 1 FROM audit_entries x WHERE x.ref_id = r.id AND x.ref_id <> 0)
		ORDER BY r.id`), through)
	if err != nil {
		return 0, fmt.Errorf("audit: find unfinished requests: %w", err)
	}
	defer func() {
		if err == nil && head > through {
			if _, err := s.db.Write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, recoveredThroughKey, []byte(strconv.FormatInt(head, 10))); err != nil {
				s.log.WarnContext(ctx, "audit: could not record the recovered head", "err", err)
			}
		}
	}()
	return s.markUnknown(ctx, ids)
}

// RecoverUnfinishedFor is RecoverUnfinished for the requests of one
// correlation id (a batch) whose sender the caller knows has stopped (it
// holds the batch's claim).
func (s *Store) RecoverUnfinishedFor(ctx context.Context, correlationID string) (int, error) {
	var ids []int64
	err := s.db.Read.SelectContext(ctx, &ids, `SELECT r.id FROM audit_entries r
		WHERE r.correlation_id = ? AND r.kind = 'request'
		  AND NOT EXISTS (SELECT 1 FROM audit_entries x WHERE x.ref_id = r.id AND x.ref_id <> 0)
		ORDER BY r.id`, correlationID)
	if err != nil {
		return 0, fmt.Errorf("audit: find unfinished requests of %s: %w", correlationID, err)
	}
	return s.markUnknown(ctx, ids)
}

// markUnknown appends an outcome_unknown entry for each request id (none
// for a request answered meanwhile) and returns how many it wrote.
func (s *Store) markUnknown(ctx context.Context, ids []int64) (int, error) {
	written := 0
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxBatch)]
		ids = ids[len(chunk):]
		entries := make([]*Entry, 0, len(chunk))
		for _, id := range chunk {
			req, err := s.Get(ctx, id)
			if err != nil {
				return written, fmt.Errorf("audit: recover request %d: %w", id, err)
			}
			entries = append(entries, unknownEntry(req))
		}
		if err := s.append(ctx, entries...); err != nil {
			return written, fmt.Errorf("audit: recover unfinished requests: %w", err)
		}
		for _, e := range entries {
			if e.ID != 0 {
				written++
				s.log.WarnContext(ctx, "audit: request had no recorded response; marked outcome unknown",
					"request", e.RefID, "entry", e.ID, "action", e.Action, "correlation_id", e.CorrelationID)
			}
		}
	}
	return written, nil
}

// recoveredThroughKey names the settings row holding the id up to which
// every request entry is known to have an answer.
const recoveredThroughKey = "audit.recovered_through"

func sortedDetailKeys(d map[string]string) []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
