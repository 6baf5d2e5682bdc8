package approval

import (
	"context"
	"errors"
	"fmt"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/fleet"
)

// Fleet gives the executor a snapshot read now; (*fleet.Cache) satisfies it.
type Fleet interface {
	Refresh(ctx context.Context) (*fleet.Snapshot, error)
}

// Users finds the requester an approved batch runs as; (*auth.Store)
// satisfies it.
type Users interface {
	Get(ctx context.Context, id int64) (*auth.User, error)
}

// Project is where one console project's approved requests run: its batch
// service and its fleet.
type Project struct {
	Batches *batch.Service
	Fleet   Fleet
}

// BatchExecutor runs approved requests through batch.Service, the one entry
// point for sending an action, in the request's own project (so a batch
// never reaches another project's servers): on a fresh fleet snapshot of
// that project it prepares the request's servers again (eligibility judged
// now), skips with the reason every server whose state changed since the
// request, and executes as the requester with the approver and the request
// recorded on the batch and on every call's audit entries.
type BatchExecutor struct {
	// Projects are the console's projects by name.
	Projects map[string]Project
	Users    Users
}

// ErrRequesterGone: the requester no longer exists or may no longer run
// actions, so the approved request is not run in their name.
var ErrRequesterGone = errors.New("the requester can no longer run actions")

// ErrFleetUnreadable: the server list could not be read from ModelArts
// when the approved request was to run.
var ErrFleetUnreadable = errors.New("the server list could not be read from ModelArts")

// ErrProjectGone: the request's project is no longer one of the console's
// (the projects file changed), so nothing is sent.
var ErrProjectGone = errors.New("the request's project is no longer configured in this console")

// ExecuteApproved implements Executor.
func (e *BatchExecutor) ExecuteApproved(ctx context.Context, a *Approved) (string, error) {
	r := a.Request
	proj, ok := e.Projects[r.Project]
	if !ok || proj.Batches == nil || proj.Fleet == nil {
		return "", fmt.Errorf("%w: %q", ErrProjectGone, r.Project)
	}
	requester, err := e.Users.Get(ctx, r.RequesterID)
	if err != nil || requester == nil || !CanRequest(requester) {
		if err == nil || errors.Is(err, auth.ErrUserNotFound) {
			return "", ErrRequesterGone
		}
		return "", fmt.Errorf("read the requester: %w", err)
	}
	snap, err := proj.Fleet.Refresh(ctx)
	if err != nil || snap == nil {
		return "", fmt.Errorf("%w, so nothing was sent: %w", ErrFleetUnreadable, cmpErr(err))
	}
	ids := make([]string, len(r.Servers))
	then := make(map[string]Server, len(r.Servers))
	for i, srv := range r.Servers {
		ids[i] = srv.ID
		then[srv.ID] = srv
	}
	p, err := proj.Batches.PrepareApproved(ctx, requester, r.Action, ids, snap, func(id string, now batch.Target) string {
		if was, ok := then[id]; ok && was.Status != now.Status {
			return fmt.Sprintf("changed from %s to %s since the request", was.Status, now.Status)
		}
		return ""
	})
	if err != nil {
		return "", err
	}
	ex, err := proj.Batches.Execute(ctx, batch.ExecuteRequest{
		User:       requester,
		Token:      p.Token,
		OS:         osInput(a),
		TypedWord:  batch.Word(r.Action),
		Meta:       batch.Meta{ClientIP: a.Meta.ClientIP, UserAgent: a.Meta.UserAgent},
		ApprovedBy: a.Approver.Name,
		ApprovalID: r.ID,
		BatchID:    a.BatchID,
	})
	if err != nil {
		return "", err
	}
	return ex.BatchID, nil
}

func osInput(a *Approved) *batch.OSInput {
	if a.OSParams == nil {
		return nil
	}
	login := ""
	switch {
	case a.OSParams.AdminPass != "" && a.OSParams.KeyPairName == "":
		login = batch.LoginPassword
	case a.OSParams.KeyPairName != "" && a.OSParams.AdminPass == "":
		login = batch.LoginKeyPair
	}
	return &batch.OSInput{Login: login, Params: *a.OSParams}
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("no snapshot")
	}
	return err
}
