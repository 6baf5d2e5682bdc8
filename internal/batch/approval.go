package batch

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/devserver-console/console/internal/modelarts"
)

// ErrApprovalRequired: the approval policy covers the action, so it cannot
// be executed on its requester's confirmation alone; it may only be
// submitted for approval (Submit).
var ErrApprovalRequired = errors.New("batch: this action needs an approver's approval")

// ErrApprovalNotRequired: Submit was asked for an action the policy does
// not cover; it is executed directly.
var ErrApprovalNotRequired = errors.New("batch: this action needs no approval")

// Gate is the approval policy as the batch service asks it;
// approval.Policy satisfies it. It is the one place that decides whether an
// action needs a second person.
type Gate interface {
	Requires(action modelarts.BatchType, servers int) bool
	Explain(action modelarts.BatchType, servers int) string
}

// SetGate sets the approval policy (nil: nothing needs approval).
func (s *Service) SetGate(g Gate) {
	if g == nil {
		s.gate.Store(nil)
		return
	}
	s.gate.Store(&g)
}

func (s *Service) currentGate() Gate {
	if g := s.gate.Load(); g != nil {
		return *g
	}
	return nil
}

// NeedsApproval reports whether p, as prepared, needs an approver's
// approval before anything is sent.
func (s *Service) NeedsApproval(p *Prepared) bool {
	g := s.currentGate()
	return g != nil && p != nil && g.Requires(p.Action, len(p.Targets))
}

// ApprovalNote says why p needs approval ("Delete needs approval by an
// approver."), or "" when it does not.
func (s *Service) ApprovalNote(p *Prepared) string {
	if !s.NeedsApproval(p) {
		return ""
	}
	return s.currentGate().Explain(p.Action, len(p.Targets))
}

// Submission is a confirmed action that becomes an approval request instead
// of a batch: the prepared action (targets with their state at preview
// time, and the skipped servers), the OS parameters with their secrets, and
// the chosen image's name.
type Submission struct {
	ID        string // the approval request's id, chosen here
	Prepared  *Prepared
	OS        *modelarts.ServerOSRequest
	ImageName string
}

// Submit turns the confirmed prepared action of r.Token into an approval
// request, once, and sends nothing. It checks what Execute checks (token,
// typed word, something to send, images, OS settings) and that the policy
// covers the action (ErrApprovalNotRequired otherwise), then claims the
// token for the request and calls create with it. A repeated submit returns
// the first request (or batch) with Started false and calls nothing. When
// create fails the token is released, so the user can correct and submit
// again.
func (s *Service) Submit(ctx context.Context, r ExecuteRequest, create func(context.Context, Submission) error) (Execution, error) {
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
	if !s.NeedsApproval(p) {
		return ex, ErrApprovalNotRequired
	}
	extend, imageName, err := p.check(r.OS)
	if err != nil {
		return ex, err
	}
	id := uuid.NewString()
	now := s.now().UnixMilli()
	res, err := s.db.Write.ExecContext(ctx, `UPDATE prepared_actions SET used_at = ?, approval_id = ?
		WHERE token_hash = ? AND used_at IS NULL`, now, id, p.tokenHash)
	if err != nil {
		return ex, fmt.Errorf("batch: submit: claim token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return ex, fmt.Errorf("batch: submit: claim token: %w", err)
	} else if n == 0 {
		// A double click claimed it between Lookup and here.
		first, err := s.Lookup(ctx, r.User, r.Token)
		if err != nil {
			return ex, err
		}
		ex.Prepared, ex.BatchID, ex.ApprovalID = first, first.BatchID, first.ApprovalID
		return ex, nil
	}
	if err := create(ctx, Submission{ID: id, Prepared: p, OS: extend, ImageName: imageName}); err != nil {
		if _, rerr := s.db.Write.ExecContext(context.WithoutCancel(ctx), `UPDATE prepared_actions
			SET used_at = NULL, approval_id = '' WHERE token_hash = ? AND approval_id = ?`, p.tokenHash, id); rerr != nil {
			s.log.ErrorContext(ctx, "batch: submit: token not released after a failed request", "err", rerr)
		}
		return ex, err
	}
	p.ApprovalID = id
	ex.ApprovalID, ex.Started = id, true
	return ex, nil
}

// FinishHook is called once when a batch's final states are recorded.
type FinishHook func(ctx context.Context, b *Batch)

// OnFinished sets the hook called when a batch finishes (nil: none).
func (s *Service) OnFinished(h FinishHook) {
	s.finishHook.Store(&h)
}

func (s *Service) finished() FinishHook {
	if h := s.finishHook.Load(); h != nil {
		return *h
	}
	return nil
}
