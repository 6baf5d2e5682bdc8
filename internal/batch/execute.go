package batch

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// Params is what a batch shows of the OS parameters it sent: never the
// admin password or the user data themselves.
type Params struct {
	ImageID        string `json:"image_id,omitempty"`
	ImageName      string `json:"image_name,omitempty"`
	KeyPairName    string `json:"key_pair_name,omitempty"`
	PasswordSet    bool   `json:"admin_pass_set,omitempty"`
	UserDataBytes  int    `json:"user_data_bytes,omitempty"`
	UserDataSHA256 string `json:"user_data_sha256,omitempty"`
}

// Empty reports whether no OS parameter was sent.
func (p Params) Empty() bool { return p == Params{} }

// DescribeParams derives what may be stored and shown of req: the image,
// the key pair name, whether a password was set, and the user data's size
// and SHA-256. imageName is the image's name as the console knows it.
func DescribeParams(req *modelarts.ServerOSRequest, imageName string) Params {
	if req == nil {
		return Params{}
	}
	p := Params{
		ImageID:     req.ImageID,
		ImageName:   imageName,
		KeyPairName: req.KeyPairName,
		PasswordSet: req.AdminPass != "",
	}
	if req.UserData != "" {
		if raw, err := base64.StdEncoding.DecodeString(req.UserData); err == nil {
			sum := sha256.Sum256(raw)
			p.UserDataBytes = len(raw)
			p.UserDataSHA256 = hex.EncodeToString(sum[:])
		}
	}
	return p
}

// job is one batch on its way to the cloud.
type job struct {
	id     string
	action modelarts.BatchType
	extend *modelarts.ServerOSRequest
	chunks [][]Target
	actor  audit.Actor
}

