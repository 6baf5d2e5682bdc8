package batch

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
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
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
	// first, when set, carries the batch's records to the first chunk's
	// commit (see Execute).
	first  *firstChunk
	id     string
	action modelarts.BatchType
	extend *modelarts.ServerOSRequest
	chunks [][]Target
	actor  audit.Actor
	// detail goes on every call's audit entries (an approved batch's
	// requester, approver and approval request).
	detail map[string]string
	// project is the console project the batch acts on (audit entries
	// record it).
	project string
	claim   *store.Claim // held from before the batch exists until it is followed
}

// ExecuteRequest is one request to run a prepared action.
type ExecuteRequest struct {
	// User runs the action: the one who prepared it (the token is theirs).
	User  *auth.User
	Token string
	// OS holds the settings of a Change OS / Reinstall OS (nil otherwise).
	OS *OSInput
	// TypedWord confirms a destructive action: it must be Word(action).
	TypedWord string
	// Meta is where the request came from, for the audit log.
	Meta Meta
	// ApprovedBy names who approved the action when it runs on an approval;
	// it is recorded with the batch. ApprovalID is the approval request it
	// runs for; both go on the batch and on its calls' audit entries.
	ApprovedBy string
	ApprovalID string
	// BatchID is the new batch's id when the caller chose it (an approval
	// names it in its audit entry before the batch starts); empty: a new one.
	BatchID string
}

// Execution is what Execute did.
type Execution struct {
	// Prepared is the prepared action, whenever it could be loaded (also
	// with most errors, so the caller can show its form again).
	Prepared *Prepared
	// BatchID is the batch the token started (now or at a first execution).
	BatchID string
	// Started is false when the token had already been used: nothing was
	// sent this time.
	Started bool
	// ApprovalID is the approval request the token became (Submit), now or
	// at a first submit.
	ApprovalID string
}

