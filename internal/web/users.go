package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/views"
)

// registerUserRoutes adds the user management pages: admins only.
func (s *Server) registerUserRoutes(e *echo.Echo) {
	admin := s.require(auth.PermManageUsers)
	e.GET("/users", s.handleUserList, admin)
	e.POST("/users", s.handleUserCreate, admin)
	e.POST("/users/:id/role", s.handleUserRole, admin)
	e.POST("/users/:id/projects", s.handleUserProjects, admin)
	e.POST("/users/:id/password", s.handleUserPassword, admin)
	e.POST("/users/:id/disable", s.handleUserDisable, admin)
	e.POST("/users/:id/enable", s.handleUserEnable, admin)
	e.POST("/users/:id/factor/reset", s.handleUserFactorReset, admin)
	e.POST("/users/:id/sessions/end", s.handleUserSessionsEnd, admin)
}

// doneMessages are the notices shown after a change (Post/Redirect/Get).
// The user's name is looked up by id, never taken from the URL.
// Values are catalog ids; {{.Name}} is the user's name.
var doneMessages = map[string]string{
	"created":  "users.done.created",
	"role":     "users.done.role",
	"password": "users.done.password",
	"disabled": "users.done.disabled",
	"enabled":  "users.done.enabled",
	"factor":   "users.done.factor",
	"sessions": "users.done.sessions",
	"projects": "users.done.projects",
}

// handleUserList shows every user with the controls to manage them.
func (s *Server) handleUserList(c echo.Context) error {
	d := views.UsersPageData{}
	if msg, ok := doneMessages[c.QueryParam("done")]; ok {
		if id, err := strconv.ParseInt(c.QueryParam("id"), 10, 64); err == nil {
			if u, err := s.users.Get(ctx(c), id); err == nil {
				d.Notice = s.loc(c).T(msg, "Name", u.Name)
			}
		}
	}
	return s.renderUsers(c, http.StatusOK, d)
}

// renderUsers renders the users page with the current list.
func (s *Server) renderUsers(c echo.Context, status int, d views.UsersPageData) error {
	users, err := s.users.List(ctx(c))
	if err != nil {
		return err
	}
	d.Users = users
	if len(s.projects) > 1 {
		d.UserProjects = map[int64][]string{}
		for _, p := range s.projects {
			d.Projects = append(d.Projects, p.Name)
		}
		for _, u := range users {
			if d.UserProjects[u.ID], err = s.users.Projects(ctx(c), u.ID); err != nil {
				return err
			}
		}
	}
	if me := currentUser(c); me != nil {
		d.MeID = me.ID
	}
	return s.render(c, status, views.UsersPage(d))
}

func doneURL(what string, id int64) string {
	return "/users?" + url.Values{"done": {what}, "id": {strconv.FormatInt(id, 10)}}.Encode()
}

// handleUserCreate adds a user. Invalid input re-renders the form (422)
// with a message at each field; the password is never sent back.
func (s *Server) handleUserCreate(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	role := auth.Role(c.FormValue("role"))
	password := bodyValue(c, "password")
	f := views.NewUserForm{Name: name, Role: string(role), Errors: map[string]string{}}
	if err := auth.ValidName(name); err != nil {
		f.Errors["name"] = s.loc(c).T("users.err.name")
	}
	if !role.Valid() {
		f.Errors["role"] = s.loc(c).T("users.err.role")
	}
	if err := auth.ValidPassword(password); err != nil {
		f.Errors["password"] = s.loc(c).T("users.err.password_length", "Min", auth.MinPasswordLen, "Max", auth.MaxPasswordLen)
	}
	if len(f.Errors) == 0 {
		u, err := s.users.CreateUser(ctx(c), name, role, password)
		switch {
		case errors.Is(err, auth.ErrNameTaken):
			f.Errors["name"] = s.loc(c).T("users.err.name_taken")
		case err != nil:
			return err
		default:
			return redirect(c, doneURL("created", u.ID))
		}
	}
	return s.renderUsers(c, http.StatusUnprocessableEntity, views.UsersPageData{Create: f})
}

// userTarget parses the :id of a user route; unknown ids are 404.
func (s *Server) userTarget(c echo.Context) (*auth.User, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return nil, httpError(http.StatusNotFound, "users.err.no_such_user")
	}
	u, err := s.users.Get(ctx(c), id)
	if errors.Is(err, auth.ErrUserNotFound) {
		return nil, httpError(http.StatusNotFound, "users.err.no_such_user")
	}
	return u, err
}

// rowError re-renders the page with msg next to the user's row.
func (s *Server) rowError(c echo.Context, u *auth.User, msg string) error {
	return s.renderUsers(c, http.StatusUnprocessableEntity, views.UsersPageData{RowID: u.ID, RowError: msg})
}

