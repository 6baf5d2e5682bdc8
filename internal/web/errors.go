package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/batch"
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

// Messages of the console's own fault and of previews that cannot be used.
const (
	msgConsoleFault   = "Something went wrong in the console itself. The error has been logged with this request's id; try again, and tell an administrator if it keeps happening."
	msgPreviewUnknown = "This preview is not valid (it was made in another session or has been cleaned up). Nothing was sent. Choose the action again to get a new preview."
	msgPreviewExpired = "This preview has expired (previews can be confirmed for 15 minutes). Nothing was sent. Choose the action again to get a fresh preview."
	msgNothingToSend  = "None of the selected servers can take this action now, so nothing was sent."
)

// errorRule is one row of the table from domain errors to what people see.
type errorRule struct {
	match   func(error) bool
	status  int
	message func(error) string
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func as[T error]() func(error) bool {
	return func(err error) bool {
		var t T
		return errors.As(err, &t)
	}
}

func text(msg string) func(error) string { return func(error) string { return msg } }

// errorTable is the one table from domain errors to responses; the first
// matching row wins. Cloud errors say which of these it is — unreachable,
// timed out, refusing the credentials, throttling, a fault of ModelArts —
// and what to do; the error chain and the request id go only to the log.
var errorTable = []errorRule{
	{is(batch.ErrTokenUnknown), http.StatusUnprocessableEntity, text(msgPreviewUnknown)},
	{is(batch.ErrTokenExpired), http.StatusUnprocessableEntity, text(msgPreviewExpired)},
	{is(batch.ErrNothingToSend), http.StatusUnprocessableEntity, text(msgNothingToSend)},
	{as[*batch.ConfirmationError](), http.StatusUnprocessableEntity, func(err error) string {
		var ce *batch.ConfirmationError
		errors.As(err, &ce)
		return "To confirm, type " + ce.Word + " exactly (in capitals) in the box. Nothing was sent."
	}},
	{as[*batch.MixedPlatformError](), http.StatusUnprocessableEntity, func(err error) string {
		var me *batch.MixedPlatformError
		errors.As(err, &me)
		return "The servers to change mix server types or architectures (" + strings.Join(me.Platforms, ", ") +
			"). Change OS installs one image on all of them, so select servers of one type and architecture only. Nothing was sent."
	}},
	{is(batch.ErrNoImages), http.StatusUnprocessableEntity,
		text("ModelArts offers no active image for these servers, so Change OS cannot go on. Nothing was sent.")},
	{as[*batch.ImagesUnavailableError](), http.StatusServiceUnavailable, func(err error) string {
		return "The image list could not be loaded from ModelArts when this action was previewed (" +
			cloudProblem(err) + "), so Change OS cannot go on. Nothing was sent. Choose the action again in a moment."
	}},
	{is(batch.ErrNotDestructive), http.StatusBadRequest, text("This action needs no confirmation; use its Run button.")},
	{is(batch.ErrNoSelection), http.StatusUnprocessableEntity, text("No servers are selected. Tick the servers in the list first.")},
	{is(batch.ErrNotFound), http.StatusNotFound, text("There is no batch with this id.")},
	{is(batch.ErrApprovalRequired), http.StatusUnprocessableEntity,
		text("This action needs an approver's approval, and approvals are not available in this console. Nothing was sent.")},
	{is(batch.ErrApprovalNotRequired), http.StatusUnprocessableEntity, text("This action needs no approval; confirm it directly.")},
	{is(batch.ErrShuttingDown), http.StatusServiceUnavailable,
		text("The console is shutting down, so nothing was sent. Try again in a minute.")},
	{is(approval.ErrNotFound), http.StatusNotFound, text("There is no approval request with this id that you can see.")},
	{is(approval.ErrOwnRequest), http.StatusForbidden,
		text("You asked for this, so you cannot decide it: another approver or admin must. Nothing was sent.")},
	{is(approval.ErrNotRequester), http.StatusForbidden,
		text("Only the person who asked can withdraw a request; deny it instead if it should not run.")},
	{is(approval.ErrForbidden), http.StatusForbidden, text("Your role does not allow this. Ask an admin if you need it.")},
	{as[*approval.StateError](), http.StatusConflict, func(err error) string {
		var se *approval.StateError
		errors.As(err, &se)
		return "This request is already " + string(se.State) + ", so nothing was changed and nothing was sent."
	}},
	{as[*approval.ValidationError](), http.StatusUnprocessableEntity, func(err error) string {
		var ve *approval.ValidationError
		errors.As(err, &ve)
		switch ve.Field {
		case "comment":
			return "Comment " + ve.Message + ". Write why, so the requester knows; nothing was decided."
		case "reason":
			return "Reason " + ve.Message + ". Nothing was sent."
		}
		return ve.Error()
	}},
	{as[*approval.ParamsError](), http.StatusUnprocessableEntity, func(err error) string {
		var pe *approval.ParamsError
		errors.As(err, &pe)
		return "The OS parameters cannot be used: " + pe.Errs.Error() + ". Nothing was sent."
	}},
	{is(approval.ErrNotRequired), http.StatusUnprocessableEntity, text("This action does not need approval; confirm it directly.")},
	{is(approval.ErrNothingToSend), http.StatusUnprocessableEntity, text(msgNothingToSend)},
	{is(approval.ErrNotRecorded), http.StatusServiceUnavailable,
		text("The audit log could not record this step, so nothing was sent. Try again in a moment.")},
	{is(approval.ErrProjectGone), http.StatusConflict,
		text("This request is for a project the console no longer has, so it cannot run; deny it, or ask an admin to add the project again. Nothing was sent.")},
	{func(err error) bool {
		return errors.Is(err, approval.ErrNoKey) || errors.Is(err, approval.ErrNoExecutor)
	},
		http.StatusServiceUnavailable,
		text("The console is not set up to run approved requests; an admin must check its configuration. Nothing was sent.")},
	{isCloud, http.StatusServiceUnavailable, func(err error) string { return cloudMessage(err) }},
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
func cloudProblem(err error) string {
	f := classifyCloud(err)
	switch f.Kind {
	case cloudTimeout:
		return "ModelArts did not answer in time"
	case cloudUnreachable:
		return "ModelArts is unreachable"
	case cloudRedirect:
		return "ModelArts answered with a redirect, which the console does not follow"
	case cloudUnreadable:
		return "ModelArts answered something the console could not read"
	case cloudCredentials:
		return "ModelArts refused the console's credentials"
	case cloudThrottled:
		if f.RetryAfter > 0 {
			return fmt.Sprintf("ModelArts is throttling requests and asked to wait %s", f.RetryAfter)
		}
		return "ModelArts is throttling requests"
	case cloudFault:
		return "ModelArts reported a fault of its own"
	case cloudRefused:
		return "ModelArts refused the request (" + f.Code + ")"
	}
	return "ModelArts is unavailable"
}

// cloudMessage is cloudProblem with what to do about it.
func cloudMessage(err error) string {
	p := cloudProblem(err)
	switch classifyCloud(err).Kind {
	case cloudCredentials:
		return p + ". An administrator must check the console's access key, secret key or IAM user and the project ID."
	case cloudThrottled:
		return p + ". Wait a moment and try again."
	case cloudRefused:
		return p + ". Nothing was changed."
	}
	return p + ". Try again in a moment; if it lasts, tell an administrator."
}

// CloudUnavailable is what a page shows every role, viewers included, when
// ModelArts could not be asked: plain words, never the error chain.
func CloudUnavailable(err error) *UserError {
	return &UserError{Status: http.StatusServiceUnavailable, Message: cloudMessage(err), Cause: err}
}

// publicError maps err to what the person sees: a *UserError as it is, an
// echo.HTTPError by its status and message, a domain error by errorTable,
// and anything else as a fault of the console.
func publicError(err error) *UserError {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg, _ := he.Message.(string)
		if msg == "" {
			msg = http.StatusText(he.Code)
			if he.Code >= 500 {
				msg = msgConsoleFault
			}
		}
		return &UserError{Status: he.Code, Message: msg, Cause: he.Internal}
	}
	for _, r := range errorTable {
		if r.match(err) {
			return &UserError{Status: r.status, Message: r.message(err), Cause: err}
		}
	}
	return &UserError{Status: http.StatusInternalServerError, Message: msgConsoleFault, Cause: err}
}

// handleError is the one path by which errors reach users: publicError
// decides the status and message; causes of 5xx answers are logged with
// the request id. htmx requests get a fragment, plain requests a full page.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.ErrorContext(ctx(c), "error after response was committed", slog.String("err", err.Error()))
		return
	}
	ue := publicError(err)
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
		rerr = s.render(c, status, views.ErrorPage(status, http.StatusText(status), msg))
	}
	if rerr != nil {
		s.log.ErrorContext(ctx(c), "render error page", slog.Any("err", rerr))
		_ = c.String(status, msg)
	}
}