// Execute sends the prepared action of r.Token, once. This is the one
// entry point for running an action, whether confirmed by its user or
// approved: it loads the prepared action once and decides, in this order,
// the token (ErrTokenUnknown, ErrTokenExpired; a used token returns the
// first batch with Started false and sends nothing), the typed word of a
// destructive action (ErrConfirmation; the token stays usable), something
// to send (ErrNothingToSend), the images (see Prepared.ImagesProblem) and
// the OS settings (FieldErrors, including an image that is not offered).
// The chunks are then sent in the background, each bounded by the call
// timeout, on a context detached from ctx so a closed browser does not
// abort half a batch.
func (s *Service) Execute(ctx context.Context, r ExecuteRequest) (Execution, error) {
	p, err := s.Lookup(ctx, r.User, r.Token)
	ex := Execution{Prepared: p}
	if err != nil {
		return ex, err
	}
	if p.Used() {
		ex.BatchID, ex.ApprovalID = p.BatchID, p.ApprovalID
		return ex, nil
	}
	if p.Action.Destructive() && r.TypedWord != Word(p.Action) {
		return ex, &ConfirmationError{Word: Word(p.Action)}
	}
	if r.ApprovedBy == "" && s.NeedsApproval(p) {
		// The approval policy covers it: it may only become a request
		// (Submit), never run on its requester's word alone.
		return ex, ErrApprovalRequired
	}
	extend, imageName, err := p.check(r.OS)
	if err != nil {
		return ex, err
	}
	if s.stopped() {
		return ex, ErrShuttingDown
	}
	user := r.User
	id := cmp.Or(r.BatchID, uuid.NewString())
	shown, err := json.Marshal(DescribeParams(extend, imageName))
	if err != nil {
		return ex, fmt.Errorf("batch: execute: %w", err)
	}
	skipped, err := json.Marshal(p.Skipped)
	if err != nil {
		return ex, fmt.Errorf("batch: execute: %w", err)
	}
	parts := chunks(p.Targets, s.chunkSize)
	now := s.now().UnixMilli()

	// Outside any transaction: preparing waits for the writer connection.
	if err := s.db.PrepareWrite(ctx, runSQL(s.chunkSize)...); err != nil {
		s.log.WarnContext(ctx, "batch: statements not prepared ahead", slog.String("err", err.Error()))
	}

	// Claim the batch before it exists, so that no other console (replica)
	// can take it over as abandoned before its first chunk is sent.
	claim, err := s.claims.TryClaim(ctx, claimName(id))
	if err != nil {
		return ex, fmt.Errorf("batch: execute: %w", err)
	}
	if claim == nil {
		return ex, fmt.Errorf("batch: execute: batch %s is claimed already", id)
	}
	started := false
	defer func() {
		if !started {
			_ = claim.Release(context.WithoutCancel(ctx))
		}
	}()

	// rows records the batch and claims the token. With an audit log it is
	// committed together with the first chunk's "sending" mark and its audit
	// request entry (one commit before the call instead of three); the
	// claim failing (a double click) rolls all of it back and nothing is
	// sent.
	rows := func(ctx context.Context, tx *sqlx.Tx) error {
		res, err := execStmt(ctx, s.db, tx, claimTokenSQL, now, id, p.tokenHash)
		if err != nil {
			return fmt.Errorf("claim token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("claim token: %w", err)
		} else if n == 0 {
			return errClaimed
		}
		if _, err := execStmt(ctx, s.db, tx, insertBatchSQL,
			id, user.ID, user.Name, string(p.Action), string(shown), now, s.chunkSize, len(p.Targets), string(skipped),
			r.ApprovedBy, r.ApprovalID, s.project); err != nil {
			return fmt.Errorf("insert batch: %w", err)
		}
		for i, part := range parts {
			// One statement per chunk: executing the INSERT once per server
			// cost more than the rows themselves (issue 11 §3).
			ids := make([]string, len(part))
			args := make([]any, 0, 5*len(part))
			for k, t := range part {
				ids[k] = t.ID
				args = append(args, id, t.ID, t.Name, i+1, string(t.Status))
			}
			if _, err := execStmt(ctx, s.db, tx, insertServersSQL(len(part)), args...); err != nil {
				return fmt.Errorf("insert the servers of chunk %d: %w", i+1, err)
			}
			idsJSON, err := json.Marshal(ids)
			if err != nil {
				return err
			}
			if _, err := execStmt(ctx, s.db, tx, insertChunkSQL, id, i+1, string(idsJSON)); err != nil {
				return fmt.Errorf("insert chunk: %w", err)
			}
		}
		return nil
	}

	j := &job{
		project: s.project,
		id:      id,
		action:  p.Action,
		extend:  extend,
		chunks:  parts,
		actor: audit.Actor{
			UserID: user.ID, Name: user.Name, Role: string(user.Role),
			ClientIP: r.Meta.ClientIP, UserAgent: r.Meta.UserAgent,
		},
		claim: claim,
	}
	if r.ApprovedBy != "" {
		j.detail = map[string]string{
			audit.DetailRequester: user.Name, audit.DetailApprover: r.ApprovedBy,
			audit.DetailApprovalRequest: r.ApprovalID,
		}
	}
	if s.audit == nil {
		if err := s.writeTx(ctx, rows); err != nil {
			return ex, s.claimLost(ctx, p, &ex, err)
		}
		started = true // the run holds the claim now
		s.wg.Add(1)
		go s.run(s.runCtx, j)
	} else {
		j.first = &firstChunk{rows: rows, done: make(chan error, 1)}
		started = true // the run holds the claim now (released below if nothing was recorded)
		s.wg.Add(1)
		go s.run(s.runCtx, j)
		// Wait until the batch is recorded (with its first request) or
		// could not be: the answer says whether this click started it.
		if err := <-j.first.done; err != nil {
			_ = claim.Release(context.WithoutCancel(ctx))
			return ex, s.claimLost(ctx, p, &ex, err)
		}
	}
	s.log.InfoContext(ctx, "batch started", slog.String("batch_id", id), slog.String("action", string(p.Action)),
		slog.Int("servers", len(p.Targets)), slog.Int("chunks", len(parts)), slog.String("user", user.Name),
		slog.String("approved_by", r.ApprovedBy))
	p.BatchID, p.UsedAt = id, time.UnixMilli(now)
	ex.BatchID, ex.Started = id, true
	return ex, nil
}

// errClaimed says the token was claimed by another request between Lookup
// and the claim.
var errClaimed = errors.New("batch: the token was used by another request")

// claimLost turns the failure to record a new batch into Execute's answer:
// a token claimed meanwhile (a double click) returns that first batch with
// Started false and no error; anything else is an error, nothing was sent.
func (s *Service) claimLost(ctx context.Context, p *Prepared, ex *Execution, err error) error {
	if !errors.Is(err, errClaimed) {
		return fmt.Errorf("batch: execute: record batch: %w", err)
	}
	var first sql.NullString
	if err := s.db.Read.GetContext(ctx, &first, `SELECT batch_id FROM prepared_actions WHERE token_hash = ?`,
		p.tokenHash); err != nil {
		return fmt.Errorf("batch: execute: read claimed token: %w", err)
	}
	ex.BatchID = first.String
	return nil
}

// firstChunk carries the batch's own records to the first chunk's commit
// and that commit's outcome back to Execute.
type firstChunk struct {
	rows audit.TxFunc
	done chan error // buffered: receives exactly one value
	once sync.Once
}

func (f *firstChunk) signal(err error) { f.once.Do(func() { f.done <- err }) }

// chunkRecorder starts the call's timeout once the request is committed
// (the records are not the call), and for a first chunk tells Execute as
// soon as the request (and with it the batch) is committed, before the call
// is sent, or that the token was claimed by someone else.
type chunkRecorder struct {
	*audit.Call
	f       *firstChunk // nil: not a batch's first chunk
	ctx     *callContext
	timeout time.Duration
}

func (r chunkRecorder) BeforeSend(ctx context.Context, call *modelarts.OutgoingCall) (int64, error) {
	ref, err := r.Call.BeforeSend(ctx, call)
	if err == nil {
		r.ctx.arm(r.timeout)
	}
	if r.f != nil && (err == nil || errors.Is(err, errClaimed)) {
		r.f.signal(err)
	}
	return ref, err
}

// callContext is a call's context whose deadline (the call timeout) is set
// only once its request is recorded, so a slow commit on a busy disk does
// not use up the call's time. It ends with its parent, at the deadline
// (context.DeadlineExceeded), or at release.
type callContext struct {
	context.Context // the parent
	done            chan struct{}
	stopParent      func() bool

	mu       sync.Mutex
	err      error
	deadline time.Time
	timer    *time.Timer
}

func newCallContext(parent context.Context) *callContext {
	c := &callContext{Context: parent, done: make(chan struct{})}
	c.stopParent = context.AfterFunc(parent, func() { c.end(parent.Err()) })
	return c
}

func (c *callContext) arm(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.timer == nil {
		c.deadline = time.Now().Add(d)
		c.timer = time.AfterFunc(d, func() { c.end(context.DeadlineExceeded) })
	}
}

func (c *callContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// release frees the context's timer and parent hook.
func (c *callContext) release() {
	c.stopParent()
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.end(context.Canceled)
}

func (c *callContext) Done() <-chan struct{} { return c.done }

func (c *callContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *callContext) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		return c.deadline, true
	}
	return c.Context.Deadline()
}