// handleUserRole changes a user's role. Admins cannot demote themselves,
// and the last enabled admin is kept.
func (s *Server) handleUserRole(c echo.Context) error {
	u, err := s.userTarget(c)
	if err != nil {
		return err
	}
	role := auth.Role(c.FormValue("role"))
	if !role.Valid() {
		return s.rowError(c, u, s.loc(c).T("users.err.role"))
	}
	if me := currentUser(c); me.ID == u.ID && role != auth.RoleAdmin {
		return s.rowError(c, u, s.loc(c).T("users.err.own_admin"))
	}
	switch err := s.users.SetRole(ctx(c), u.ID, role); {
	case errors.Is(err, auth.ErrLastAdmin):
		return s.rowError(c, u, s.loc(c).T("users.err.last_admin"))
	case err != nil:
		return err
	}
	return redirect(c, doneURL("role", u.ID))
}

// handleUserPassword sets a new password and ends the user's sessions.
// An admin changing their own password stays signed in on a new session.
func (s *Server) handleUserPassword(c echo.Context) error {
	u, err := s.userTarget(c)
	if err != nil {
		return err
	}
	password := bodyValue(c, "password")
	if err := auth.ValidPassword(password); err != nil {
		return s.rowError(c, u, s.loc(c).T("users.err.new_password_length", "Min", auth.MinPasswordLen, "Max", auth.MaxPasswordLen))
	}
	if err := s.users.SetPassword(ctx(c), u.ID, password); err != nil {
		return err
	}
	if me := currentUser(c); me.ID == u.ID {
		if _, err := s.sessions.Begin(c.Response(), c.Request(), me); err != nil {
			return err
		}
	}
	return redirect(c, doneURL("password", u.ID))
}

// handleUserDisable stops a user from signing in and ends their sessions.
func (s *Server) handleUserDisable(c echo.Context) error {
	u, err := s.userTarget(c)
	if err != nil {
		return err
	}
	if me := currentUser(c); me.ID == u.ID {
		return s.rowError(c, u, s.loc(c).T("users.err.disable_self"))
	}
	if c.FormValue("confirm") != "yes" {
		// First ask: the page comes back with a dialog that says what
		// disabling does and posts again with confirm=yes.
		return s.renderUsers(c, http.StatusOK, views.UsersPageData{ConfirmDisable: u.ID})
	}
	switch err := s.users.Disable(ctx(c), u.ID); {
	case errors.Is(err, auth.ErrLastAdmin):
		return s.rowError(c, u, s.loc(c).T("users.err.last_admin"))
	case err != nil:
		return err
	}
	return redirect(c, doneURL("disabled", u.ID))
}

// handleUserEnable lets a disabled user sign in again.
func (s *Server) handleUserEnable(c echo.Context) error {
	u, err := s.userTarget(c)
	if err != nil {
		return err
	}
	if err := s.users.Enable(ctx(c), u.ID); err != nil {
		return err
	}
	return redirect(c, doneURL("enabled", u.ID))
}

// handleUserFactorReset removes a user's second factor (a lost device).
// The store records the reset in the audit log.
func (s *Server) handleUserFactorReset(c echo.Context) error {
	u, err := s.userTarget(c)
	if err != nil {
		return err
	}
	if err := s.users.ResetFactor(ctx(c), u.ID); err != nil {
		return err
	}
	return redirect(c, doneURL("factor", u.ID))
}

// handleUserSessionsEnd signs a user out everywhere. An admin ending their
// own sessions is signed out too.
func (s *Server) handleUserSessionsEnd(c echo.Context) error {
	u, err := s.userTarget(c)
	if err != nil {
		return err
	}
	n, err := s.sessions.RevokeUser(ctx(c), u.ID, "ended_by_admin")
	if err != nil {
		return err
	}
	if err := s.recordEvent(ctx(c), auth.EventUserSessions, auth.ActorFrom(ctx(c)), map[string]string{
		"user": u.Name, "user_id": strconv.FormatInt(u.ID, 10), "ended_logins": strconv.FormatInt(n, 10),
	}); err != nil {
		s.log.ErrorContext(ctx(c), "sessions ended but not recorded in the audit log", "user", u.Name, "err", err)
	}
	if me := currentUser(c); me.ID == u.ID {
		if err := s.sessions.End(c.Response(), c.Request()); err != nil {
			return err
		}
		return redirect(c, "/signin?signedout=1")
	}
	return redirect(c, doneURL("sessions", u.ID))
}

// handleUserProjects limits a user to the projects ticked; all of them
// ticked lifts the limit (the user also sees projects added later).
func (s *Server) handleUserProjects(c echo.Context) error {
	u, err := s.userTarget(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	names, problem := s.checkProjectNames(c, form["allowed"])
	if problem != "" {
		return s.rowError(c, u, problem)
	}
	if err := s.users.SetProjects(ctx(c), u.ID, names); err != nil {
		return err
	}
	return redirect(c, doneURL("projects", u.ID))
}

// checkProjectNames checks names against the console's projects and returns
// the limit to store (none when every project is named), or a message
// saying what is wrong.
func (s *Server) checkProjectNames(c echo.Context, names []string) ([]string, string) {
	if len(names) == 0 {
		return nil, s.loc(c).T("users.err.no_project")
	}
	for _, n := range names {
		if s.projectNamed(n) == nil {
			return nil, s.loc(c).T("users.err.unknown_project", "Name", truncate(n, 40))
		}
	}
	for _, p := range s.projects {
		if !slices.Contains(names, p.Name) {
			return names, ""
		}
	}
	return nil, ""
}
