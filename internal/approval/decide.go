package approval

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// consoleActor is the actor of transitions the console makes by itself.
var consoleActor = audit.Actor{Name: "console"}

// Comments the console writes when it ends a request itself.
const (
	commentRequesterDisabled = "the requester was disabled"
)

// Approve approves request id on behalf of approver and runs it at once.
//
// The decision is taken by one conditional UPDATE (pending, not expired,
// not the approver's own, requester not disabled), so of any number of
// concurrent decisions exactly one wins and at most one batch runs. The
// sealed secrets are erased in the same UPDATE, opened in memory, and handed
// with the request to the Executor after approval.approved is in the audit
// log. The returned request carries the batch id, or ExecError when no batch
// could be started (the decision stands either way).
func (s *Service) Approve(ctx context.Context, approver *auth.User, id, comment string, meta Meta) (*Request, error) {
	if !CanDecide(approver) {
		return nil, ErrForbidden
	}
	comment, err := CheckComment(comment, false)
	if err != nil {
		return nil, err
	}
	exec := s.executor()
	r, sealed, err := s.decide(ctx, approver, id, StateApproved, comment, func() error {
		if exec == nil {
			return ErrNoExecutor // refuse before deciding: nothing could run it
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	params, openErr := s.openParams(r, sealed)
	batchID := uuid.NewString()
	if err := s.record(ctx, EventApproved, actorOf(approver, meta), r, map[string]string{DetailBatchID: batchID}); err != nil {
		s.setOutcome(ctx, r, "", ExecNotRecorded, "not sent: the approval could not be recorded in the audit log")
		return r, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	if openErr != nil {
		s.log.ErrorContext(ctx, "approval: OS parameters could not be opened; nothing sent", "request", r.ID, "err", openErr)
		s.setOutcome(ctx, r, "", ExecSealed, "not sent: the sealed OS parameters could not be opened (was the secret key changed?)")
		s.tell(notifyEvent(s.messages, EventApproved, r, approver.Name))
		return r, nil
	}
	s.running.Add(1)
	defer s.running.Done()
	batchID, err = exec.ExecuteApproved(context.WithoutCancel(ctx), &Approved{Request: r, Approver: approver, OSParams: params, Meta: meta, BatchID: batchID})
	if err != nil {
		s.log.WarnContext(ctx, "approval: approved request ran no batch", "request", r.ID, "err", err)
		s.setOutcome(ctx, r, "", execCode(err), "not sent: "+err.Error())
	} else {
		s.setOutcome(ctx, r, batchID, "", "")
	}
	s.tell(notifyEvent(s.messages, EventApproved, r, approver.Name))
	return r, nil
}

// Deny denies request id on behalf of denier; comment is required.
func (s *Service) Deny(ctx context.Context, denier *auth.User, id, comment string, meta Meta) (*Request, error) {
	if !CanDecide(denier) {
		return nil, ErrForbidden
	}
	comment, err := CheckComment(comment, true)
	if err != nil {
		return nil, err
	}
	r, _, err := s.decide(ctx, denier, id, StateDenied, comment, nil)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, EventDenied, actorOf(denier, meta), r, nil); err != nil {
		return r, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	s.tell(notifyEvent(s.messages, EventDenied, r, denier.Name))
	return r, nil
}

// Withdraw withdraws request id on behalf of its requester.
func (s *Service) Withdraw(ctx context.Context, requester *auth.User, id string, meta Meta) (*Request, error) {
	if requester == nil {
		return nil, ErrNotFound
	}
	r, _, err := s.decide(ctx, requester, id, StateWithdrawn, "", nil)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, EventWithdrawn, actorOf(requester, meta), r, nil); err != nil {
		return r, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	s.tell(notifyEvent(s.messages, EventWithdrawn, r, requester.Name))
	return r, nil
}

// decide moves request id from pending to `to` on behalf of actor in one
// write transaction, and returns it with the sealed secrets it held. A
// request found expired, or whose requester was disabled, is recorded as
// such and reported as a *StateError. ready, when set, runs once the
// request is known to exist and be the actor's to decide, before the
// decision; its error refuses it.
func (s *Service) decide(ctx context.Context, actor *auth.User, id string, to State, comment string, ready func() error) (*Request, []byte, error) {
	now := s.now()
	var (
		row     requestRow
		ended   State // set when the request was found expired or orphaned
		decided bool
	)
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		// Locked until the transaction ends: what follows depends on the
		// state read here, and another replica may be deciding it too.
		err := tx.GetContext(ctx, &row, `SELECT `+requestColumns+` FROM approval_requests WHERE id = ?`+s.db.ForUpdate(), id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if to == StateWithdrawn {
			if row.RequesterID != actor.ID {
				if canSeeAll(actor) {
					return ErrNotRequester
				}
				return ErrNotFound
			}
		} else if row.RequesterID == actor.ID {
			return ErrOwnRequest
		}
		if ready != nil && State(row.State) == StatePending {
			if err := ready(); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE approval_requests
			SET state = ?, secrets = NULL, decided_at = ?, decider_id = ?, decider_name = ?, comment = ?
			WHERE id = ? AND state = 'pending' AND expires_at > ?
			  AND (? = 'withdrawn' OR requester_id <> ?)
			  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = approval_requests.requester_id AND u.disabled = 1)`,
			string(to), now.UnixMilli(), actor.ID, actor.Name, comment,
			id, now.UnixMilli(), string(to), actor.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			decided = true
			return nil
		}
		// Not pending as of now: say what it is, recording an expiry or an
		// orphaned request the sweep has not reached yet.
		if State(row.State) != StatePending {
			return nil
		}
		var disabled bool
		if err := tx.GetContext(ctx, &disabled, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND disabled = 1)`, row.RequesterID); err != nil {
			return err
		}
		ended, comment = StateExpired, ""
		if disabled {
			ended, comment = StateWithdrawn, commentRequesterDisabled
		}
		_, err = tx.ExecContext(ctx, `UPDATE approval_requests SET state = ?, secrets = NULL, decided_at = ?, comment = ?
			WHERE id = ? AND state = 'pending'`, string(ended), now.UnixMilli(), comment, id)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrOwnRequest) || errors.Is(err, ErrNotRequester) || errors.Is(err, ErrNoExecutor) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("approval: %s %s: %w", to, id, err)
	}
	r, perr := row.request()
	if perr != nil {
		return nil, nil, perr
	}
	sealed := row.Secrets
	r.SecretsHeld = false
	switch {
	case decided:
		r.State, r.DecidedAt, r.DeciderID, r.DeciderName, r.Comment = to, now.UTC(), actor.ID, actor.Name, comment
		return r, sealed, nil
	case ended != "":
		r.State, r.DecidedAt, r.Comment = ended, now.UTC(), comment
		kind := EventExpired
		if ended == StateWithdrawn {
			kind = EventWithdrawn
		}
		if err := s.record(ctx, kind, consoleActor, r, nil); err != nil {
			s.log.ErrorContext(ctx, "approval: transition not recorded in the audit log", "request", r.ID, "state", ended, "err", err)
		}
		s.tell(notifyEvent(s.messages, kind, r, ""))
		return nil, nil, &StateError{State: ended}
	default:
		return nil, nil, &StateError{State: State(row.State)}
	}
}

// openParams rebuilds the OS parameters of an approved request, opening the
// secrets it held.
func (s *Service) openParams(r *Request, sealed []byte) (*modelarts.ServerOSRequest, error) {
	if !r.Action.NeedsOSParams() {
		return nil, nil
	}
	p := &modelarts.ServerOSRequest{ImageID: r.Params.ImageID, KeyPairName: r.Params.KeyPairName}
	if len(sealed) == 0 {
		return p, nil
	}
	if s.box == nil {
		return nil, ErrNoKey
	}
	plain, err := s.box.Open(sealed, r.ID)
	if err != nil {
		return nil, err
	}
	var sec sealedSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return nil, fmt.Errorf("approval: decode sealed parameters: %w", err)
	}
	p.AdminPass, p.UserData = sec.AdminPass, sec.UserData
	return p, nil
}

// setOutcome records the batch an approval ran, or why it ran none (as a
// code and in English).
func (s *Service) setOutcome(ctx context.Context, r *Request, batchID, code, execErr string) {
	r.BatchID, r.ExecCode, r.ExecError = batchID, code, execErr
	if _, err := s.db.Write.ExecContext(context.WithoutCancel(ctx),
		`UPDATE approval_requests SET batch_id = ?, exec_code = ?, exec_error = ? WHERE id = ?`, batchID, code, execErr, r.ID); err != nil {
		s.log.ErrorContext(ctx, "approval: outcome of an approval not stored", "request", r.ID, "batch", batchID, "err", err)
	}
}

// Sweep expires pending requests past their time and withdraws pending
// requests of disabled users, recording each; it returns how many it ended.
// Start runs it in the background.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now().UnixMilli()
	var expired, orphaned []requestRow
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.SelectContext(ctx, &expired, `UPDATE approval_requests
			SET state = 'expired', secrets = NULL, decided_at = ?
			WHERE state = 'pending' AND expires_at <= ?
			RETURNING `+requestColumns, now, now); err != nil {
			return fmt.Errorf("expire: %w", err)
		}
		if err := tx.SelectContext(ctx, &orphaned, `UPDATE approval_requests
			SET state = 'withdrawn', secrets = NULL, decided_at = ?, comment = ?
			WHERE state = 'pending' AND requester_id IN (SELECT id FROM users WHERE disabled = 1)
			RETURNING `+requestColumns, now, commentRequesterDisabled); err != nil {
			return fmt.Errorf("withdraw requests of disabled users: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("approval: sweep: %w", err)
	}
	s.announce(ctx, expired, EventExpired, consoleActor)
	s.announce(ctx, orphaned, EventWithdrawn, consoleActor)
	return len(expired) + len(orphaned), nil
}

// WithdrawUser withdraws every pending request of user id, recording the
// actor of ctx (the admin disabling them) as who did it. auth calls it when
// a user is disabled.
func (s *Service) WithdrawUser(ctx context.Context, userID int64) (int, error) {
	now := s.now().UnixMilli()
	act := auth.ActorFrom(ctx)
	var rows []requestRow
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &rows, `UPDATE approval_requests
			SET state = 'withdrawn', secrets = NULL, decided_at = ?, decider_id = ?, decider_name = ?, comment = ?
			WHERE state = 'pending' AND requester_id = ?
			RETURNING `+requestColumns, now, act.UserID, act.Name, commentRequesterDisabled, userID)
	})
	if err != nil {
		return 0, fmt.Errorf("approval: withdraw requests of user %d: %w", userID, err)
	}
	actor := audit.Actor{UserID: act.UserID, Name: act.Name, Role: string(act.Role), ClientIP: act.ClientIP, UserAgent: act.UserAgent}
	if actor.Name == "" {
		actor = consoleActor
	}
	s.announce(ctx, rows, EventWithdrawn, actor)
	return len(rows), nil
}

// announce records and tells about requests a bulk UPDATE ended.
func (s *Service) announce(ctx context.Context, rows []requestRow, kind audit.EventKind, actor audit.Actor) {
	for i := range rows {
		r, err := rows[i].request()
		if err != nil {
			s.log.ErrorContext(ctx, "approval: ended request unreadable", "request", rows[i].ID, "err", err)
			continue
		}
		if err := s.record(ctx, kind, actor, r, nil); err != nil {
			s.log.ErrorContext(ctx, "approval: transition not recorded in the audit log", "request", r.ID, "state", r.State, "err", err)
		}
		s.tell(notifyEvent(s.messages, kind, r, actor.Name))
	}
}

// tx runs fn in one write transaction (BEGIN IMMEDIATE on the single writer).
func (s *Service) tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