// writeTx runs fn in one write transaction.
func (s *Service) writeTx(ctx context.Context, fn audit.TxFunc) error {
	return s.db.WriteTx(ctx, func(tx *sqlx.Tx) error { return fn(ctx, tx) })
}

// run sends every chunk of j in order. One chunk's failure does not stop the
// others: each is its own request, and each outcome is recorded.
func (s *Service) run(ctx context.Context, j *job) {
	defer s.wg.Done()
	for i, part := range j.chunks {
		select {
		case <-j.claim.Lost():
			// The connection holding the claim broke: another console may
			// hold the batch now and settle the unsent chunks. Sending more
			// could act twice.
			s.log.ErrorContext(ctx, "batch stopped: lost its claim (the database connection broke); another console takes it over",
				slog.String("batch_id", j.id), slog.Int("chunk", i+1))
			if j.first != nil && i == 0 {
				j.first.done <- errors.New("batch: lost the claim on the batch before it was recorded")
			}
			return
		default:
		}
		// The first chunk of a batch that is not recorded yet is always
		// tried: Execute checked for shutdown, and sending it is what
		// records the batch.
		if s.stopped() && (i > 0 || j.first == nil) {
			if err := s.markUnsent(ctx, j.id, i+1); err != nil {
				s.log.ErrorContext(ctx, "batch stopped by shutdown; unsent chunks not marked (the next start marks them)",
					slog.String("batch_id", j.id), slog.String("err", err.Error()))
			} else {
				s.log.WarnContext(ctx, "batch stopped by shutdown; the remaining chunks were not sent",
					slog.String("batch_id", j.id), slog.Int("first_unsent_chunk", i+1), slog.Int("chunks", len(j.chunks)))
			}
			s.follow(j.id, j.claim)
			return
		}
		if err := s.sendChunk(ctx, j, i+1, part); errors.Is(err, errClaimed) {
			return // another request started this batch; nothing was recorded or sent
		} else if err != nil {
			// The batch record cannot be written: stop sending rather than
			// act on servers the console could not account for. Recover marks
			// the unsent chunks at the next start.
			s.log.ErrorContext(ctx, "batch stopped: cannot record chunk", slog.String("batch_id", j.id),
				slog.Int("chunk", i+1), slog.Any("err", err))
			_ = j.claim.Release(ctx)
			return
		}
	}
	s.log.InfoContext(ctx, "batch sent", slog.String("batch_id", j.id))
	s.follow(j.id, j.claim)
}

