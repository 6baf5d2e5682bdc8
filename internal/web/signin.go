package web

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/views"
)

// Messages (catalog ids) shown on the sign-in page. Every failed sign-in
// gets the same one, whatever the reason.
const (
	msgBadCredentials = "signin.err.bad_credentials"
	msgMissingFields  = "signin.err.missing_fields"
	msgSignedOut      = "signin.signed_out"
	msgExpired        = "signin.expired"
	msgDisabled       = "signin.disabled"
)

func (s *Server) registerSignInRoutes(e *echo.Echo) {
	e.GET("/signin", s.handleSignInForm)
	e.POST("/signin", s.handleSignIn)
	e.GET("/signin/code", s.handleSignInCodeForm)
	e.POST("/signin/code", s.handleSignInCode)
	e.POST("/signout", s.handleSignOut)
}

// Messages (catalog ids) of the second sign-in step.
const (
	msgBadCode     = "signin.err.bad_code"
	msgMissingCode = "signin.err.missing_code"
)

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
		f.Notice = s.loc(c).T(msgSignedOut)
	case c.Get(userDisabledContextKey) == true, c.QueryParam("disabled") != "":
		// Said only to the browser whose session it was (or to whoever
		// types the parameter, who learns nothing about any account).
		f.Notice = s.loc(c).T(msgDisabled)
	case c.Get(sessionExpiredContextKey) == true, c.QueryParam("expired") != "":
		f.Notice = s.loc(c).T(msgExpired)
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
	password := bodyValue(c, "password")
	next := safeNext(c.FormValue("next"))
	form := views.SignInForm{Username: name, Next: nextField(next)}
	if name == "" || password == "" {
		form.Error = s.loc(c).T(msgMissingFields)
		return s.render(c, http.StatusUnprocessableEntity, views.SignInPage(form))
	}

	actor := auth.ActorFrom(ctx)
	actor.UserID, actor.Role = 0, ""
	actor.Name = name // the name that was tried
	u, err := s.users.Authenticate(ctx, name, password, actor.ClientIP)
	if err == nil && u.HasFactor {
		// The password is right; the sign-in waits for the code. Nothing
		// is signed in yet, so the success is recorded after the code.
		if _, err := s.sessions.BeginPending(c.Response(), r, u); err != nil {
			return err
		}
		target := "/signin/code"
		if next != "/" {
			target += "?" + url.Values{"next": {next}}.Encode()
		}
		return redirect(c, target)
	}
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

	status, msg, rerr := s.signinRefused(c, actor, err, nil)
	if rerr != nil {
		return rerr
	}
	form.Error = msg
	return s.render(c, status, views.SignInPage(form))
}

// signinRefused audits a refused sign-in step (password, second factor or
// the current password on /account/password) and returns the status and
// message to show: signin.failure for a wrong secret, signin.locked when a
// delay is in force or this failure started one. Errors that are neither
// are returned as they are.
func (s *Server) signinRefused(c echo.Context, actor auth.Actor, err error, extra map[string]string) (int, string, error) {
	ctx := c.Request().Context()
	var ce *auth.CredentialsError
	var le *auth.LockedError
	isCred, isLocked := errors.As(err, &ce), errors.As(err, &le)
	if !isCred && !isLocked {
		return 0, "", err
	}
	if isCred {
		detail := map[string]string{"reason": ce.Reason}
		for k, v := range extra {
			detail[k] = v
		}
		if rerr := s.recordEvent(ctx, auth.EventSigninFailure, actor, detail); rerr != nil {
			s.log.ErrorContext(ctx, "sign-in failure not recorded in the audit log", slog.String("err", rerr.Error()))
		}
	}
	status := http.StatusUnauthorized
	msg := s.loc(c).T(msgBadCredentials)
	if isLocked {
		detail := map[string]string{
			"locked":       map[string]string{"pair": "username from this address", "addr": "client address"}[le.Kind],
			"locked_until": le.Until.UTC().Format(time.RFC3339),
		}
		if le.Triggered {
			detail["started_by_this_attempt"] = "true"
			detail["failures"] = strconv.Itoa(le.Failures)
		}
		for k, v := range extra {
			detail[k] = v
		}
		if rerr := s.recordEvent(ctx, auth.EventSigninLocked, actor, detail); rerr != nil {
			s.log.ErrorContext(ctx, "sign-in delay not recorded in the audit log", slog.String("err", rerr.Error()))
		}
		status = http.StatusTooManyRequests
		msg = lockedMessage(s.loc(c), le.Wait)
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(le.Wait.Seconds())))))
	}
	s.log.InfoContext(ctx, "sign-in refused", slog.String("client_ip", actor.ClientIP), slog.Bool("delayed", isLocked))
	return status, msg, nil
}

