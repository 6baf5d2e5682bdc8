package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

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
		return echo.NewHTTPError(http.StatusBadRequest, "No server was given to select.")
	}
	on := false
	switch c.FormValue("checked") {
	case "on", "true", "1":
		on = true
	}
	snap, ferr := s.fleet.Get(ctx(c))
	if on {
		if snap == nil {
			return s.fleetUnavailable(c, ferr)
		}
		if _, ok := snap.Find(id); !ok {
			return echo.NewHTTPError(http.StatusNotFound,
				"That server is no longer in the fleet, so it cannot be selected. Reload the page.")
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
	snap, ferr := s.fleet.Get(ctx(c))
	if snap == nil {
		return s.fleetUnavailable(c, ferr)
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
