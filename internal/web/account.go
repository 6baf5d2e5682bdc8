package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/views"
)

// registerAccountRoutes adds the page where any signed-in user sets up a
// second factor, sees and ends their sessions and changes their password.
func (s *Server) registerAccountRoutes(e *echo.Echo) {
	in := s.requireSignedIn()
	e.GET("/account", s.handleAccountShow, in)
	e.POST("/account/password", s.handleAccountPassword, in)
	e.POST("/account/factor", s.handleFactorStart, in)
	e.POST("/account/factor/confirm", s.handleFactorConfirm, in)
	e.POST("/account/sessions/end", s.handleSessionEnd, in)
	e.POST("/account/settings", s.handleAccountSettings, in)
}

// accountNotices are the notices after a change (Post/Redirect/Get).
var accountNotices = map[string]string{
	"ended": "account.notice.ended", // a catalog id
}

// handleAccountShow shows the signed-in user's account page.
func (s *Server) handleAccountShow(c echo.Context) error {
	f := views.AccountForm{Done: c.QueryParam("done") == "1"}
	if id, ok := accountNotices[c.QueryParam("notice")]; ok {
		f.Notice = s.loc(c).T(id)
	}
	f.Settings.Saved = c.QueryParam("saved") == "1"
	return s.renderAccount(c, http.StatusOK, f)
}

// renderAccount fills in the factor, session and display settings parts
// of the page.
func (s *Server) renderAccount(c echo.Context, status int, f views.AccountForm) error {
	me := currentUser(c)
	if f.Settings.Prefs.Theme == "" {
		f.Settings.Prefs = prefs(c)
	}
	f.Settings.Now = time.Now()
	u, err := s.users.Get(ctx(c), me.ID)
	if err != nil {
		return err
	}
	f.Factor.Enabled = u.HasFactor
	f.Factor.Required = s.factorRequired(u.Role)
	if u.HasFactor {
		if f.Factor.CodesLeft, err = s.users.RecoveryCodesLeft(ctx(c), u.ID); err != nil {
			return err
		}
	} else {
		p, err := s.users.PendingEnrolment(ctx(c), u.ID)
		if err != nil {
			return err
		}
		if p != nil {
			f.Factor.Pending = &views.PendingFactor{Secret: p.Secret, QRPNG: p.QRPNG}
		}
	}
	list, err := s.sessions.List(ctx(c), u.ID)
	if err != nil {
		return err
	}
	cur := currentSession(c)
	for _, ss := range list {
		f.Sessions = append(f.Sessions, views.SessionView{
			Handle:   ss.Handle(),
			Address:  ss.ClientIP,
			Browser:  browserName(ss.UserAgent),
			Started:  ss.CreatedAt,
			LastSeen: ss.LastSeenAt,
			Current:  cur != nil && cur.IDHash == ss.IDHash,
		})
	}
	return s.render(c, status, views.AccountPage(f, auth.MinPasswordLen, auth.MaxPasswordLen))
}

