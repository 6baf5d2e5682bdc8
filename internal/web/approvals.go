package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/notify"
	"github.com/devserver-console/console/internal/views"
)

// registerApprovalRoutes adds the approval pages. Everyone signed in may
// open them (the service shows operators only their own requests);
// approving and denying need approvals:decide; withdrawing is checked by
// the service (the requester only).
func (s *Server) registerApprovalRoutes(g *echo.Group) {
	in := s.requireSignedIn()
	decide := s.require(auth.PermDecideApprovals)
	g.GET("/approvals", s.handleApprovalList, in)
	g.GET("/approvals/:id", s.handleApprovalView, in)
	g.POST("/approvals/:id/approve", s.handleApprovalDecide(approval.StateApproved), decide)
	g.POST("/approvals/:id/deny", s.handleApprovalDecide(approval.StateDenied), decide)
	g.POST("/approvals/:id/withdraw", s.handleApprovalWithdraw, in)
}

// approvalListLimit is how many requests the list shows.
const approvalListLimit = 200

// mayUseRequest reports whether the signed-in user may use the project of
// request r (a request of a project no longer configured stays visible to
// whoever may see it, so it can be withdrawn or denied).
func (s *Server) mayUseRequest(c echo.Context, r *approval.Request) bool {
	proj := s.projectNamed(r.Project)
	return proj == nil || mayUse(c, proj)
}

// approvalInProject reads request id as the signed-in user may see it and
// makes its project the current one (a request is shown, and decided, in
// its own project, whichever the link named). A request of a project the
// user is limited away from is as unknown as one they may not see.
func (s *Server) approvalInProject(c echo.Context, id string) (*approval.Request, error) {
	r, err := s.approvals.Get(ctx(c), currentUser(c), id)
	if err != nil {
		return nil, err
	}
	if !s.mayUseRequest(c, r) {
		s.recordDenied(c, map[string]string{"reason": "project", "project": r.Project, "request_id": id})
		return nil, approval.ErrNotFound
	}
	if proj := s.projectNamed(r.Project); proj != nil {
		c.Set(projectKey, proj)
	}
	return r, nil
}

func (s *Server) approvalMeta(c echo.Context) approval.Meta {
	a := auth.ActorFrom(ctx(c))
	return approval.Meta{ClientIP: a.ClientIP, UserAgent: a.UserAgent}
}

// handleApprovalList lists requests (pending first) under the policy in
// force; admins also see undelivered webhook messages.
func (s *Server) handleApprovalList(c echo.Context) error {
	u := currentUser(c)
	all, err := s.approvals.List(ctx(c), u, approvalListLimit)
	if err != nil {
		return err
	}
	// Requests of projects the user is limited away from are not listed.
	list := all[:0]
	for _, r := range all {
		if s.mayUseRequest(c, r) {
			list = append(list, r)
		}
	}
	d := views.ApprovalsPageData{
		Requests: list,
		Projects: len(s.projects) > 1,
		Now:      s.approvals.Now(),
		Policy:   s.approvals.Policy().DescribeIn(s.loc(c)),
		AllUsers: approval.CanDecide(u),
		Webhook:  s.notifier.Enabled(),
	}
	if u.Role.Can(auth.PermManageUsers) {
		d.ShowFailures = true
		if d.Failures, err = notify.Failures(ctx(c), s.db, 50); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, views.ApprovalsPage(d))
}

// approvalPage builds the page of request id for the signed-in user, with
// each server's state now from the fleet.
func (s *Server) approvalPage(c echo.Context, id string) (views.ApprovalPageData, error) {
	u := currentUser(c)
	r, err := s.approvalInProject(c, id)
	if err != nil {
		return views.ApprovalPageData{}, err
	}
	d := views.ApprovalPageData{Request: r, State: r.StateAt(s.approvals.Now()), Decider: approval.CanDecide(u)}
	d.OwnRequest = r.RequesterID == u.ID
	pending := d.State == approval.StatePending
	d.CanDecide = pending && d.Decider && !d.OwnRequest
	d.CanWithdraw = pending && d.OwnRequest
	var snap *fleet.Snapshot
	if proj := s.projectNamed(r.Project); proj != nil {
		snap, err = proj.Fleet.Get(ctx(c))
	} else {
		err = fmt.Errorf("%w: %q", approval.ErrProjectGone, r.Project)
	}
	d.Project = r.Project
	if snap == nil {
		if err != nil {
			s.log.WarnContext(ctx(c), "approval page: fleet list failed", "err", err)
		}
		d.FleetUnknown = true
		d.Servers = r.CheckNow(nil)
	} else {
		d.Servers = r.CheckNow(snap.Find)
	}
	return d, nil
}

// handleApprovalView shows one request: who asked, why, for what, each
// server then and now, and the buttons the viewer may use.
func (s *Server) handleApprovalView(c echo.Context) error {
	d, err := s.approvalPage(c, c.Param("id"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, views.ApprovalPage(d))
}

// handleApprovalDecide approves (running the batch at once) or denies.
func (s *Server) handleApprovalDecide(to approval.State) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, id, comment := currentUser(c), c.Param("id"), c.FormValue("comment")
		if _, err := s.approvalInProject(c, id); err != nil {
			return err
		}
		var err error
		if to == approval.StateApproved {
			var r *approval.Request
			r, err = s.approvals.Approve(ctx(c), u, id, comment, s.approvalMeta(c))
			if err == nil && r.BatchID != "" {
				// The batch runs: the approver follows it on its page.
				return redirect(c, "/batches/"+r.BatchID)
			}
		} else {
			_, err = s.approvals.Deny(ctx(c), u, id, comment, s.approvalMeta(c))
		}
		return s.afterApprovalPost(c, id, comment, err)
	}
}

// handleApprovalWithdraw withdraws the signed-in user's own request.
func (s *Server) handleApprovalWithdraw(c echo.Context) error {
	id := c.Param("id")
	if _, err := s.approvalInProject(c, id); err != nil {
		return err
	}
	_, err := s.approvals.Withdraw(ctx(c), currentUser(c), id, s.approvalMeta(c))
	return s.afterApprovalPost(c, id, "", err)
}

// afterApprovalPost lands on the request's page: after success by a
// redirect, after a refusal the service explains by the page itself with
// the message (and the comment as typed).
func (s *Server) afterApprovalPost(c echo.Context, id, comment string, err error) error {
	if err == nil {
		return redirect(c, approval.Path(id))
	}
	ue := publicError(s.loc(c), err)
	status, msg := ue.Status, ue.Message
	if status >= http.StatusInternalServerError || status == http.StatusNotFound {
		return err
	}
	if status == http.StatusForbidden {
		// The audit log is in English, whatever the page's language.
		refusal := publicError(englishLoc(), err).Message
		s.recordDenied(c, map[string]string{"reason": "approval", "request_id": id, "refusal": refusal})
	}
	d, perr := s.approvalPage(c, id)
	if perr != nil {
		return perr
	}
	d.Problem, d.Comment = msg, comment
	return s.render(c, status, views.ApprovalPage(d))
}
