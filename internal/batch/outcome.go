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

// Reason says in English why a chunk did not plainly succeed, and what it
// means for its servers (Why is the same for display in any language).
func (c *Chunk) Reason() string { return c.Why().English() }

// Why says why a chunk did not plainly succeed, and what it means for its
// servers, as a catalog message; the zero Why when it succeeded.
func (c *Chunk) Why() Why {
	switch Failure(c.Failure) {
	case FailureRefused:
		return Why{"reason.chunk.refused", []any{"Code", c.ErrorCode, "Msg", c.ErrorMsg}}
	case FailureHTTP:
		args := []any{"Status", c.HTTPStatus, "StatusText", http.StatusText(c.HTTPStatus)}
		if c.ErrorCode != "" || c.ErrorMsg != "" {
			return Why{"reason.chunk.http_detail", append(args, "Code", c.ErrorCode, "Msg", c.ErrorMsg)}
		}
		return Why{"reason.chunk.http", args}
	case FailureRedirect:
		return Why{"reason.chunk.redirect", []any{"Status", c.HTTPStatus}}
	case FailureUndecodable:
		return Why{ID: "reason.chunk.undecodable"}
	case FailureTimeout:
		return Why{ID: "reason.chunk.timeout"}
	case FailureCut:
		return Why{ID: "reason.chunk.cut"}
	case FailureInterrupted:
		return Why{ID: "reason.chunk.interrupted"}
	case FailureUnreachable:
		return Why{ID: "reason.chunk.unreachable"}
	case FailureNotRecorded:
		return Why{ID: "reason.chunk.not_recorded"}
	case FailureInvalid:
		return Why{"reason.chunk.invalid", []any{"Msg", c.ErrorMsg}}
	case FailureShutdown:
		return Why{ID: "reason.chunk.shutdown"}
	}
	return Why{}
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
