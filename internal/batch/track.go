package batch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
)

// Batch states.
const (
	StatusRunning = "running"
	StatusDone    = "done"
)

// Batch is an executed action as recorded.
type Batch struct {
	ID         string
	Project    string // the console project it acted on
	UserID     int64
	UserName   string
	Action     modelarts.BatchType
	Params     Params
	CreatedAt  time.Time
	ChunkSize  int
	Total      int
	Skipped    []Skip
	Status     string
	FinishedAt time.Time
	// ApprovedBy and ApprovalID name the approver and the approval request
	// of a batch that ran on someone's approval (empty otherwise).
	ApprovedBy string
	ApprovalID string
}

// Done reports whether every server settled and the final states are recorded.
func (b *Batch) Done() bool { return b.Status == StatusDone }

// Chunk is one request of a batch and how it ended.
type Chunk struct {
	N              int
	ServerIDs      []string
	Outcome        string
	StartedAt      time.Time
	FinishedAt     time.Time
	HTTPStatus     int
	ErrorCode      string
	ErrorMsg       string
	RequestID      string
	TransportError string
	// Failure is the kind of failure (FailureNone when it succeeded).
	Failure Failure
}

// Finished reports whether the request has ended (whatever the outcome).
func (c *Chunk) Finished() bool { return c.Outcome != OutcomePending && c.Outcome != OutcomeSending }

// Failed reports whether the request did not plainly succeed.
func (c *Chunk) Failed() bool {
	return c.Outcome == OutcomeAPIError || c.Outcome == OutcomeUnknown || c.Outcome == OutcomeNotSent
}

// TimedOut reports whether the request got no answer in time.
func (c *Chunk) TimedOut() bool {
	return c.Failure == FailureTimeout
}

// Took is how long the request took (rounded for display), or 0 if it has
// not ended.
func (c *Chunk) Took() time.Duration {
	if c.StartedAt.IsZero() || c.FinishedAt.IsZero() {
		return 0
	}
	return roundDuration(c.FinishedAt.Sub(c.StartedAt))
}

// Result is how one server of a batch fared.
type Result string

// Server results.
const (
	ResultWaiting    Result = "waiting"     // its request has not been sent yet
	ResultSending    Result = "sending"     // its request is on its way
	ResultInProgress Result = "in_progress" // sent; the server has not settled
	ResultSucceeded  Result = "succeeded"   // settled in the action's success state
	ResultFailed     Result = "failed"      // settled in a *_FAILED or ERROR state
	ResultRefused    Result = "refused"     // its request was refused or not sent: nothing happened
	ResultUnknown    Result = "unknown"     // its request's outcome is unknown and the server did not move
	ResultUnchanged  Result = "unchanged"   // accepted, but the server never left its starting state
)

// Final reports whether the result will not change any more.
func (r Result) Final() bool {
	return r != ResultWaiting && r != ResultSending && r != ResultInProgress
}

// Bad reports whether the result needs an operator's attention.
func (r Result) Bad() bool {
	return r == ResultFailed || r == ResultRefused || r == ResultUnknown || r == ResultUnchanged
}

// ServerState is one server of a batch: where it started and where it is.
type ServerState struct {
	ID      string
	Name    string
	Chunk   int
	Initial modelarts.Status
	// Current is the live status (or the recorded final one once the batch
	// is done). A server gone from the fleet shows DELETED.
	Current modelarts.Status
	Gone    bool
	Result  Result
	// Why says why a server that needs attention ended as it did:
	// ModelArts' error code and message, or the state it ended in (worded
	// in the reader's language by the views; Reason gives the English).
	Why Why
}

// Reason says in English why st ended as it did ("" when it needs no
// attention), for logs and tests; pages word st.Why in the reader's language.
func (st ServerState) Reason() string { return st.Why.English() }

// Counts sums up a batch for its summary line.
type Counts struct {
	Total, Waiting, Sending, InProgress, Succeeded, Failed, Refused, Unknown, Unchanged int
	// FailedChunks counts requests that were refused, not sent or whose
	// outcome is unknown.
	FailedChunks int
}