// markUnsent records chunks from..last of batch id as not sent because the
// console stopped.
func (s *Service) markUnsent(ctx context.Context, id string, from int) error {
	_, err := s.db.Write.ExecContext(context.WithoutCancel(ctx), `UPDATE batch_chunks SET outcome = ?, failure = ?,
		finished_at = ?, transport_error = ? WHERE batch_id = ? AND n >= ? AND outcome = ?`,
		OutcomeNotSent, string(FailureShutdown), s.now().UnixMilli(), "the console stopped before this request was sent",
		id, from, OutcomePending)
	return err
}

func (s *Service) sendChunk(ctx context.Context, j *job, n int, part []Target) error {
	started := s.now()
	// The records are written whatever happens to the call's context: a
	// cancelled call is still recorded.
	dbctx := context.WithoutCancel(ctx)
	sending := func(ctx context.Context, tx *sqlx.Tx) error {
		_, err := execStmt(ctx, s.db, tx, chunkSendingSQL, OutcomeSending, started.UnixMilli(), j.id, n)
		return err
	}
	var first *firstChunk
	if n == 1 {
		first = j.first
	}
	req := &modelarts.BatchRequest{Type: j.action, Servers: make([]modelarts.BatchServerID, len(part)), ExtendParam: j.extend}
	for i, t := range part {
		req.Servers[i] = modelarts.BatchServerID{ID: t.ID}
	}

	// With an audit log, the chunk's "sending" mark commits with the request
	// entry (and, for the first chunk, the batch itself), and its result with
	// the response entry: two commits per chunk.
	var call *audit.Call
	var rec modelarts.Recorder
	if s.audit != nil {
		before := sending
		if first != nil {
			before = func(ctx context.Context, tx *sqlx.Tx) error {
				if err := first.rows(ctx, tx); err != nil {
					return err
				}
				return sending(ctx, tx)
			}
		}
		call = s.audit.BeginCall(j.auditMeta(part), before)
	} else if err := s.writeTx(dbctx, sending); err != nil {
		return err
	}
	// The call timeout counts from when the request is recorded.
	cctx := newCallContext(ctx)
	if call != nil {
		rec = chunkRecorder{Call: call, f: first, ctx: cctx, timeout: s.callTimeout}
	} else {
		cctx.arm(s.callTimeout)
	}
	page, err := s.cloud.BatchAction(cctx, req, rec)
	cctx.release()
	finished := s.now()
	r := classify(err, finished.Sub(started))
	if s.obs != nil {
		s.obs.ChunkDone(j.action, r.outcome, len(part))
	}
	if s.fleet != nil {
		s.fleet.Invalidate()
	}

	result := func(ctx context.Context, tx *sqlx.Tx) error {
		if _, err := execStmt(ctx, s.db, tx, chunkResultSQL,
			r.outcome, string(r.failure), finished.UnixMilli(), r.httpStatus, r.errorCode, r.errorMsg, r.requestID, r.transportError,
			j.id, n); err != nil {
			return err
		}
		if page != nil {
			return recordAcks(ctx, s.db, tx, j.id, page.Data)
		}
		return nil
	}
	switch {
	case call == nil:
		if err := s.writeTx(dbctx, result); err != nil {
			return err
		}
	case first != nil && !call.Sent():
		// No request was recorded, so neither was the batch: unless another
		// request claimed the token, record the batch with this chunk's
		// result (nothing was sent).
		if errors.Is(err, errClaimed) {
			first.signal(errClaimed)
			return errClaimed
		}
		ferr := call.Finish(dbctx, func(ctx context.Context, tx *sqlx.Tx) error {
			if err := first.rows(ctx, tx); err != nil {
				return err
			}
			return result(ctx, tx)
		})
		first.signal(ferr)
		if ferr != nil {
			return ferr
		}
	default:
		if err := call.Finish(dbctx, result); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if r.outcome != OutcomeOK {
		level = slog.LevelWarn
	}
	s.log.Log(dbctx, level, "batch chunk", slog.String("batch_id", j.id), slog.Int("chunk", n),
		slog.Int("servers", len(part)), slog.String("outcome", r.outcome), slog.String("failure", string(r.failure)), slog.Int("http_status", r.httpStatus),
		slog.String("error_code", r.errorCode), slog.String("request_id", r.requestID))
	return nil
}

// The statements a batch runs in its write transactions, prepared once
// (store.DB.PrepareWrite) before the first of them.
const (
	claimTokenSQL  = `UPDATE prepared_actions SET used_at = ?, batch_id = ? WHERE token_hash = ? AND used_at IS NULL`
	insertBatchSQL = `INSERT INTO batches
		(id, user_id, user_name, action, params, created_at, chunk_size, total, skipped, approved_by, approval_id, project)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertChunkSQL  = `INSERT INTO batch_chunks (batch_id, n, server_ids) VALUES (?, ?, ?)`
	chunkSendingSQL = `UPDATE batch_chunks SET outcome = ?, started_at = ? WHERE batch_id = ? AND n = ?`
	chunkResultSQL  = `UPDATE batch_chunks SET outcome = ?, failure = ?, finished_at = ?, http_status = ?,
		error_code = ?, error_msg = ?, request_id = ?, transport_error = ? WHERE batch_id = ? AND n = ?`
)

// runSQL returns the statements prepared ahead for batches of chunkSize
// servers per chunk. The multi-row statements are prepared for a full
// chunk only: a shorter one (a batch's last chunk, a small batch, a
// partial answer) is prepared in its transaction, so the prepared
// statements stay a handful whatever sizes batches come in.
func runSQL(chunkSize int) []string {
	return []string{claimTokenSQL, insertBatchSQL, insertChunkSQL, chunkSendingSQL, chunkResultSQL,
		insertServersSQL(chunkSize), recordAcksSQL(chunkSize)}
}

// insertServersSQL inserts n batch_servers rows, five values each.
func insertServersSQL(n int) string {
	return `INSERT INTO batch_servers (batch_id, server_id, name, chunk, initial_status) VALUES ` +
		strings.Repeat(`(?, ?, ?, ?, ?), `, n-1) + `(?, ?, ?, ?, ?)`
}

// recordAcksSQL records the acknowledgements of n servers of one batch:
// arguments are the batch id, then n (server id, status, update_at).
func recordAcksSQL(n int) string {
	return `UPDATE batch_servers SET ack_status = v.column2, ack_update_at = v.column3
		FROM (VALUES ` + strings.Repeat(`(?, ?, CAST(? AS BIGINT)), `, n-1) + `(?, ?, CAST(? AS BIGINT))) AS v
		WHERE batch_servers.batch_id = ? AND batch_servers.server_id = v.column1`
}

// execStmt runs query in tx, prepared ahead (runSQL) or not.
func execStmt(ctx context.Context, db *store.DB, tx *sqlx.Tx, query string, args ...any) (sql.Result, error) {
	st, err := db.WriteStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.ExecContext(ctx, args...)
}

// recordAcks keeps the status and update_at ModelArts' answer gave each
// server.
// server, in one statement. A server the answer names twice keeps the last.
func recordAcks(ctx context.Context, db *store.DB, tx *sqlx.Tx, batchID string, data []modelarts.ServerResponse) error {
	last := map[string]int{}
	var acks []modelarts.ServerResponse
	for _, srv := range data {
		if srv.ID == "" || srv.Status == "" {
			continue
		}
		if i, dup := last[srv.ID]; dup {
			acks[i] = srv
			continue
		}
		last[srv.ID] = len(acks)
		acks = append(acks, srv)
	}
	if len(acks) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(acks)+1)
	for _, a := range acks {
		args = append(args, a.ID, string(a.Status), a.UpdateAt)
	}
	args = append(args, batchID)
	if _, err := execStmt(ctx, db, tx, recordAcksSQL(len(acks)), args...); err != nil {
		return fmt.Errorf("record the acknowledgements of %d servers: %w", len(acks), err)
	}
	return nil
}

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

// Recover settles the batches a stopped console left behind and follows
// them, then keeps doing so for batches another console (replica) leaves
// behind, every follow interval, until Close. A batch is taken over only
// under its claim, which a live console holds while it sends and follows
// it, so a starting console never declares another's requests unknown.
// Call it once at start, before any Execute.
func (s *Service) Recover(ctx context.Context) error {
	if err := s.takeOver(ctx); err != nil {
		return err
	}
	if s.followInterval <= 0 {
		return nil
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.scanStop, s.scanDone = cancel, make(chan struct{})
	go func() {
		defer close(s.scanDone)
		t := time.NewTicker(s.followInterval)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			if err := s.takeOver(sctx); err != nil && sctx.Err() == nil {
				s.log.Warn("looking for batches to take over", slog.String("err", err.Error()))
			}
		}
	}()
	return nil
}

// claimName is the name of the claim on following batch id.
func claimName(id string) string { return "batch:" + id }

// takeOver claims every running batch nobody holds that still needs
// something (unsent chunks to settle, or following), settles it and
// follows it.
func (s *Service) takeOver(ctx context.Context) error {
	var ids []string
	err := s.db.Read.SelectContext(ctx, &ids, `SELECT b.id FROM batches b WHERE b.status = ? AND b.project = ?
		AND (b.created_at > ? OR EXISTS (SELECT 1 FROM batch_chunks c WHERE c.batch_id = b.id AND c.outcome IN (?, ?)))
		ORDER BY b.created_at`, StatusRunning, s.project, s.now().Add(-s.followFor).UnixMilli(), OutcomePending, OutcomeSending)
	if err != nil {
		return fmt.Errorf("batch: list running batches: %w", err)
	}
	for _, id := range ids {
		claim, err := s.claims.TryClaim(ctx, claimName(id))
		if err != nil {
			return fmt.Errorf("batch: take over %s: %w", id, err)
		}
		if claim == nil {
			continue // followed by this console or another
		}
		if err := s.settle(ctx, id); err != nil {
			_ = claim.Release(ctx)
			return err
		}
		s.follow(id, claim)
	}
	return nil
}

// settle records what can be known of batch id's chunks after the console
// sending it stopped: a chunk that was being sent gets outcome "unknown"
// (it may have acted), a chunk never sent "not_sent", and every request
// without a recorded answer an "outcome unknown" entry in the audit log.
// The caller holds the batch's claim.
func (s *Service) settle(ctx context.Context, id string) error {
	now := s.now().UnixMilli()
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("batch: settle %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	unknown, err := tx.ExecContext(ctx, `UPDATE batch_chunks SET outcome = ?, failure = ?, finished_at = ?, transport_error = ?
		WHERE batch_id = ? AND outcome = ?`, OutcomeUnknown, string(FailureInterrupted), now,
		"the console stopped while this request was on its way; it may or may not have been carried out",
		id, OutcomeSending)
	if err != nil {
		return fmt.Errorf("batch: settle %s: %w", id, err)
	}
	unsent, err := tx.ExecContext(ctx, `UPDATE batch_chunks SET outcome = ?, failure = ?, finished_at = ?, transport_error = ?
		WHERE batch_id = ? AND outcome = ?`, OutcomeNotSent, string(FailureShutdown), now, "the console stopped before this request was sent",
		id, OutcomePending)
	if err != nil {
		return fmt.Errorf("batch: settle %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("batch: settle %s: commit: %w", id, err)
	}
	nu, _ := unknown.RowsAffected()
	ns, _ := unsent.RowsAffected()
	if nu+ns > 0 {
		s.log.WarnContext(ctx, "took over a batch whose console stopped while sending it",
			slog.String("batch_id", id), slog.Int64("chunks_unknown", nu), slog.Int64("chunks_not_sent", ns))
	}
	if s.recoverCalls != nil {
		n, err := s.recoverCalls(ctx, id)
		if err != nil {
			return fmt.Errorf("batch: settle %s: %w", id, err)
		}
		if n > 0 {
			s.log.WarnContext(ctx, "requests of a taken-over batch had no recorded answer; marked outcome unknown",
				slog.String("batch_id", id), slog.Int("requests", n))
		}
	}
	return nil
}
