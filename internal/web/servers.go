package web

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/views"
)

// registerServerRoutes registers the fleet pages and the selection
// endpoints. Everything here needs auth.PermViewFleet, selection changes
// included (a selection only matters to the user who makes it).
func (s *Server) registerServerRoutes(g *echo.Group) {
	view := s.require(auth.PermViewFleet)
	g.GET("/", s.handleRoot, view)
	g.GET("/servers", s.handleServerList, view)
	g.GET("/servers/rows", s.handleServerRows, view)
	g.POST("/servers/refresh", s.handleServerRefresh, view)
	g.GET("/servers/:id", s.handleServerView, view)
	g.POST("/servers/columns", s.handleServerColumns, view)
	s.registerSelectionRoutes(g, view)
}

// errFleetNotConfigured answers when the server was built without a fleet.
var errFleetNotConfigured = httpError(http.StatusServiceUnavailable, "err.no_fleet")

// handleRoot sends visitors to the fleet.
func (s *Server) handleRoot(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, withProject(c, "/servers"))
}

// handleServerList renders the fleet page for the query in the URL. A
// query that is not in its canonical form (the filter form submits every
// field, "All" as an empty value) is redirected to it, so the URLs people
// copy and the history they go back through stay short and stable.
func (s *Server) handleServerList(c echo.Context) error {
	if raw := withoutProjectParam(c.Request().URL.RawQuery); raw != "" && !isHTMX(c) {
		if q := fleet.ParseQuery(c.QueryParams()); q.Values().Encode() != raw {
			return c.Redirect(http.StatusSeeOther, withProject(c, serversURL(q)))
		}
	}
	v, status, err := s.serversView(c, false)
	if err != nil {
		return err
	}
	return s.render(c, status, views.ServersPage(v))
}

// handleServerRows renders just the self-refreshing table (htmx polling).
// It reads the shared cache like any page view, so polls never force a
// list walk.
func (s *Server) handleServerRows(c echo.Context) error {
	v, status, err := s.serversView(c, true)
	if err != nil {
		return err
	}
	return s.render(c, status, views.ServersTable(v))
}

// handleServerRefresh forces a fresh list walk (waiting for it), then shows
// the fleet again with the same query: htmx gets the table in place (the
// button is disabled while it waits), a plain form post is redirected to
// the page. A failed walk is reported by the table or page (the cache keeps
// the error with the older data).
func (s *Server) handleServerRefresh(c echo.Context) error {
	if s.project(c).Fleet == nil {
		return errFleetNotConfigured
	}
	_, _ = s.project(c).Fleet.Refresh(ctx(c)) // a failure is remembered and shown below
	if !isHTMX(c) {
		return redirect(c, serversURL(fleet.ParseQuery(c.QueryParams())))
	}
	v, status, err := s.serversView(c, false)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		// htmx swaps only 2xx answers: the table itself says what failed.
		status = http.StatusOK
	}
	return s.render(c, status, views.ServersTable(v))
}

// handleServerView renders one server's detail page from the cache.
func (s *Server) handleServerView(c echo.Context) error {
	u, err := s.fleetUser(c)
	if err != nil {
		return err
	}
	snap, ferr := s.project(c).Fleet.Latest(ctx(c))
	if ferr != nil && snap == nil {
		return s.fleetUnavailable(c, ferr)
	}
	srv, ok := snap.Find(c.Param("id"))
	if !ok {
		return httpError(http.StatusNotFound, "err.no_server")
	}
	v := views.ServerDetailView{Server: srv, FetchedAt: snap.FetchedAt}
	if ferr != nil {
		v.Problem = s.cloudProblem(c, ferr, "server page")
	}
	if err := s.serverBatches(c, u, &v); err != nil {
		return err
	}
	sel, err := s.selections.Resolve(ctx(c), u.ID, snap)
	if err != nil {
		return err
	}
	for _, x := range sel {
		if x.ID == srv.ID {
			v.Selected = true
		}
	}
	return s.render(c, http.StatusOK, views.ServerDetailPage(v))
}

