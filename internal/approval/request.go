package approval

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// NewRequest is what an operator asks for.
type NewRequest struct {
	// ID is the request's id when the caller chose it (batch.Submit does);
	// empty: a new one.
	ID string
	// Project is the console project the servers belong to; the approved
	// batch runs in it.
	Project   string
	Requester *auth.User
	Meta      Meta
	Action    modelarts.BatchType
	// Servers are the servers the action will be sent to, as the preview
	// showed them; Skipped the selected ones it left out.
	Servers []Server
	Skipped []Skip
	// OSParams are the Change OS / Reinstall OS parameters, secrets
	// included (nil for other actions).
	OSParams *modelarts.ServerOSRequest
	// ImageName is the chosen image's name, for display.
	ImageName string
	Reason    string
}

// sealedSecrets is what is sealed at rest.
type sealedSecrets struct {
	AdminPass string `json:"admin_pass,omitempty"`
	UserData  string `json:"user_data,omitempty"`
}

// CheckReason validates a reason as Create will: 3 to 500 characters after
// trimming, no control characters but line breaks and tabs.
func CheckReason(reason string) (string, error) {
	return checkText("reason", reason, MinReason, MaxReason)
}

// CheckComment validates a decision comment; required reports whether an
// empty one is refused (it is, to deny).
func CheckComment(comment string, required bool) (string, error) {
	lo := 0
	if required {
		lo = 1
	}
	return checkText("comment", comment, lo, MaxComment)
}

func checkText(field, v string, lo, hi int) (string, error) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) {
		return "", &ValidationError{Field: field, Message: "is not valid text", Code: TextInvalid}
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
		return "", &ValidationError{Field: field, Message: "contains control characters", Code: TextControl}
	}
	n := utf8.RuneCountInString(v)
	switch {
	case lo == 1 && n == 0:
		return "", &ValidationError{Field: field, Message: "is required", Code: TextRequired}
	case n < lo:
		return "", &ValidationError{Field: field, Message: fmt.Sprintf("must be at least %d characters", lo),
			Code: TextTooShort, Params: map[string]any{"Min": lo}}
	case n > hi:
		return "", &ValidationError{Field: field, Message: fmt.Sprintf("must be at most %d characters (it has %d)", hi, n),
			Code: TextTooLong, Params: map[string]any{"Max": hi, "Len": n}}
	}
	return v, nil
}

// DescribeParams derives what may be stored and shown of p.
func DescribeParams(p *modelarts.ServerOSRequest, imageName string) Params {
	if p == nil {
		return Params{}
	}
	out := Params{ImageID: p.ImageID, KeyPairName: p.KeyPairName, PasswordSet: p.AdminPass != ""}
	if p.ImageID != "" {
		out.ImageName = imageName
	}
	if p.UserData != "" {
		raw, err := base64.StdEncoding.DecodeString(p.UserData)
		if err != nil {
			raw = []byte(p.UserData)
		}
		sum := sha256.Sum256(raw)
		out.UserDataBytes = len(raw)
		out.UserDataSHA256 = hex.EncodeToString(sum[:])
	}
	return out
}