// Problems is the number of servers whose result needs attention.
func (c Counts) Problems() int { return c.Failed + c.Refused + c.Unknown + c.Unchanged }

// Progress is a batch with each request's outcome and each server's state.
type Progress struct {
	Batch   Batch
	Chunks  []Chunk
	Servers []ServerState
	Counts  Counts
	// Done is true once every server is final. Recorded says the final
	// states are recorded (the follower's step, Settle); until then they are
	// computed from the fleet list.
	Done     bool
	Recorded bool
	// AsOf is when the statuses were read (the snapshot's time, or the
	// batch's finish time once done).
	AsOf time.Time
}

type batchRow struct {
	ID         string        `db:"id"`
	UserID     int64         `db:"user_id"`
	UserName   string        `db:"user_name"`
	Action     string        `db:"action"`
	Params     string        `db:"params"`
	CreatedAt  int64         `db:"created_at"`
	ChunkSize  int           `db:"chunk_size"`
	Total      int           `db:"total"`
	Skipped    string        `db:"skipped"`
	Status     string        `db:"status"`
	FinishedAt sql.NullInt64 `db:"finished_at"`
	ApprovedBy string        `db:"approved_by"`
	ApprovalID string        `db:"approval_id"`
	Project    string        `db:"project"`
}

const batchColumns = `id, user_id, user_name, action, params, created_at, chunk_size, total, skipped, status, finished_at, approved_by, approval_id, project`

func (r *batchRow) toBatch() (Batch, error) {
	b := Batch{
		ID: r.ID, Project: r.Project, UserID: r.UserID, UserName: r.UserName, Action: modelarts.BatchType(r.Action),
		CreatedAt: time.UnixMilli(r.CreatedAt), ChunkSize: r.ChunkSize, Total: r.Total, Status: r.Status,
		ApprovedBy: r.ApprovedBy, ApprovalID: r.ApprovalID,
	}
	if r.FinishedAt.Valid {
		b.FinishedAt = time.UnixMilli(r.FinishedAt.Int64)
	}
	if err := json.Unmarshal([]byte(r.Params), &b.Params); err != nil {
		return b, fmt.Errorf("batch: decode params: %w", err)
	}
	if err := json.Unmarshal([]byte(r.Skipped), &b.Skipped); err != nil {
		return b, fmt.Errorf("batch: decode skipped: %w", err)
	}
	return b, nil
}