// handleSignInCodeForm asks for the second factor of a sign-in whose
// password was right.
func (s *Server) handleSignInCodeForm(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	if pendingUser(c) == nil {
		return c.Redirect(http.StatusSeeOther, "/signin")
	}
	return s.render(c, http.StatusOK, views.SignInCodePage(views.SignInCodeForm{Next: nextField(next)}))
}

// handleSignInCode checks the second factor. On success the pending
// session is replaced by a real one (rotation) and the sign-in is
// recorded; a wrong code is audited like a wrong password and counts
// towards the same delays.
func (s *Server) handleSignInCode(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	next := safeNext(bodyValue(c, "next"))
	if currentUser(c) != nil {
		return redirect(c, next)
	}
	u := pendingUser(c)
	if u == nil {
		return redirect(c, "/signin?expired=1")
	}
	form := views.SignInCodeForm{Next: nextField(next)}
	code := strings.TrimSpace(bodyValue(c, "code"))
	if code == "" {
		form.Error = s.loc(c).T(msgMissingCode)
		return s.render(c, http.StatusUnprocessableEntity, views.SignInCodePage(form))
	}
	actor := auth.ActorFrom(ctx)
	actor.UserID, actor.Name, actor.Role = u.ID, u.Name, u.Role
	method, err := s.users.VerifyFactor(ctx, u.ID, code, actor.ClientIP)
	if err == nil {
		if err := s.recordEvent(ctx, auth.EventSigninSuccess, actor, map[string]string{"second_factor": method}); err != nil {
			return fmt.Errorf("sign-in of %s not recorded in the audit log, so refused: %w", u.Name, err)
		}
		if _, err := s.sessions.Begin(c.Response(), r, u); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "signed in", slog.String("user", u.Name), slog.String("client_ip", actor.ClientIP), slog.String("second_factor", method))
		return redirect(c, next)
	}
	if errors.Is(err, auth.ErrNoFactor) { // reset by an admin meanwhile
		return redirect(c, "/signin")
	}
	status, msg, rerr := s.signinRefused(c, actor, err, map[string]string{"step": "second_factor"})
	if rerr != nil {
		return rerr
	}
	if status == http.StatusUnauthorized {
		msg = s.loc(c).T(msgBadCode)
	}
	form.Error = msg
	return s.render(c, status, views.SignInCodePage(form))
}

// lockedMessage tells a locked-out user how long to wait, without saying
// whether the name exists.
func lockedMessage(l *i18n.Localizer, wait time.Duration) string {
	n, id := int(math.Ceil(wait.Minutes())), "signin.err.locked"
	if wait < 90*time.Second {
		n, id = int(math.Ceil(wait.Seconds())), "signin.err.locked_seconds"
	}
	if n < 1 {
		n = 1
	}
	return l.N(id, n)
}

// handleSignOut ends the session server-side (the cookie stops working,
// wherever a copy of it is) and returns to the sign-in page.
func (s *Server) handleSignOut(c echo.Context) error {
	r := c.Request()
	u := currentUser(c)
	if err := s.sessions.End(c.Response(), r); err != nil {
		return err
	}
	if u != nil && s.selections != nil {
		// Signing out ends the work: the next sign-in starts with nothing
		// selected (on every device, since the selection is the user's).
		if err := s.selections.Clear(r.Context(), u.ID); err != nil {
			s.log.ErrorContext(r.Context(), "could not clear the selection at sign-out", slog.String("err", err.Error()))
		}
	}
	if u != nil {
		if err := s.recordEvent(r.Context(), auth.EventSignout, auth.ActorFrom(r.Context()), nil); err != nil {
			s.log.ErrorContext(r.Context(), "sign-out not recorded in the audit log", slog.Any("err", err))
		}
	}
	return redirect(c, "/signin?signedout=1")
}
