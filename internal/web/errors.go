package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/views"
)

// csrfContextKey is the context key under which middleware leaves the
// request's CSRF token for render.
const csrfContextKey = "csrf"

// UserError is the one user-facing error: the status, a message a person
// can read and act on (safe to show, whatever the status), and the internal
// cause, which only the log sees (with the request id).
type UserError struct {
	Status  int
	Message string
	Cause   error
}

func (e *UserError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *UserError) Unwrap() error { return e.Cause }

// catalogMessage is the Message of an *echo.HTTPError that is rendered
// from the catalog in the request's language (httpError makes one); the
// English text is what it prints elsewhere (logs, tests).
type catalogMessage struct {
	id string
	kv []any
}

func (m catalogMessage) String() string { return englishLoc().T(m.id, m.kv...) }

// httpError is an *echo.HTTPError whose message is catalog message id,
// shown in the language of the request it answers.
func httpError(status int, id string, kv ...any) *echo.HTTPError {
	return echo.NewHTTPError(status, catalogMessage{id: id, kv: kv})
}

// englishLoc is the English localizer, for messages rendered outside a
// request (and the String of a catalogMessage).
var englishLoc = sync.OnceValue(func() *i18n.Localizer { return i18n.MustLoad().Localizer(i18n.English) })

// locOf is the request's localizer (English when localize did not run).
func locOf(c echo.Context) *i18n.Localizer {
	if l := i18n.From(c.Request().Context()); l != nil {
		return l
	}
	return englishLoc()
}