// Get returns the batch id, or ErrNotFound. It finds batches of every
// project (Batch.Project says which), so a link to a batch can be followed
// to its project; Status and the actions are for this service's own.
func (s *Service) Get(ctx context.Context, id string) (*Batch, error) {
	var r batchRow
	err := s.db.Read.GetContext(ctx, &r, `SELECT `+batchColumns+` FROM batches WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("batch: get %s: %w", id, err)
	}
	b, err := r.toBatch()
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// Summary is one line of the recent-batches list.
type Summary struct {
	Batch
	// Problems counts failed or unclear requests and servers that settled
	// badly (recorded once the batch is done).
	FailedChunks   int
	FailedServers  int
	UnsentChunks   int
	UnknownChunks  int
	RefusedChunks  int
	PendingChunks  int
	FinishedChunks int
}

// List returns the most recent batches, newest first: those of userID, or
// everyone's when userID is 0. limit is capped to 1..500.
func (s *Service) List(ctx context.Context, userID int64, limit int) ([]Summary, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q := `SELECT ` + batchColumns + `,
		(SELECT count(*) FROM batch_chunks c WHERE c.batch_id = b.id AND c.outcome = 'api_error') AS refused,
		(SELECT count(*) FROM batch_chunks c WHERE c.batch_id = b.id AND c.outcome = 'unknown') AS unknown,
		(SELECT count(*) FROM batch_chunks c WHERE c.batch_id = b.id AND c.outcome = 'not_sent') AS unsent,
		(SELECT count(*) FROM batch_chunks c WHERE c.batch_id = b.id AND c.outcome IN ('pending', 'sending')) AS pending,
		(SELECT count(*) FROM batch_servers v WHERE v.batch_id = b.id
			AND (v.final_status LIKE '%FAILED' OR v.final_status = 'ERROR')) AS failed_servers
		FROM batches b WHERE project = ?`
	args := []any{s.project}
	if userID != 0 {
		q += ` AND user_id = ?`
		args = append(args, userID)
	}
	q += ` ORDER BY created_at DESC, id LIMIT ?`
	args = append(args, limit)
	var rows []struct {
		batchRow
		Refused       int `db:"refused"`
		Unknown       int `db:"unknown"`
		Unsent        int `db:"unsent"`
		Pending       int `db:"pending"`
		FailedServers int `db:"failed_servers"`
	}
	if err := s.db.Read.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("batch: list: %w", err)
	}
	out := make([]Summary, 0, len(rows))
	for i := range rows {
		b, err := rows[i].toBatch()
		if err != nil {
			return nil, err
		}
		r := rows[i]
		out = append(out, Summary{
			Batch:         b,
			RefusedChunks: r.Refused, UnknownChunks: r.Unknown, UnsentChunks: r.Unsent, PendingChunks: r.Pending,
			FailedChunks:  r.Refused + r.Unknown + r.Unsent,
			FailedServers: r.FailedServers,
		})
	}
	return out, nil
}

type chunkRow struct {
	N              int           `db:"n"`
	ServerIDs      string        `db:"server_ids"`
	Outcome        string        `db:"outcome"`
	StartedAt      sql.NullInt64 `db:"started_at"`
	FinishedAt     sql.NullInt64 `db:"finished_at"`
	HTTPStatus     int           `db:"http_status"`
	ErrorCode      string        `db:"error_code"`
	ErrorMsg       string        `db:"error_msg"`
	RequestID      string        `db:"request_id"`
	TransportError string        `db:"transport_error"`
	Failure        string        `db:"failure"`
}

type serverRow struct {
	ServerID      string `db:"server_id"`
	Name          string `db:"name"`
	Chunk         int    `db:"chunk"`
	InitialStatus string `db:"initial_status"`
	AckStatus     string `db:"ack_status"`
	AckUpdateAt   int64  `db:"ack_update_at"`
	FinalStatus   string `db:"final_status"`
}

// Status reports the batch's progress with each server's live status from
// snap. A server is final once its request has ended and snap, read after
// that, shows it settled (not in a transient state); a server gone from the
// fleet counts as DELETED. Status only reads: recording the final states is
// Settle's step. Once they are recorded Status reports them and ignores
// snap.
func (s *Service) Status(ctx context.Context, id string, snap *fleet.Snapshot) (*Progress, error) {
	b, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if b.Project != s.project {
		// snap is this project's fleet: it cannot tell another project's
		// servers apart from deleted ones.
		return nil, ErrNotFound
	}
	var crows []chunkRow
	if err := s.db.Read.SelectContext(ctx, &crows, `SELECT n, server_ids, outcome, started_at, finished_at,
		http_status, error_code, error_msg, request_id, transport_error, failure FROM batch_chunks WHERE batch_id = ? ORDER BY n`, id); err != nil {
		return nil, fmt.Errorf("batch: status %s: chunks: %w", id, err)
	}
	var srows []serverRow
	if err := s.db.Read.SelectContext(ctx, &srows, `SELECT server_id, name, chunk, initial_status, ack_status,
		ack_update_at, final_status FROM batch_servers WHERE batch_id = ? ORDER BY chunk, name, server_id`, id); err != nil {
		return nil, fmt.Errorf("batch: status %s: servers: %w", id, err)
	}
	p := &Progress{Batch: *b, Chunks: make([]Chunk, len(crows)), Servers: make([]ServerState, len(srows))}
	byN := make(map[int]*Chunk, len(crows))
	for i, r := range crows {
		c := Chunk{N: r.N, Outcome: r.Outcome, HTTPStatus: r.HTTPStatus, ErrorCode: r.ErrorCode,
			ErrorMsg: r.ErrorMsg, RequestID: r.RequestID, TransportError: r.TransportError, Failure: Failure(r.Failure)}
		if r.StartedAt.Valid {
			c.StartedAt = time.UnixMilli(r.StartedAt.Int64)
		}
		if r.FinishedAt.Valid {
			c.FinishedAt = time.UnixMilli(r.FinishedAt.Int64)
		}
		if err := json.Unmarshal([]byte(r.ServerIDs), &c.ServerIDs); err != nil {
			return nil, fmt.Errorf("batch: status %s: decode chunk: %w", id, err)
		}
		p.Chunks[i] = c
		byN[c.N] = &p.Chunks[i]
		if c.Failed() {
			p.Counts.FailedChunks++
		}
	}

	now := s.now()
	allFinal := true
	for i, r := range srows {
		st := ServerState{ID: r.ServerID, Name: r.Name, Chunk: r.Chunk, Initial: modelarts.Status(r.InitialStatus)}
		c := byN[r.Chunk]
		if b.Done() {
			st.Current = modelarts.Status(r.FinalStatus)
			st.Gone = st.Current == modelarts.StatusDeleted
			st.Result = s.judge(b.Action, c, st, modelarts.Status(r.AckStatus), true, now)
		} else {
			st.Current = st.Initial
			fresh := snap != nil && c != nil && c.Finished() && !snap.FetchedAt.Before(c.FinishedAt)
			if srv, ok := snap.Find(r.ServerID); ok {
				st.Current = srv.Status
				// A list walk that began before the answer came can finish
				// after it: an entry older than the answer (by ModelArts' own
				// update_at) predates the action.
				if r.AckUpdateAt > 0 && srv.UpdateAt > 0 && srv.UpdateAt < r.AckUpdateAt {
					fresh = false
				}
			} else if snap != nil {
				st.Current, st.Gone = modelarts.StatusDeleted, true
			}
			st.Result = s.judge(b.Action, c, st, modelarts.Status(r.AckStatus), fresh, now)
		}
		if !st.Result.Final() {
			allFinal = false
		}
		st.Why = why(b.Action, c, st)
		p.Servers[i] = st
		p.Counts.Total++
		switch st.Result {
		case ResultWaiting:
			p.Counts.Waiting++
		case ResultSending:
			p.Counts.Sending++
		case ResultInProgress:
			p.Counts.InProgress++
		case ResultSucceeded:
			p.Counts.Succeeded++
		case ResultFailed:
			p.Counts.Failed++
		case ResultRefused:
			p.Counts.Refused++
		case ResultUnknown:
			p.Counts.Unknown++
		case ResultUnchanged:
			p.Counts.Unchanged++
		}
	}
	for _, c := range p.Chunks {
		if !c.Finished() {
			allFinal = false
		}
	}

	switch {
	case b.Done():
		p.Done, p.Recorded, p.AsOf = true, true, b.FinishedAt
	default:
		p.Done = allFinal
		if snap != nil {
			p.AsOf = snap.FetchedAt
		}
	}
	return p, nil
}

// Settle is the follower's step: it reports the batch's progress from snap
// and, when every server is final, records the final states, once.
func (s *Service) Settle(ctx context.Context, id string, snap *fleet.Snapshot) (*Progress, error) {
	p, err := s.Status(ctx, id, snap)
	if err != nil || !p.Done || p.Recorded {
		return p, err
	}
	now := s.now()
	if err := s.finish(ctx, id, p.Servers, now); err != nil {
		return nil, err
	}
	p.Recorded, p.AsOf = true, now
	p.Batch.Status, p.Batch.FinishedAt = StatusDone, now
	return p, nil
}

// reason says in English why st ended as it did (see why).
func reason(action modelarts.BatchType, c *Chunk, st ServerState) string {
	return why(action, c, st).English()
}

// why says why st ended as it did, for a server that needs attention (and
// for one whose request's outcome was unknown but reached the action's
// state), as a catalog message.
func why(action modelarts.BatchType, c *Chunk, st ServerState) Why {
	var state any = st.Current
	if st.Gone {
		state = Why{ID: "reason.state.gone"}
	}
	switch {
	case c == nil:
		return Why{}
	case c.Outcome == OutcomeAPIError:
		return Why{"reason.server.refused", []any{"Code", c.ErrorCode, "Msg", c.ErrorMsg}}
	case c.Outcome == OutcomeNotSent:
		return Why{"reason.server.not_sent", []any{"Why", c.Why()}}
	case c.Outcome == OutcomeUnknown && st.Result == ResultSucceeded:
		return Why{"reason.server.unknown_reached", []any{"State", state}}
	case c.Outcome == OutcomeUnknown && st.Result.Final():
		return Why{"reason.server.unknown_settled", []any{"State", state}}
	case c.Outcome == OutcomeUnknown:
		return Why{ID: "reason.server.unknown_watching"}
	case st.Result == ResultFailed && st.Gone:
		return Why{"reason.server.disappeared", []any{"Action", action}}
	case st.Result == ResultFailed:
		return Why{"reason.server.ended", []any{"State", state}}
	case st.Result == ResultUnchanged:
		return Why{"reason.server.unchanged", []any{"State", state}}
	}
	return Why{}
}

// Bad returns the servers of p whose result needs attention.
func (p *Progress) Bad() []ServerState {
	var out []ServerState
	for _, st := range p.Servers {
		if st.Result.Bad() {
			out = append(out, st)
		}
	}
	return out
}

// judge decides the result of one server. fresh says the status was read
// after the server's request ended; for a finished batch it is always true.
func (s *Service) judge(action modelarts.BatchType, c *Chunk, st ServerState, ack modelarts.Status, fresh bool, now time.Time) Result {
	if c == nil || c.Outcome == OutcomePending {
		return ResultWaiting
	}
	if c.Outcome == OutcomeSending {
		return ResultSending
	}
	if c.Outcome == OutcomeAPIError || c.Outcome == OutcomeNotSent {
		return ResultRefused
	}
	if !fresh || st.Current.Transient() {
		return ResultInProgress
	}
	tr := modelarts.Transitions[action]
	cur := st.Current
	// A server still in its starting state, never seen moving, may simply
	// not have been picked up yet (or the list read was a moment old): wait
	// a little before judging it.
	moved := st.Gone || cur != st.Initial || (ack != "" && ack != st.Initial)
	if !moved && now.Sub(c.FinishedAt) < s.settleGrace {
		return ResultInProgress
	}
	switch {
	case st.Gone:
		if action == modelarts.BatchDelete {
			return ResultSucceeded
		}
		return ResultFailed // it vanished under an action that does not delete
	case cur.Failed():
		return ResultFailed
	case cur == tr.Success:
		// For a reboot never seen REBOOTING this may have been too quick to
		// see; the server is where the action leaves it either way.
		return ResultSucceeded
	case c.Outcome == OutcomeUnknown:
		return ResultUnknown
	default:
		// Settled somewhere other than the success state, or never moved.
		return ResultUnchanged
	}
}

// finish records the final states and marks the batch done, once.
func (s *Service) finish(ctx context.Context, id string, servers []ServerState, now time.Time) error {
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("batch: finish %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	res, err := tx.ExecContext(ctx, `UPDATE batches SET status = ?, finished_at = ? WHERE id = ? AND status = ?`,
		StatusDone, now.UnixMilli(), id, StatusRunning)
	if err != nil {
		return fmt.Errorf("batch: finish %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // already finished by a concurrent poll: keep its record
	}
	for _, st := range servers {
		if _, err := tx.ExecContext(ctx, `UPDATE batch_servers SET final_status = ?, finished_at = ?
			WHERE batch_id = ? AND server_id = ?`, string(st.Current), now.UnixMilli(), id, st.ID); err != nil {
			return fmt.Errorf("batch: finish %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("batch: finish %s: commit: %w", id, err)
	}
	s.log.InfoContext(ctx, "batch done", "batch_id", id)
	if h := s.finished(); h != nil {
		if b, err := s.Get(context.WithoutCancel(ctx), id); err != nil {
			s.log.WarnContext(ctx, "batch done: cannot read it for the finish hook", "batch_id", id, "err", err)
		} else {
			h(context.WithoutCancel(ctx), b)
		}
	}
	return nil
}
