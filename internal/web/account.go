package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/views"
)

// registerAccountRoutes adds the page where any signed-in user changes
// their own password.
func (s *Server) registerAccountRoutes(e *echo.Echo) {
	in := s.requireSignedIn()
	e.GET("/account", s.handleAccountShow, in)
	e.POST("/account/password", s.handleAccountPassword, in)
}

// handleAccountShow shows the signed-in user's account page.
func (s *Server) handleAccountShow(c echo.Context) error {
	return s.render(c, http.StatusOK, views.AccountPage(views.AccountForm{Done: c.QueryParam("done") == "1"}, auth.MinPasswordLen, auth.MaxPasswordLen))
}

// handleAccountPassword changes the signed-in user's password after
// checking the current one (a wrong one counts towards the sign-in
// lockout, like any failed sign-in). Every other session of the user ends;
// this one is renewed.
func (s *Server) handleAccountPassword(c echo.Context) error {
	me := currentUser(c)
	current := c.FormValue("current_password")
	next := c.FormValue("new_password")
	repeat := c.FormValue("repeat_password")
	errs := map[string]string{}
	if err := auth.ValidPassword(next); err != nil {
		errs["new_password"] = "The new password must be " + strconv.Itoa(auth.MinPasswordLen) + " to " + strconv.Itoa(auth.MaxPasswordLen) + " characters."
	} else if next != repeat {
		errs["repeat_password"] = "The two new passwords differ."
	} else if next == current {
		errs["new_password"] = "The new password must differ from the current one."
	}
	if len(errs) == 0 {
		switch _, err := s.users.Authenticate(ctx(c), me.Name, current, c.RealIP()); {
		case errors.Is(err, auth.ErrLocked):
			errs["current_password"] = "Too many failed attempts. Wait a while, then try again."
		case errors.Is(err, auth.ErrInvalidCredentials):
			errs["current_password"] = "That is not your current password."
		case err != nil:
			return err
		}
	}
	if len(errs) > 0 {
		return s.render(c, http.StatusUnprocessableEntity, views.AccountPage(views.AccountForm{Errors: errs}, auth.MinPasswordLen, auth.MaxPasswordLen))
	}
	if err := s.users.SetPassword(ctx(c), me.ID, next); err != nil {
		return err
	}
	if _, err := s.sessions.Begin(c.Response(), c.Request(), me); err != nil {
		return err
	}
	return redirect(c, "/account?done=1")
}