// errorRule is one row of the table from domain errors to what people see.
type errorRule struct {
	match   func(error) bool
	status  int
	message func(*i18n.Localizer, error) string
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func as[T error]() func(error) bool {
	return func(err error) bool {
		var t T
		return errors.As(err, &t)
	}
}

// text is a rule's message: catalog message id.
func text(id string) func(*i18n.Localizer, error) string {
	return func(l *i18n.Localizer, _ error) string { return l.T(id) }
}

// errorTable is the one table from domain errors to responses; the first
// matching row wins. Cloud errors say which of these it is — unreachable,
// timed out, refusing the credentials, throttling, a fault of ModelArts —
// and what to do; the error chain and the request id go only to the log.
// The messages are in the catalog (locales/<lang>/errors.json).
var errorTable = []errorRule{
	{is(batch.ErrTokenUnknown), http.StatusUnprocessableEntity, text("err.preview_unknown")},
	{is(batch.ErrTokenExpired), http.StatusUnprocessableEntity, text("err.preview_expired")},
	{is(batch.ErrNothingToSend), http.StatusUnprocessableEntity, text("err.nothing_to_send")},
	{as[*batch.ConfirmationError](), http.StatusUnprocessableEntity, func(l *i18n.Localizer, err error) string {
		var ce *batch.ConfirmationError
		errors.As(err, &ce)
		return l.T("err.confirm_word", "Word", ce.Word)
	}},
	{as[*batch.MixedPlatformError](), http.StatusUnprocessableEntity, func(l *i18n.Localizer, err error) string {
		var me *batch.MixedPlatformError
		errors.As(err, &me)
		return l.T("err.mixed_platforms", "Platforms", strings.Join(me.Platforms, ", "))
	}},
	{is(batch.ErrNoImages), http.StatusUnprocessableEntity, text("err.no_images")},
	{as[*batch.ImagesUnavailableError](), http.StatusServiceUnavailable, func(l *i18n.Localizer, err error) string {
		return l.T("err.images_unavailable", "Problem", cloudProblem(l, err))
	}},
	{is(batch.ErrNotDestructive), http.StatusBadRequest, text("err.not_destructive")},
	{is(batch.ErrNoSelection), http.StatusUnprocessableEntity, text("err.no_selection")},
	{is(batch.ErrNotFound), http.StatusNotFound, text("err.no_batch")},
	{is(batch.ErrApprovalRequired), http.StatusUnprocessableEntity, text("err.approval_unavailable")},
	{is(batch.ErrApprovalNotRequired), http.StatusUnprocessableEntity, text("err.approval_not_required")},
	{is(batch.ErrShuttingDown), http.StatusServiceUnavailable, text("err.shutting_down")},
	{is(approval.ErrNotFound), http.StatusNotFound, text("err.approval.not_found")},
	{is(approval.ErrOwnRequest), http.StatusForbidden, text("err.approval.own")},
	{is(approval.ErrNotRequester), http.StatusForbidden, text("err.approval.not_requester")},
	{is(approval.ErrForbidden), http.StatusForbidden, text("err.approval.forbidden")},
	{as[*approval.StateError](), http.StatusConflict, func(l *i18n.Localizer, err error) string {
		var se *approval.StateError
		errors.As(err, &se)
		state := string(se.State)
		if l.Has("approvals.state." + state) {
			// "already denied" mid-sentence (a no-op in Chinese).
			state = strings.ToLower(l.T("approvals.state." + state))
		}
		return l.T("err.approval.state", "State", state)
	}},
	{as[*approval.ValidationError](), http.StatusUnprocessableEntity, func(l *i18n.Localizer, err error) string {
		var ve *approval.ValidationError
		errors.As(err, &ve)
		switch ve.Field {
		case "comment":
			return l.T("err.approval.comment", "Problem", approvalTextProblem(l, ve))
		case "reason":
			return l.T("err.approval.reason", "Problem", approvalTextProblem(l, ve))
		}
		return ve.Error()
	}},
	{as[*approval.ParamsError](), http.StatusUnprocessableEntity, func(l *i18n.Localizer, err error) string {
		var pe *approval.ParamsError
		errors.As(err, &pe)
		return l.T("err.approval.params", "Problem", osParamsProblems(l, pe.Errs))
	}},
	{is(approval.ErrNotRequired), http.StatusUnprocessableEntity, text("err.approval.not_required")},
	{is(approval.ErrNothingToSend), http.StatusUnprocessableEntity, text("err.nothing_to_send")},
	{is(approval.ErrNotRecorded), http.StatusServiceUnavailable, text("err.approval.not_recorded")},
	{is(approval.ErrProjectGone), http.StatusConflict, text("err.approval.project_gone")},
	{func(err error) bool {
		return errors.Is(err, approval.ErrNoKey) || errors.Is(err, approval.ErrNoExecutor)
	},
		http.StatusServiceUnavailable, text("err.approval.not_set_up")},
	{isCloud, http.StatusServiceUnavailable, cloudMessage},
}

// isCloud reports whether err came from a call to ModelArts or IAM.
func isCloud(err error) bool {
	var (
		te *modelarts.TransportError
		ae *modelarts.APIError
		re *modelarts.RedirectError
		de *modelarts.DecodeError
	)
	return errors.As(err, &te) || errors.As(err, &ae) || errors.As(err, &re) || errors.As(err, &de)
}

// cloudProblem names, in a few words, what went wrong with ModelArts (as
// classifyCloud decides it).
func cloudProblem(l *i18n.Localizer, err error) string {
	f := classifyCloud(err)
	switch f.Kind {
	case cloudTimeout:
		return l.T("err.cloud.timeout")
	case cloudUnreachable:
		return l.T("err.cloud.unreachable")
	case cloudRedirect:
		return l.T("err.cloud.redirect")
	case cloudUnreadable:
		return l.T("err.cloud.unreadable")
	case cloudCredentials:
		return l.T("err.cloud.credentials")
	case cloudThrottled:
		if f.RetryAfter > 0 {
			return l.T("err.cloud.throttled_wait", "Wait", f.RetryAfter.String())
		}
		return l.T("err.cloud.throttled")
	case cloudFault:
		return l.T("err.cloud.fault")
	case cloudRefused:
		return l.T("err.cloud.refused", "Code", f.Code)
	}
	return l.T("err.cloud.unavailable")
}

// cloudMessage is cloudProblem with what to do about it.
func cloudMessage(l *i18n.Localizer, err error) string {
	p := cloudProblem(l, err)
	switch classifyCloud(err).Kind {
	case cloudCredentials:
		return l.T("err.cloud.advice.credentials", "Problem", p)
	case cloudThrottled:
		return l.T("err.cloud.advice.throttled", "Problem", p)
	case cloudRefused:
		return l.T("err.cloud.advice.refused", "Problem", p)
	}
	return l.T("err.cloud.advice.retry", "Problem", p)
}

// CloudUnavailable is what a page shows every role, viewers included, when
// ModelArts could not be asked: plain words, never the error chain.
func CloudUnavailable(l *i18n.Localizer, err error) *UserError {
	return &UserError{Status: http.StatusServiceUnavailable, Message: cloudMessage(l, err), Cause: err}
}

// publicError maps err to what the person sees, in l's language: a
// *UserError as it is, an echo.HTTPError by its status and message (a
// catalogMessage rendered in l's language), a domain error by errorTable,
// and anything else as a fault of the console.
func publicError(l *i18n.Localizer, err error) *UserError {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		var msg string
		switch m := he.Message.(type) {
		case string:
			msg = m
		case catalogMessage:
			msg = l.T(m.id, m.kv...)
		}
		if msg == "" {
			msg = http.StatusText(he.Code)
			if he.Code >= 500 {
				msg = l.T("err.console_fault")
			}
		}
		return &UserError{Status: he.Code, Message: msg, Cause: he.Internal}
	}
	for _, r := range errorTable {
		if r.match(err) {
			return &UserError{Status: r.status, Message: r.message(l, err), Cause: err}
		}
	}
	return &UserError{Status: http.StatusInternalServerError, Message: l.T("err.console_fault"), Cause: err}
}

// handleError is the one path by which errors reach users: publicError
// decides the status and message; causes of 5xx answers are logged with
// the request id. htmx requests get a fragment, plain requests a full page.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.ErrorContext(ctx(c), "error after response was committed", slog.String("err", err.Error()))
		return
	}
	ue := publicError(locOf(c), err)
	status, msg := ue.Status, ue.Message
	if status >= 500 {
		cause := "(none)"
		if ue.Cause != nil {
			cause = ue.Cause.Error()
		}
		s.log.ErrorContext(ctx(c), "request failed", slog.Int("status", status),
			slog.String("err", cause)) // request_id: added by the log handler
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	var rerr error
	if isHTMX(c) {
		rerr = s.render(c, status, views.ErrorFragment(msg))
	} else {
		title := http.StatusText(status)
		if l := locOf(c); l.Has("http." + strconv.Itoa(status)) {
			title = l.T("http." + strconv.Itoa(status))
		}
		rerr = s.render(c, status, views.ErrorPage(status, title, msg))
	}
	if rerr != nil {
		s.log.ErrorContext(ctx(c), "render error page", slog.Any("err", rerr))
		_ = c.String(status, msg)
	}
}