// Create records a request and sends nothing. It checks that the requester
// may run actions, that the policy covers the action, that there is a server
// to send it to, the reason, and the OS parameters; it seals the secrets,
// records approval.requested in the audit log and tells the webhook.
func (s *Service) Create(ctx context.Context, nr NewRequest) (*Request, error) {
	if !CanRequest(nr.Requester) {
		return nil, ErrForbidden
	}
	if !nr.Action.Valid() {
		return nil, fmt.Errorf("approval: unknown action %q", nr.Action)
	}
	if len(nr.Servers) == 0 {
		return nil, ErrNothingToSend
	}
	if !s.policy.Requires(nr.Action, len(nr.Servers)) {
		return nil, ErrNotRequired
	}
	reason, err := CheckReason(nr.Reason)
	if err != nil {
		return nil, err
	}
	var params *modelarts.ServerOSRequest
	if nr.Action.NeedsOSParams() {
		params = &modelarts.ServerOSRequest{}
		if nr.OSParams != nil {
			cp := *nr.OSParams
			params = &cp
		}
		if errs := modelarts.ValidateOSParams(nr.Action, params); len(errs) > 0 {
			return nil, &ParamsError{Errs: errs}
		}
	}
	now := s.now()
	r := &Request{
		ID:            cmp.Or(nr.ID, uuid.NewString()),
		Project:       nr.Project,
		RequesterID:   nr.Requester.ID,
		RequesterName: nr.Requester.Name,
		Action:        nr.Action,
		Servers:       append([]Server(nil), nr.Servers...),
		Skipped:       append([]Skip{}, nr.Skipped...),
		Params:        DescribeParams(params, nr.ImageName),
		Reason:        reason,
		State:         StatePending,
		CreatedAt:     now,
		ExpiresAt:     now.Add(s.policy.ttl()),
	}
	var sealed []byte
	if params != nil && (params.AdminPass != "" || params.UserData != "") {
		if s.box == nil {
			return nil, ErrNoKey
		}
		plain, err := json.Marshal(sealedSecrets{AdminPass: params.AdminPass, UserData: params.UserData})
		if err != nil {
			return nil, fmt.Errorf("approval: create: %w", err)
		}
		if sealed, err = s.box.Seal(plain, r.ID); err != nil {
			return nil, fmt.Errorf("approval: create: %w", err)
		}
		r.SecretsHeld = true
	}
	servers, err := json.Marshal(r.Servers)
	if err != nil {
		return nil, fmt.Errorf("approval: create: %w", err)
	}
	skipped, err := json.Marshal(r.Skipped)
	if err != nil {
		return nil, fmt.Errorf("approval: create: %w", err)
	}
	shown, err := json.Marshal(r.Params)
	if err != nil {
		return nil, fmt.Errorf("approval: create: %w", err)
	}
	if _, err := s.db.Write.ExecContext(ctx, `INSERT INTO approval_requests
		(id, requester_id, requester_name, action, servers, skipped, params, secrets, reason, state, created_at, expires_at, project)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
		r.ID, r.RequesterID, r.RequesterName, string(r.Action), string(servers), string(skipped), string(shown),
		sealed, r.Reason, now.UnixMilli(), r.ExpiresAt.UnixMilli(), r.Project); err != nil {
		return nil, fmt.Errorf("approval: create: %w", err)
	}
	if err := s.record(ctx, EventRequested, actorOf(nr.Requester, nr.Meta), r, nil); err != nil {
		// Nobody may approve what the audit log does not know was asked:
		// take it back (erasing the secrets) and say so.
		if _, werr := s.db.Write.ExecContext(context.WithoutCancel(ctx), `UPDATE approval_requests
			SET state = 'withdrawn', secrets = NULL, decided_at = ?, comment = 'not recorded in the audit log'
			WHERE id = ? AND state = 'pending'`, s.now().UnixMilli(), r.ID); werr != nil {
			s.log.ErrorContext(ctx, "approval: unrecorded request could not be withdrawn", "request", r.ID, "err", werr)
		}
		return nil, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	s.tell(notifyEvent(s.messages, EventRequested, r, nr.Requester.Name))
	return r, nil
}

// requestRow is an approval_requests row.
type requestRow struct {
	ID            string        `db:"id"`
	RequesterID   int64         `db:"requester_id"`
	RequesterName string        `db:"requester_name"`
	Action        string        `db:"action"`
	Servers       string        `db:"servers"`
	Skipped       string        `db:"skipped"`
	Params        string        `db:"params"`
	Secrets       []byte        `db:"secrets"`
	Reason        string        `db:"reason"`
	State         string        `db:"state"`
	CreatedAt     int64         `db:"created_at"`
	ExpiresAt     int64         `db:"expires_at"`
	DecidedAt     sql.NullInt64 `db:"decided_at"`
	DeciderID     int64         `db:"decider_id"`
	DeciderName   string        `db:"decider_name"`
	Comment       string        `db:"comment"`
	BatchID       string        `db:"batch_id"`
	ExecError     string        `db:"exec_error"`
	ExecCode      string        `db:"exec_code"`
	Project       string        `db:"project"`
}

const requestColumns = `id, requester_id, requester_name, action, servers, skipped, params, secrets, reason, state,
	created_at, expires_at, decided_at, decider_id, decider_name, comment, batch_id, exec_error, exec_code, project`

func (r *requestRow) request() (*Request, error) {
	out := &Request{
		ID: r.ID, Project: r.Project, RequesterID: r.RequesterID, RequesterName: r.RequesterName,
		Action: modelarts.BatchType(r.Action), Reason: r.Reason, State: State(r.State),
		SecretsHeld: len(r.Secrets) > 0,
		CreatedAt:   time.UnixMilli(r.CreatedAt).UTC(), ExpiresAt: time.UnixMilli(r.ExpiresAt).UTC(),
		DeciderID: r.DeciderID, DeciderName: r.DeciderName, Comment: r.Comment,
		BatchID: r.BatchID, ExecError: r.ExecError, ExecCode: r.ExecCode,
	}
	if r.DecidedAt.Valid {
		out.DecidedAt = time.UnixMilli(r.DecidedAt.Int64).UTC()
	}
	if err := json.Unmarshal([]byte(r.Servers), &out.Servers); err != nil {
		return nil, fmt.Errorf("approval: request %s: servers: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Skipped), &out.Skipped); err != nil {
		return nil, fmt.Errorf("approval: request %s: skipped: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Params), &out.Params); err != nil {
		return nil, fmt.Errorf("approval: request %s: params: %w", r.ID, err)
	}
	return out, nil
}

// canSeeAll reports whether viewer sees everyone's requests.
func canSeeAll(viewer *auth.User) bool { return CanDecide(viewer) }

// Get returns request id as viewer may see it: approvers and admins see
// every request, others only their own (ErrNotFound for the rest).
func (s *Service) Get(ctx context.Context, viewer *auth.User, id string) (*Request, error) {
	if viewer == nil {
		return nil, ErrNotFound
	}
	var row requestRow
	err := s.db.Read.GetContext(ctx, &row, `SELECT `+requestColumns+` FROM approval_requests WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("approval: get %s: %w", id, err)
	}
	if !canSeeAll(viewer) && row.RequesterID != viewer.ID {
		return nil, ErrNotFound
	}
	return row.request()
}

