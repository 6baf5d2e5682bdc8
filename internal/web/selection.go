package web

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/views"
)

// registerSelectionRoutes registers the endpoints that change the user's
// server-side selection. mw holds the permission check.
func (s *Server) registerSelectionRoutes(g *echo.Group, mw ...echo.MiddlewareFunc) {
	g.POST("/selection", s.handleSelectionToggle, mw...)
	g.POST("/selection/all", s.handleSelectionAll, mw...)
	g.POST("/selection/clear", s.handleSelectionClear, mw...)
}

// handleSelectionToggle selects (checked=on) or deselects (no checked) the
// server id. htmx gets the new "N servers selected" text for the action
// bar's live region; a plain form post goes back to the fleet.
func (s *Server) handleSelectionToggle(c echo.Context) error {
	u, err := s.fleetUser(c)
	if err != nil {
		return err
	}
	id := c.FormValue("id")
	if id == "" {
		return httpError(http.StatusBadRequest, "err.select_none")
	}
	on := false
	switch c.FormValue("checked") {
	case "on", "true", "1":
		on = true
	}
	snap, ferr := s.project(c).Fleet.Latest(ctx(c))
	if on {
		if snap == nil {
			return s.fleetUnavailable(c, ferr)
		}
		if _, ok := snap.Find(id); !ok {
			return httpError(http.StatusNotFound, "err.select_gone")
		}
	}
	if err := s.selections.Toggle(ctx(c), u.ID, id, on); err != nil {
		return err
	}
	if !isHTMX(c) {
		return redirect(c, serversURL(fleet.ParseQuery(c.QueryParams())))
	}
	n, err := s.selectionCount(c, u.ID, snap)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, views.FleetSelectionCount(n))
}

// handleSelectionAll adds every server matching the filters in the URL
// (all pages, not just the one shown) to the selection, then shows the
// fleet again with the same query.
func (s *Server) handleSelectionAll(c echo.Context) error {
	u, err := s.fleetUser(c)
	if err != nil {
		return err
	}
	q := fleet.ParseQuery(c.QueryParams())
	snap, ferr := s.project(c).Fleet.Latest(ctx(c))
	if snap == nil {
		return s.fleetUnavailable(c, ferr)
	}
	if q.SelectedOnly {
		ids, err := s.selections.List(ctx(c), u.ID)
		if err != nil {
			return err
		}
		q = q.WithSelection(ids)
	}
	matching := fleet.Filter(snap.Servers, q)
	ids := make([]string, len(matching))
	for i, m := range matching {
		ids[i] = m.ID
	}
	if err := s.selections.Add(ctx(c), u.ID, ids...); err != nil {
		return err
	}
	return redirect(c, serversURL(q))
}

// handleSelectionClear empties the selection and shows the fleet again with
// the same query.
func (s *Server) handleSelectionClear(c echo.Context) error {
	u, err := s.fleetUser(c)
	if err != nil {
		return err
	}
	if err := s.selections.Clear(ctx(c), u.ID); err != nil {
		return err
	}
	return redirect(c, serversURL(fleet.ParseQuery(c.QueryParams())))
}

// selectionCount counts the user's selected servers that are in snap (all
// stored ones when the fleet has never been fetched).
func (s *Server) selectionCount(c echo.Context, owner int64, snap *fleet.Snapshot) (int, error) {
	if snap == nil {
		return s.selections.Count(ctx(c), owner)
	}
	sel, err := s.selections.Resolve(ctx(c), owner, snap)
	return len(sel), err
}

// deselectCovered removes the servers a submitted batch covered (those
// sent and those skipped) from the user's selection, so the next action
// starts from what the person picks next, not from what they already
// acted on. Servers selected after the preview stay. The batch has been
// submitted either way, so a failure here is logged, not shown.
func (s *Server) deselectCovered(c echo.Context, owner int64, batchID string, p *batch.Prepared) {
	ids := make([]string, 0, len(p.Targets)+len(p.Skipped))
	for _, t := range p.Targets {
		ids = append(ids, t.ID)
	}
	for _, sk := range p.Skipped {
		ids = append(ids, sk.ID)
	}
	if err := s.selections.Remove(ctx(c), owner, ids...); err != nil {
		s.log.ErrorContext(ctx(c), "could not remove a submitted batch's servers from the selection",
			slog.String("batch", batchID), slog.String("err", err.Error()))
	}
}

// maxViewLength bounds the fleet query a preview carries in its "view" field.
const maxViewLength = 4096

// offscreen returns, of ids, those the fleet page the action was started
// from (its query in the form field "view") does not show, given the
// user's selection sel. Without a readable view it marks nothing.
func offscreen(c echo.Context, snap *fleet.Snapshot, sel []string, ids []string) map[string]bool {
	view := c.FormValue("view")
	if snap == nil || len(view) > maxViewLength || c.Request().Form == nil {
		return nil
	}
	if _, ok := c.Request().Form["view"]; !ok {
		return nil
	}
	vals, err := url.ParseQuery(view)
	if err != nil {
		return nil
	}
	q := fleet.ParseQuery(vals).WithSelection(sel)
	onPage := fleet.Apply(snap.Servers, q).PageIDs()
	out := make(map[string]bool)
	for _, id := range ids {
		if !onPage[id] {
			out[id] = true
		}
	}
	return out
}

// viewParam is the fleet query the action form carries, when it is short
// enough to carry on.
func viewParam(c echo.Context) string {
	if v := c.FormValue("view"); len(v) <= maxViewLength {
		return v
	}
	return ""
}
