package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/views"
)

// registerBatchRoutes adds the batch pages: any signed-in user sees their
// own batches; approvers and admins see everyone's.
func (s *Server) registerBatchRoutes(g *echo.Group) {
	in := s.requireSignedIn()
	g.GET("/batches", s.handleBatchList, in)
	g.GET("/batches/:id", s.handleBatchView, in)
	g.GET("/batches/:id/status", s.handleBatchStatus, in)
	g.POST("/batches/:id/select-failed", s.handleSelectFailed, s.require(auth.PermRunActions))
}

// batchListLimit is how many recent batches the list shows.
const batchListLimit = 100

// handleBatchList lists recent batches: approvers and admins see
// everyone's (or, with ?scope=mine, their own); other users see their own.
func (s *Server) handleBatchList(c echo.Context) error {
	u := currentUser(c)
	d := views.BatchesPageData{
		Scope:      "mine",
		CanViewAll: u.Role.Can(auth.PermViewAllBatches),
		CanRun:     u.Role.Can(auth.PermRunActions),
	}
	userID := u.ID
	if d.CanViewAll && c.QueryParam("scope") != "mine" {
		d.Scope, userID = "all", 0
	}
	list, err := s.project(c).Batches.List(ctx(c), userID, batchListLimit)
	if err != nil {
		return err
	}
	d.Batches = list
	return s.render(c, http.StatusOK, views.BatchesPage(d))
}

// batchProgress loads batch :id for the signed-in user with each server's
// live status. Another user's batch needs PermViewAllBatches.
func (s *Server) batchProgress(c echo.Context) (*batch.Progress, error) {
	id := c.Param("id")
	b, err := s.project(c).Batches.Get(ctx(c), id)
	if errors.Is(err, batch.ErrNotFound) {
		return nil, httpError(http.StatusNotFound, "err.no_batch")
	}
	if err != nil {
		return nil, err
	}
	if u := currentUser(c); b.UserID != u.ID && !u.Role.Can(auth.PermViewAllBatches) {
		s.recordDenied(c, map[string]string{"reason": "role", "permission": string(auth.PermViewAllBatches)})
		return nil, httpError(http.StatusForbidden, "err.batch_other_user")
	}
	// A batch is shown in its own project, whichever the link named.
	if proj := s.projectNamed(b.Project); proj != nil && proj != s.project(c) {
		if !mayUse(c, proj) {
			s.recordDenied(c, map[string]string{"reason": "project", "project": proj.Name})
			return nil, httpError(http.StatusForbidden, "err.project.batch_forbidden", "Project", proj.Name)
		}
		c.Set(projectKey, proj)
	}
	var snap = s.project(c).Fleet.Current()
	if !b.Done() {
		// A failed refresh keeps the older list; the page shows its time.
		if fresh, err := s.project(c).Fleet.Get(ctx(c)); fresh != nil {
			snap = fresh
		} else if err != nil {
			s.log.WarnContext(ctx(c), "batch status: fleet list failed", "err", err)
		}
	}
	return s.project(c).Batches.Status(ctx(c), id, snap)
}

// handleBatchView shows what a batch sent and how each server is doing.
func (s *Server) handleBatchView(c echo.Context) error {
	p, err := s.batchProgress(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, views.BatchPage(views.BatchPageData{Progress: p}))
}

// handleBatchStatus is the self-updating part of the batch page (polled
// every 2 seconds until the batch is done).
func (s *Server) handleBatchStatus(c echo.Context) error {
	p, err := s.batchProgress(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, views.BatchStatus(p))
}

// handleSelectFailed makes the servers of batch :id that need attention
// (failed, not changed, outcome unknown, did not change state) the user's
// selection, exactly, and opens the fleet filtered to the selection. A
// retry goes through preview and confirmation again: nothing is sent here.
func (s *Server) handleSelectFailed(c echo.Context) error {
	p, err := s.batchProgress(c)
	if err != nil {
		return err
	}
	bad := p.Bad()
	if len(bad) == 0 {
		return &UserError{Status: http.StatusUnprocessableEntity,
			Message: s.loc(c).T("err.batch_none_bad")}
	}
	ids := make([]string, len(bad))
	for i, st := range bad {
		ids[i] = st.ID
	}
	u := currentUser(c)
	if err := s.selections.Clear(ctx(c), u.ID); err != nil {
		return err
	}
	if err := s.selections.Add(ctx(c), u.ID, ids...); err != nil {
		return err
	}
	return redirect(c, "/servers?selected=1")
}