// ByBatch returns the request whose approval ran batchID, as viewer may
// see it, or ErrNotFound.
func (s *Service) ByBatch(ctx context.Context, viewer *auth.User, batchID string) (*Request, error) {
	if batchID == "" {
		return nil, ErrNotFound
	}
	var id string
	err := s.db.Read.GetContext(ctx, &id, `SELECT id FROM approval_requests WHERE batch_id = ?`, batchID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("approval: find by batch: %w", err)
	}
	return s.Get(ctx, viewer, id)
}

// List returns the requests viewer may see, pending ones first (oldest
// expiry first), then the others newest first; at most limit.
func (s *Service) List(ctx context.Context, viewer *auth.User, limit int) ([]*Request, error) {
	if viewer == nil {
		return nil, nil
	}
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	now := s.now().UnixMilli()
	where, args := "", []any{}
	if !canSeeAll(viewer) {
		where, args = "WHERE requester_id = ?", append(args, viewer.ID)
	}
	args = append(args, now, now, limit)
	var rows []requestRow
	if err := s.db.Read.SelectContext(ctx, &rows, `SELECT `+requestColumns+` FROM approval_requests `+where+`
		ORDER BY (state = 'pending' AND expires_at > ?) DESC,
		         CASE WHEN state = 'pending' AND expires_at > ? THEN expires_at END ASC,
		         created_at DESC, id
		LIMIT ?`, args...); err != nil {
		return nil, fmt.Errorf("approval: list: %w", err)
	}
	out := make([]*Request, 0, len(rows))
	for i := range rows {
		r, err := rows[i].request()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// PendingCount is the number for the "Approvals" nav link: for approvers
// and admins the requests they could decide (pending, not expired, not
// their own); for others their own pending requests. With projects, only
// requests of those projects count (a user limited to some projects).
func (s *Service) PendingCount(ctx context.Context, viewer *auth.User, projects ...string) (int, error) {
	if viewer == nil {
		return 0, nil
	}
	now := s.now().UnixMilli()
	q := `SELECT count(*) FROM approval_requests WHERE state = 'pending' AND expires_at > ? AND requester_id = ?`
	if canSeeAll(viewer) {
		q = `SELECT count(*) FROM approval_requests WHERE state = 'pending' AND expires_at > ? AND requester_id <> ?`
	}
	args := []any{now, viewer.ID}
	if len(projects) > 0 {
		q += ` AND project IN (?` + strings.Repeat(", ?", len(projects)-1) + `)`
		for _, p := range projects {
			args = append(args, p)
		}
	}
	var n int
	if err := s.db.Read.GetContext(ctx, &n, q, args...); err != nil {
		return 0, fmt.Errorf("approval: count pending: %w", err)
	}
	return n, nil
}

// PendingByProject counts the requests of every requester waiting for a
// decision now (pending and not expired), per project, for every project
// in projects (0 when none) and any other that has some (a project since
// removed from the configuration): the metrics gauge.
func (s *Service) PendingByProject(ctx context.Context, projects []string) (map[string]int, error) {
	var rows []struct {
		Project string `db:"project"`
		N       int    `db:"n"`
	}
	if err := s.db.Read.SelectContext(ctx, &rows, `SELECT project, count(*) AS n FROM approval_requests
		WHERE state = 'pending' AND expires_at > ? GROUP BY project`, s.now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("approval: count pending: %w", err)
	}
	out := make(map[string]int, len(projects)+len(rows))
	for _, p := range projects {
		out[p] = 0
	}
	for _, r := range rows {
		out[r.Project] += r.N
	}
	return out, nil
}

// ReasonVanished is why a server that is no longer in the fleet is skipped.
const ReasonVanished = "no longer in the fleet"

// ServerNow is one server of a request: its status when asked, its status
// now, and whether the action would be sent to it now.
type ServerNow struct {
	Server
	// Now is the status now; "" when the server is no longer listed (or the
	// fleet could not be read: Known is false).
	Now   modelarts.Status
	Known bool
	// Eligible is whether the action would be sent to it now; Reason says
	// why not (the lifecycle's words, or ReasonVanished).
	Eligible bool
	Reason   string
}

// CheckNow judges each server of r against the fleet as it is now, with the
// same lifecycle rules a batch applies at execution. find looks a server up
// in a fleet snapshot; a nil find means the fleet could not be read, and
// every server is shown with its state now unknown.
func (r *Request) CheckNow(find func(id string) (*modelarts.ServerResponse, bool)) []ServerNow {
	out := make([]ServerNow, len(r.Servers))
	for i, sv := range r.Servers {
		out[i].Server = sv
		if find == nil {
			continue
		}
		out[i].Known = true
		now, ok := find(sv.ID)
		if !ok {
			out[i].Reason = ReasonVanished
			continue
		}
		out[i].Now = now.Status
		out[i].Eligible, out[i].Reason = modelarts.Eligible(r.Action, now)
	}
	return out
}