// Execute sends the prepared action of token, once. It returns the batch id
// and whether this call started the batch (firstTime); a repeated call with
// the same token returns the first batch's id with firstTime false and sends
// nothing.
//
// Before anything is sent it requires, for DELETE, REINSTALLOS and CHANGEOS,
// that typedWord is exactly the action word (else ErrConfirmation and the
// token stays usable), and it checks the OS parameters again
// (*InvalidParamsError; for CHANGEOS the image must be one ImagesFor
// offers). The chunks are then sent in the background on a context detached
// from ctx, each bounded by the call timeout, so a closed browser does not
// abort half a batch.
func (s *Service) Execute(ctx context.Context, user *auth.User, token string, params *modelarts.ServerOSRequest, typedWord string, meta Meta) (batchID string, firstTime bool, err error) {
	p, err := s.Lookup(ctx, user, token)
	if err != nil {
		return "", false, err
	}
	if p.Used() {
		return p.BatchID, false, nil
	}
	if p.Action.Destructive() && typedWord != Word(p.Action) {
		return "", false, ErrConfirmation
	}
	if len(p.Targets) == 0 {
		return "", false, ErrNothingToSend
	}
	var extend *modelarts.ServerOSRequest
	var imageName string
	if p.Action.NeedsOSParams() {
		if params == nil {
			params = &modelarts.ServerOSRequest{}
		}
		if errs := modelarts.ValidateOSParams(p.Action, params); len(errs) > 0 {
			return "", false, &InvalidParamsError{Errs: errs}
		}
		if p.Action == modelarts.BatchChangeOS {
			imgs, err := s.ImagesFor(ctx, p)
			if err != nil {
				return "", false, err
			}
			found := false
			for _, img := range imgs {
				if img.ImageID == params.ImageID {
					found, imageName = true, img.Name
					break
				}
			}
			if !found {
				return "", false, &InvalidParamsError{Errs: modelarts.ValidationErrors{{
					Field:   "extend_param.image_id",
					Message: "this image is not offered for the selected servers; choose one from the list",
				}}}
			}
		}
		cp := *params
		extend = &cp
	}

	id := uuid.NewString()
	shown, err := json.Marshal(DescribeParams(extend, imageName))
	if err != nil {
		return "", false, fmt.Errorf("batch: execute: %w", err)
	}
	skipped, err := json.Marshal(p.Skipped)
	if err != nil {
		return "", false, fmt.Errorf("batch: execute: %w", err)
	}
	parts := chunks(p.Targets, s.chunkSize)
	now := s.now().UnixMilli()

	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return "", false, fmt.Errorf("batch: execute: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	res, err := tx.ExecContext(ctx, `UPDATE prepared_actions SET used_at = ?, batch_id = ?
		WHERE token_hash = ? AND used_at IS NULL`, now, id, hashToken(token))
	if err != nil {
		return "", false, fmt.Errorf("batch: execute: claim token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", false, fmt.Errorf("batch: execute: claim token: %w", err)
	} else if n == 0 {
		// Someone else (a double click) claimed it between Lookup and here.
		var first sql.NullString
		if err := tx.GetContext(ctx, &first, `SELECT batch_id FROM prepared_actions WHERE token_hash = ?`,
			hashToken(token)); err != nil {
			return "", false, fmt.Errorf("batch: execute: read claimed token: %w", err)
		}
		return first.String, false, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO batches
		(id, user_id, user_name, action, params, created_at, chunk_size, total, skipped)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, user.ID, user.Name, string(p.Action), string(shown), now, s.chunkSize, len(p.Targets), string(skipped)); err != nil {
		return "", false, fmt.Errorf("batch: execute: insert batch: %w", err)
	}
	for i, part := range parts {
		ids := make([]string, len(part))
		for k, t := range part {
			ids[k] = t.ID
			if _, err := tx.ExecContext(ctx, `INSERT INTO batch_servers
				(batch_id, server_id, name, chunk, initial_status) VALUES (?, ?, ?, ?, ?)`,
				id, t.ID, t.Name, i+1, string(t.Status)); err != nil {
				return "", false, fmt.Errorf("batch: execute: insert server: %w", err)
			}
		}
		idsJSON, err := json.Marshal(ids)
		if err != nil {
			return "", false, fmt.Errorf("batch: execute: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO batch_chunks (batch_id, n, server_ids) VALUES (?, ?, ?)`,
			id, i+1, string(idsJSON)); err != nil {
			return "", false, fmt.Errorf("batch: execute: insert chunk: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", false, fmt.Errorf("batch: execute: commit: %w", err)
	}

	j := &job{
		id:     id,
		action: p.Action,
		extend: extend,
		chunks: parts,
		actor: audit.Actor{
			UserID: user.ID, Name: user.Name, Role: string(user.Role),
			ClientIP: meta.ClientIP, UserAgent: meta.UserAgent,
		},
	}
	s.wg.Add(1)
	go s.run(context.WithoutCancel(ctx), j)
	s.log.InfoContext(ctx, "batch started", slog.String("batch_id", id), slog.String("action", string(p.Action)),
		slog.Int("servers", len(p.Targets)), slog.Int("chunks", len(parts)), slog.String("user", user.Name))
	return id, true, nil
}

// run sends every chunk of j in order. One chunk's failure does not stop the
// others: each is its own request, and each outcome is recorded.
func (s *Service) run(ctx context.Context, j *job) {
	defer s.wg.Done()
	for i, part := range j.chunks {
		if err := s.sendChunk(ctx, j, i+1, part); err != nil {
			// The batch record cannot be written: stop sending rather than
			// act on servers the console could not account for. Recover marks
			// the unsent chunks at the next start.
			s.log.ErrorContext(ctx, "batch stopped: cannot record chunk", slog.String("batch_id", j.id),
				slog.Int("chunk", i+1), slog.String("error", err.Error()))
			return
		}
	}
	s.log.InfoContext(ctx, "batch sent", slog.String("batch_id", j.id))
	s.follow(j.id)
}

// chunkResult is how one request ended.
type chunkResult struct {
	outcome        string
	httpStatus     int
	errorCode      string
	errorMsg       string
	requestID      string
	transportError string
}

// Chunk outcomes, as stored in batch_chunks.outcome.
const (
	OutcomePending  = "pending"
	OutcomeSending  = "sending"
	OutcomeOK       = "ok"
	OutcomeAPIError = "api_error"
	OutcomeUnknown  = "unknown"
	OutcomeNotSent  = "not_sent"
)

func (s *Service) sendChunk(ctx context.Context, j *job, n int, part []Target) error {
	started := s.now()
	if _, err := s.db.Write.ExecContext(ctx, `UPDATE batch_chunks SET outcome = ?, started_at = ?
		WHERE batch_id = ? AND n = ?`, OutcomeSending, started.UnixMilli(), j.id, n); err != nil {
		return err
	}
	req := &modelarts.BatchRequest{Type: j.action, Servers: make([]modelarts.BatchServerID, len(part)), ExtendParam: j.extend}
	targets := make([]audit.Target, len(part))
	for i, t := range part {
		req.Servers[i] = modelarts.BatchServerID{ID: t.ID}
		targets[i] = audit.Target{ID: t.ID, Name: t.Name}
	}
	cctx := audit.WithCallMeta(ctx, audit.CallMeta{
		Actor:         j.actor,
		CorrelationID: j.id,
		Action:        string(j.action),
		Targets:       targets,
	})
	cctx, cancel := context.WithTimeout(cctx, s.callTimeout)
	page, err := s.cloud.BatchAction(cctx, req)
	cancel()
	finished := s.now()
	r := classify(err, finished.Sub(started))
	if s.fleet != nil {
		s.fleet.Invalidate()
	}

	tx, txErr := s.db.Write.BeginTxx(ctx, nil)
	if txErr != nil {
		return txErr
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.ExecContext(ctx, `UPDATE batch_chunks SET outcome = ?, finished_at = ?, http_status = ?,
		error_code = ?, error_msg = ?, request_id = ?, transport_error = ? WHERE batch_id = ? AND n = ?`,
		r.outcome, finished.UnixMilli(), r.httpStatus, r.errorCode, r.errorMsg, r.requestID, r.transportError,
		j.id, n); err != nil {
		return err
	}
	if page != nil {
		if err := recordAcks(ctx, tx, j.id, page.Data); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if r.outcome != OutcomeOK {
		level = slog.LevelWarn
	}
	s.log.Log(ctx, level, "batch chunk", slog.String("batch_id", j.id), slog.Int("chunk", n),
		slog.Int("servers", len(part)), slog.String("outcome", r.outcome), slog.Int("http_status", r.httpStatus),
		slog.String("error_code", r.errorCode), slog.String("request_id", r.requestID))
	return nil
}

// recordAcks keeps the status and update_at ModelArts' answer gave each
// server.
func recordAcks(ctx context.Context, tx *sqlx.Tx, batchID string, data []modelarts.ServerResponse) error {
	for _, srv := range data {
		if srv.ID == "" || srv.Status == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE batch_servers SET ack_status = ?, ack_update_at = ?
			WHERE batch_id = ? AND server_id = ?`, string(srv.Status), srv.UpdateAt, batchID, srv.ID); err != nil {
			return err
		}
	}
	return nil
}

// classify turns the BatchAction result into a chunk outcome.
func classify(err error, took time.Duration) chunkResult {
	var apiErr *modelarts.APIError
	var verrs modelarts.ValidationErrors
	var netErr net.Error
	switch {
	case err == nil:
		return chunkResult{outcome: OutcomeOK, httpStatus: 200}
	case errors.As(err, &apiErr):
		return chunkResult{outcome: OutcomeAPIError, httpStatus: apiErr.HTTPStatus, errorCode: apiErr.Code,
			errorMsg: apiErr.Message, requestID: apiErr.RequestID}
	case errors.Is(err, modelarts.ErrNotRecorded):
		return chunkResult{outcome: OutcomeNotSent,
			transportError: "the audit log could not record the request, so the console did not send it"}
	case errors.As(err, &verrs):
		return chunkResult{outcome: OutcomeNotSent, errorMsg: verrs.Error()}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return chunkResult{outcome: OutcomeUnknown,
			transportError: fmt.Sprintf("%s%s (%v)", timeoutPrefix, roundDuration(took), err)}
	default:
		return chunkResult{outcome: OutcomeUnknown, transportError: err.Error()}
	}
}

// timeoutPrefix starts the transport error of a request that timed out.
const timeoutPrefix = "no answer within "

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// Recover settles chunks left behind by a console that stopped mid-batch:
// a chunk that was being sent gets outcome "unknown" (it may have acted) and
// a chunk never sent gets "not_sent". Then it follows, in the background,
// every batch whose final states are not recorded yet. Call it once at
// start, before any Execute.
func (s *Service) Recover(ctx context.Context) error {
	now := s.now().UnixMilli()
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("batch: recover: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.ExecContext(ctx, `UPDATE batch_chunks SET outcome = ?, finished_at = ?, transport_error = ?
		WHERE outcome = ?`, OutcomeUnknown, now,
		"the console stopped while this request was on its way; it may or may not have been carried out",
		OutcomeSending); err != nil {
		return fmt.Errorf("batch: recover: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE batch_chunks SET outcome = ?, finished_at = ?, transport_error = ?
		WHERE outcome = ?`, OutcomeNotSent, now, "the console stopped before this request was sent",
		OutcomePending); err != nil {
		return fmt.Errorf("batch: recover: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("batch: recover: commit: %w", err)
	}
	return s.followUnfinished(ctx)
}
