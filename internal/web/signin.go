package web

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/views"
)

// Messages shown on the sign-in page. Every failed sign-in gets the same
// one, whatever the reason.
const (
	msgBadCredentials = "Incorrect username or password."
	msgMissingFields  = "Enter your username and password."
	msgSignedOut      = "You have been signed out."
	msgExpired        = "Your session has expired. Sign in again."
)

func (s *Server) registerSignInRoutes(e *echo.Echo) {
	e.GET("/signin", s.handleSignInForm)
	e.POST("/signin", s.handleSignIn)
	e.POST("/signout", s.handleSignOut)
}

// handleSignInForm shows the sign-in form; a signed-in user goes straight
// on to next.
func (s *Server) handleSignInForm(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	f := views.SignInForm{Next: nextField(next)}
	switch {
	case c.QueryParam("signedout") != "":
		f.Notice = msgSignedOut
	case c.Get(sessionExpiredContextKey) == true, c.QueryParam("expired") != "":
		f.Notice = msgExpired
	}
	return s.render(c, http.StatusOK, views.SignInPage(f))
}

// nextField is the value of the form's hidden "next" field: empty for "/".
func nextField(next string) string {
	if next == "/" {
		return ""
	}
	return next
}

// maxUsernameLen bounds what is echoed back and recorded of a typed name.
const maxUsernameLen = 64

// handleSignIn checks the credentials. On success it starts a new session
// (any session the browser carried is ended: rotation) and redirects to
// next when that is a path on this console. Every failure shows one
// generic message; a locked name or address is told to wait. All outcomes
// are recorded in the audit log; the success is recorded before the
// session starts, so a sign-in the audit log cannot record does not happen.
func (s *Server) handleSignIn(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	name := strings.TrimSpace(c.FormValue("username"))
	if len(name) > maxUsernameLen {
		name = name[:maxUsernameLen]
	}
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	form := views.SignInForm{Username: name, Next: nextField(next)}
	if name == "" || password == "" {
		form.Error = msgMissingFields
		return s.render(c, http.StatusUnprocessableEntity, views.SignInPage(form))
	}

	actor := auth.ActorFrom(ctx)
	actor.UserID, actor.Role = 0, ""
	actor.Name = name // the name that was tried
	u, err := s.users.Authenticate(ctx, name, password, actor.ClientIP)
	if err == nil {
		actor.UserID, actor.Name, actor.Role = u.ID, u.Name, u.Role
		detail := map[string]string{}
		if prev := currentUser(c); prev != nil {
			detail["replaced_session_of"] = prev.Name
		}
		if err := s.recordEvent(ctx, auth.EventSigninSuccess, actor, detail); err != nil {
			return fmt.Errorf("sign-in of %s not recorded in the audit log, so refused: %w", u.Name, err)
		}
		if _, err := s.sessions.Begin(c.Response(), r, u); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "signed in", slog.String("user", u.Name), slog.String("client_ip", actor.ClientIP))
		return redirect(c, next)
	}

	var ce *auth.CredentialsError
	var le *auth.LockedError
	isCred, isLocked := errors.As(err, &ce), errors.As(err, &le)
	if !isCred && !isLocked {
		return err
	}
	if isCred {
		if rerr := s.recordEvent(ctx, auth.EventSigninFailure, actor, map[string]string{"reason": ce.Reason}); rerr != nil {
			s.log.ErrorContext(ctx, "sign-in failure not recorded in the audit log", slog.String("error", rerr.Error()))
		}
	}
	status := http.StatusUnauthorized
	form.Error = msgBadCredentials
	if isLocked {
		detail := map[string]string{
			"locked":       map[string]string{"user": "username", "addr": "client address"}[le.Kind],
			"locked_until": le.Until.UTC().Format(time.RFC3339),
		}
		if le.Triggered {
			detail["started_by_this_attempt"] = "true"
		}
		if rerr := s.recordEvent(ctx, auth.EventSigninLocked, actor, detail); rerr != nil {
			s.log.ErrorContext(ctx, "sign-in lock-out not recorded in the audit log", slog.String("error", rerr.Error()))
		}
		status = http.StatusTooManyRequests
		form.Error = lockedMessage(le.Until, time.Now())
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(time.Until(le.Until).Seconds()))))
	}
	s.log.InfoContext(ctx, "sign-in refused", slog.String("client_ip", actor.ClientIP), slog.Bool("locked", isLocked))
	return s.render(c, status, views.SignInPage(form))
}

// lockedMessage tells a locked-out user how long to wait, without saying
// whether the name exists.
func lockedMessage(until, now time.Time) string {
	mins := int(math.Ceil(until.Sub(now).Minutes()))
	if mins < 1 {
		mins = 1
	}
	unit := "minutes"
	if mins == 1 {
		unit = "minute"
	}
	return fmt.Sprintf("Too many failed sign-in attempts. Try again in %d %s.", mins, unit)
}

// handleSignOut ends the session server-side (the cookie stops working,
// wherever a copy of it is) and returns to the sign-in page.
func (s *Server) handleSignOut(c echo.Context) error {
	r := c.Request()
	u := currentUser(c)
	if err := s.sessions.End(c.Response(), r); err != nil {
		return err
	}
	if u != nil {
		if err := s.recordEvent(r.Context(), auth.EventSignout, auth.ActorFrom(r.Context()), nil); err != nil {
			s.log.ErrorContext(r.Context(), "sign-out not recorded in the audit log", slog.String("error", err.Error()))
		}
	}
	return redirect(c, "/signin?signedout=1")
}