// browserName turns a User-Agent into something a person recognises
// ("Firefox on Linux"); the raw string when it is not one it knows.
func browserName(ua string) string {
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"HeadlessChrome/", "Chrome (headless)"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	if browser == "" {
		if ua == "" {
			return "Unknown"
		}
		if len(ua) > 80 {
			return ua[:80] + "…"
		}
		return ua
	}
	for _, o := range []struct{ token, name string }{
		{"Windows", "Windows"}, {"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}

// handleFactorStart creates a TOTP secret for the user and shows it.
func (s *Server) handleFactorStart(c echo.Context) error {
	me := currentUser(c)
	switch _, err := s.users.StartEnrolment(ctx(c), me.ID); {
	case errors.Is(err, auth.ErrFactorEnrolled):
		return s.renderAccount(c, http.StatusConflict, views.AccountForm{Errors: map[string]string{"factor": s.loc(c).T("account.err.factor_on")}})
	case err != nil:
		return err
	}
	return redirect(c, "/account#factor")
}

// handleFactorConfirm turns the factor on with the first code and shows
// the recovery codes, once.
func (s *Server) handleFactorConfirm(c echo.Context) error {
	me := currentUser(c)
	code := strings.TrimSpace(bodyValue(c, "code"))
	fail := func(status int, msg string) error {
		return s.renderAccount(c, status, views.AccountForm{Errors: map[string]string{"code": msg, "factor": msg}})
	}
	if code == "" {
		return fail(http.StatusUnprocessableEntity, s.loc(c).T("account.err.code_missing"))
	}
	codes, err := s.users.ConfirmEnrolment(ctx(c), me.ID, code, auth.ActorFrom(ctx(c)).ClientIP)
	var le *auth.LockedError
	switch {
	case err == nil:
	case errors.As(err, &le) && !errors.Is(err, auth.ErrInvalidCredentials):
		return fail(http.StatusTooManyRequests, lockedMessage(s.loc(c), le.Wait))
	case errors.Is(err, auth.ErrInvalidCredentials):
		if errors.As(err, &le) {
			return fail(http.StatusTooManyRequests, s.loc(c).T("account.err.code_wrong_short")+" "+lockedMessage(s.loc(c), le.Wait))
		}
		return fail(http.StatusUnprocessableEntity, s.loc(c).T("account.err.code_wrong"))
	case errors.Is(err, auth.ErrNoEnrolment):
		return s.renderAccount(c, http.StatusUnprocessableEntity, views.AccountForm{Errors: map[string]string{"factor": s.loc(c).T("account.err.factor_start")}})
	case errors.Is(err, auth.ErrFactorEnrolled):
		return s.renderAccount(c, http.StatusConflict, views.AccountForm{Errors: map[string]string{"factor": s.loc(c).T("account.err.factor_on")}})
	case codes == nil:
		return err
	default:
		// The factor is on but its audit entry is missing: say so.
		s.log.ErrorContext(ctx(c), "second factor enrolled but not recorded in the audit log", "user", me.Name, "err", err)
	}
	f := views.AccountForm{}
	f.Factor.RecoveryCodes = codes
	return s.renderAccount(c, http.StatusOK, f)
}

// handleSessionEnd ends one of the user's own sessions; ending the
// current one signs out.
func (s *Server) handleSessionEnd(c echo.Context) error {
	me := currentUser(c)
	ended, err := s.sessions.EndByHandle(ctx(c), me.ID, bodyValue(c, "session"))
	if errors.Is(err, auth.ErrSessionNotFound) {
		return redirect(c, "/account?notice=ended")
	}
	if err != nil {
		return err
	}
	cur := currentSession(c)
	current := cur != nil && cur.IDHash == ended.IDHash
	if err := s.recordEvent(ctx(c), auth.EventSessionEnded, auth.ActorFrom(ctx(c)), map[string]string{
		"user": me.Name, "user_id": strconv.FormatInt(me.ID, 10), "address": ended.ClientIP,
		"started": ended.CreatedAt.UTC().Format(time.RFC3339), "current": strconv.FormatBool(current),
	}); err != nil {
		s.log.ErrorContext(ctx(c), "session ended but not recorded in the audit log", "user", me.Name, "err", err)
	}
	if current {
		if err := s.sessions.End(c.Response(), c.Request()); err != nil {
			return err
		}
		return redirect(c, "/signin?signedout=1")
	}
	return redirect(c, "/account?notice=ended")
}

// handleAccountPassword changes the signed-in user's password after
// checking the current one. A wrong one is audited like a failed sign-in
// and counts towards the same delays (and the delay it causes is audited).
// Every other session of the user ends; this one is renewed.
func (s *Server) handleAccountPassword(c echo.Context) error {
	me := currentUser(c)
	current := bodyValue(c, "current_password")
	next := bodyValue(c, "new_password")
	repeat := bodyValue(c, "repeat_password")
	errs := map[string]string{}
	if err := auth.ValidPassword(next); err != nil {
		errs["new_password"] = s.loc(c).T("account.err.password_length", "Min", auth.MinPasswordLen, "Max", auth.MaxPasswordLen)
	} else if next != repeat {
		errs["repeat_password"] = s.loc(c).T("account.err.password_mismatch")
	} else if next == current {
		errs["new_password"] = s.loc(c).T("account.err.password_same")
	}
	status := http.StatusUnprocessableEntity
	if len(errs) == 0 {
		actor := auth.ActorFrom(ctx(c))
		_, err := s.users.Authenticate(ctx(c), me.Name, current, actor.ClientIP)
		if err != nil {
			st, _, rerr := s.signinRefused(c, actor, err, map[string]string{"step": "account_password"})
			if rerr != nil {
				return rerr
			}
			if st == http.StatusTooManyRequests {
				status = st
				errs["current_password"] = s.loc(c).T("account.err.locked")
			} else {
				errs["current_password"] = s.loc(c).T("account.err.wrong_password")
			}
		}
	}
	if len(errs) > 0 {
		return s.renderAccount(c, status, views.AccountForm{Errors: errs})
	}
	if err := s.users.SetPassword(ctx(c), me.ID, next); err != nil {
		return err
	}
	if _, err := s.sessions.Begin(c.Response(), c.Request(), me); err != nil {
		return err
	}
	return redirect(c, "/account?done=1")
}

// settingsErrors maps an unacceptable preference to its field's message
// (catalog ids).
var settingsErrors = map[string]string{
	auth.PrefTheme:    "settings.err.theme",
	auth.PrefLanguage: "settings.err.language",
	auth.PrefTimeZone: "settings.err.time_zone",
}

// handleAccountSettings saves the signed-in user's display settings
// (theme, language, time zone). An unacceptable value re-shows the form
// with the values as typed and a message at the field; nothing is saved.
func (s *Server) handleAccountSettings(c echo.Context) error {
	me := currentUser(c)
	p := auth.Preferences{
		Theme:    auth.Theme(c.FormValue("theme")),
		Language: c.FormValue("language"),
		TimeZone: c.FormValue("time_zone"),
	}
	err := s.users.SetPreferences(ctx(c), me.ID, p)
	var pe *auth.PreferencesError
	if errors.As(err, &pe) {
		if p.Theme == "" || !p.Theme.Valid() {
			p.Theme = auth.ThemeSystem // re-show a valid choice; the message names the problem
		}
		f := views.AccountForm{Settings: views.SettingsForm{
			Prefs:  p,
			Errors: map[string]string{pe.Field: s.loc(c).T(settingsErrors[pe.Field])},
		}}
		return s.renderAccount(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	return redirect(c, "/account?saved=1#settings-title")
}