// serversView builds the fleet page's view model for the request's query:
// the page of servers from the shared cache, and the user's selection. The
// status is 200, or 503 when the fleet has never been fetched.
func (s *Server) serversView(c echo.Context, poll bool) (views.ServersView, int, error) {
	u, err := s.fleetUser(c)
	if err != nil {
		return views.ServersView{}, 0, err
	}
	q := fleet.ParseQuery(c.QueryParams())
	snap, ferr := s.project(c).Fleet.Latest(ctx(c))
	status := http.StatusOK
	v := views.ServersView{Poll: poll}
	if ferr != nil {
		if errors.Is(ferr, context.Canceled) && ctx(c).Err() != nil {
			return v, 0, ferr // the client went away; nobody reads the page
		}
		v.Problem = s.cloudProblem(c, ferr, "fleet page")
		if snap == nil {
			status = http.StatusServiceUnavailable
		}
	}

	sel, err := s.selections.Resolve(ctx(c), u.ID, snap)
	if err != nil {
		return v, 0, err
	}
	v.Selected = make(map[string]bool, len(sel))
	ids := make([]string, len(sel))
	for i, x := range sel {
		v.Selected[x.ID] = true
		ids[i] = x.ID
	}
	v.SelectedCount = len(sel)
	q = q.WithSelection(ids)

	if snap != nil {
		v.FetchedAt = snap.FetchedAt
		v.Age = s.project(c).Fleet.Age(snap)
		v.Stale = s.project(c).Fleet.TTL() > 0 && s.project(c).Fleet.Stale(snap)
		v.Result = fleet.Apply(snap.Servers, q)
	} else {
		v.Result = fleet.Apply(nil, q)
	}
	q.Page, q.PerPage = v.Result.Page, v.Result.PerPage
	v.Query = q
	v.Hidden = fleet.HiddenSelection(sel, q, v.Result)
	if v.Columns, err = s.selections.Columns(ctx(c), u.ID); err != nil {
		return v, 0, err
	}
	if snap == nil {
		// Nothing can be resolved without a fleet: show the stored count.
		if v.SelectedCount, err = s.selections.Count(ctx(c), u.ID); err != nil {
			return v, 0, err
		}
	}
	return v, status, nil
}

// fleetUser returns the signed-in user, after checking the fleet services
// are there.
func (s *Server) fleetUser(c echo.Context) (*auth.User, error) {
	if s.project(c).Fleet == nil || s.selections == nil {
		return nil, errFleetNotConfigured
	}
	u := auth.UserFrom(ctx(c))
	if u == nil {
		return nil, httpError(http.StatusUnauthorized, "err.sign_in")
	}
	return u, nil
}

// fleetUnavailable answers a request that needs the fleet when it has never
// been fetched: 503 with the reason, which (unlike a 500) is worth showing.
func (s *Server) fleetUnavailable(c echo.Context, err error) error {
	if err == nil {
		err = errors.New("no fleet snapshot")
	}
	p := s.cloudProblem(c, err, "fleet")
	msg := p.Title + " The fleet could not be fetched, so there is nothing to show yet. " + p.Advice
	if p.Reference != "" {
		msg += " (Reference: " + p.Reference + ")"
	}
	if isHTMX(c) {
		return s.render(c, http.StatusServiceUnavailable, views.ErrorFragment(msg))
	}
	return s.render(c, http.StatusServiceUnavailable, views.ErrorPage(http.StatusServiceUnavailable, "Fleet unavailable", msg))
}

// serversURL is the fleet page showing q.
func serversURL(q fleet.Query) string {
	if enc := q.Values().Encode(); enc != "" {
		return "/servers?" + enc
	}
	return "/servers"
}

// serverBatchesLimit is how many batches the server page lists.
const serverBatchesLimit = 50

// serverBatches fills the server page's "Batches on this server": every
// batch for people who may open everyone's batches, the user's own for
// those who may run actions, nothing for the others (who could open none).
func (s *Server) serverBatches(c echo.Context, u *auth.User, v *views.ServerDetailView) error {
	if s.project(c).Batches == nil {
		return nil
	}
	var owner int64
	switch {
	case u.Role.Can(auth.PermViewAllBatches):
		v.BatchesScope = "all"
	case u.Role.Can(auth.PermRunActions):
		v.BatchesScope, owner = "mine", u.ID
	default:
		return nil
	}
	list, err := s.project(c).Batches.ForServer(ctx(c), v.Server.ID, owner, serverBatchesLimit)
	if err != nil {
		return err
	}
	v.Batches, v.BatchesShown = list, true
	return nil
}

// handleServerColumns remembers which optional columns of the fleet table
// the user wants (form values "col"; "reset" goes back to every column),
// then shows the fleet again with the same query. Unknown keys are
// ignored.
func (s *Server) handleServerColumns(c echo.Context) error {
	u, err := s.fleetUser(c)
	if err != nil {
		return err
	}
	if _, err := c.FormParams(); err != nil {
		return httpError(http.StatusBadRequest, "err.columns")
	}
	form := c.Request().PostForm // the form only, not the fleet query in the URL
	var keys []string
	if form.Get("reset") == "" {
		keys = []string{}
		for _, col := range views.FleetColumns {
			if slices.Contains(form["col"], col.Key) {
				keys = append(keys, col.Key)
			}
		}
	}
	if err := s.selections.SetColumns(ctx(c), u.ID, keys); err != nil {
		return err
	}
	return redirect(c, serversURL(fleet.ParseQuery(c.QueryParams())))
}
