package batch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/modelarts"
)

// Chunk outcomes, as stored in batch_chunks.outcome.
const (
	OutcomePending  = "pending"
	OutcomeSending  = "sending"
	OutcomeOK       = "ok"
	OutcomeAPIError = "api_error" // refused: a 4xx with a ModelArts error code; nothing changed
	OutcomeUnknown  = "unknown"   // ModelArts may have acted
	OutcomeNotSent  = "not_sent"  // nothing reached ModelArts
)

// Failure is the kind of a chunk's failure, stored in batch_chunks.failure
// so that no decision is read back out of a sentence.
type Failure string

// Failure kinds.
const (
	FailureNone        Failure = ""
	FailureRefused     Failure = "refused"      // a 4xx answer with a ModelArts error code
	FailureHTTP        Failure = "http"         // any other answer that is not 2xx: 5xx, 502/503/504, a 4xx without a code
	FailureRedirect    Failure = "redirect"     // a 3xx, not followed
	FailureUndecodable Failure = "undecodable"  // a 2xx whose body could not be read
	FailureTimeout     Failure = "timeout"      // the request was written; no answer in time
	FailureCut         Failure = "cut"          // the connection failed after the request was written
	FailureUnreachable Failure = "unreachable"  // connection refused, DNS failure: nothing was written
	FailureNotRecorded Failure = "not_recorded" // the audit log could not record the request
	FailureInvalid     Failure = "invalid"      // the client's last check refused the request
	FailureShutdown    Failure = "shutdown"     // the console stopped before sending it
	FailureInterrupted Failure = "interrupted"  // the console stopped while it was on its way
)

// outcomeOf is the one classification table: the kind of failure decides
// the chunk's outcome. Only a refusal means nothing changed; every failure
// after the request may have reached ModelArts is "unknown".
var outcomeOf = map[Failure]string{
	FailureNone:        OutcomeOK,
	FailureRefused:     OutcomeAPIError,
	FailureHTTP:        OutcomeUnknown,
	FailureRedirect:    OutcomeUnknown,
	FailureUndecodable: OutcomeUnknown,
	FailureTimeout:     OutcomeUnknown,
	FailureCut:         OutcomeUnknown,
	FailureInterrupted: OutcomeUnknown,
	FailureUnreachable: OutcomeNotSent,
	FailureNotRecorded: OutcomeNotSent,
	FailureInvalid:     OutcomeNotSent,
	FailureShutdown:    OutcomeNotSent,
}

// chunkResult is how one request ended.
type chunkResult struct {
	outcome        string
	failure        Failure
	httpStatus     int
	errorCode      string
	errorMsg       string
	requestID      string
	transportError string
}

// failureOf names the kind of err, the error BatchAction returned (nil for
// success), by HTTP status and error type.
func failureOf(err error) Failure {
	var (
		apiErr   *modelarts.APIError
		redirect *modelarts.RedirectError
		decode   *modelarts.DecodeError
		te       *modelarts.TransportError
		verrs    modelarts.ValidationErrors
	)
	switch {
	case err == nil:
		return FailureNone
	case errors.Is(err, modelarts.ErrNotRecorded):
		return FailureNotRecorded
	case errors.As(err, &verrs):
		return FailureInvalid
	case errors.As(err, &apiErr):
		if apiErr.HTTPStatus >= 400 && apiErr.HTTPStatus <= 499 && apiErr.Code != "" {
			return FailureRefused
		}
		return FailureHTTP
	case errors.As(err, &redirect):
		return FailureRedirect
	case errors.As(err, &decode):
		return FailureUndecodable
	case errors.As(err, &te):
		switch {
		case !te.Written:
			return FailureUnreachable
		case errors.Is(te, context.Canceled):
			return FailureInterrupted
		case te.Timeout:
			return FailureTimeout
		}
		return FailureCut
	case errors.Is(err, context.DeadlineExceeded):
		return FailureTimeout
	case errors.Is(err, context.Canceled):
		return FailureInterrupted
	}
	// An error the client does not type cannot prove nothing was sent.
	return FailureCut
}

// classify turns the BatchAction result into a chunk outcome.
func classify(err error, took time.Duration) chunkResult {
	f := failureOf(err)
	r := chunkResult{outcome: outcomeOf[f], failure: f}
	var (
		apiErr   *modelarts.APIError
		redirect *modelarts.RedirectError
		decode   *modelarts.DecodeError
	)
	switch {
	case f == FailureNone:
		r.httpStatus = http.StatusOK
	case errors.As(err, &apiErr):
		r.httpStatus, r.errorCode, r.errorMsg, r.requestID = apiErr.HTTPStatus, apiErr.Code, apiErr.Message, apiErr.RequestID
	case errors.As(err, &redirect):
		r.httpStatus, r.requestID = redirect.Status, redirect.RequestID
		r.transportError = redirect.Error()
	case errors.As(err, &decode):
		r.httpStatus, r.requestID = decode.Status, decode.RequestID
		r.transportError = decode.Error()
	case f == FailureNotRecorded:
		r.transportError = "the audit log could not record the request, so the console did not send it"
	case f == FailureInvalid:
		var verrs modelarts.ValidationErrors
		errors.As(err, &verrs)
		r.errorMsg = verrs.Error()
	case f == FailureTimeout:
		r.transportError = fmt.Sprintf("no answer within %s (%v)", roundDuration(took), err)
	default:
		r.transportError = err.Error()
	}
	return r
}

// Reason says in words why a chunk did not plainly succeed, and what it
// means for its servers.
func (c *Chunk) Reason() string {
	switch Failure(c.Failure) {
	case FailureRefused:
		return fmt.Sprintf("ModelArts refused the request (%s: %s); nothing was changed", c.ErrorCode, c.ErrorMsg)
	case FailureHTTP:
		s := fmt.Sprintf("ModelArts answered HTTP %d %s", c.HTTPStatus, http.StatusText(c.HTTPStatus))
		if c.ErrorCode != "" || c.ErrorMsg != "" {
			s += fmt.Sprintf(" (%s %s)", c.ErrorCode, c.ErrorMsg)
		}
		return s + "; the outcome is unknown: ModelArts may have acted"
	case FailureRedirect:
		return fmt.Sprintf("ModelArts answered with a redirect (HTTP %d), which the console does not follow; the outcome is unknown", c.HTTPStatus)
	case FailureUndecodable:
		return "ModelArts accepted the request but its answer could not be read; the outcome is unknown: ModelArts may have acted"
	case FailureTimeout:
		return "no answer in time; the outcome is unknown: ModelArts may have acted"
	case FailureCut:
		return "the connection failed after the request was sent; the outcome is unknown: ModelArts may have acted"
	case FailureInterrupted:
		return "the console stopped while the request was on its way; the outcome is unknown: ModelArts may have acted"
	case FailureUnreachable:
		return "ModelArts could not be reached (connection refused or name not found); nothing was sent"
	case FailureNotRecorded:
		return "the audit log could not record the request, so the console did not send it"
	case FailureInvalid:
		return "the request was refused by the console's last check (" + c.ErrorMsg + "); nothing was sent"
	case FailureShutdown:
		return "the console stopped before this request was sent; nothing was sent"
	}
	return ""
}

// auditMeta is what the audit log records of one chunk's call.
func (j *job) auditMeta(part []Target) audit.CallMeta {
	targets := make([]audit.Target, len(part))
	for i, t := range part {
		targets[i] = audit.Target{ID: t.ID, Name: t.Name}
	}
	return audit.CallMeta{Actor: j.actor, CorrelationID: j.id, Action: string(j.action), Targets: targets,
		Detail: j.detail, Project: j.project}
}
