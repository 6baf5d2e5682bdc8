package batch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/devserver-console/console/internal/modelarts"
)

// TestClassificationTable has one row per row of outcomeOf: an error as
// BatchAction returns it (HTTP status × error kind) and the outcome.
func TestClassificationTable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("modelarts: batch STOP on 1 server(s): %w", err) }
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	tests := []struct {
		name    string
		err     error
		failure Failure
		outcome string
	}{
		{"2xx", nil, FailureNone, OutcomeOK},
		{"400 with code", wrap(&modelarts.APIError{HTTPStatus: 400, Code: "ModelArts.6404", Message: "not found"}), FailureRefused, OutcomeAPIError},
		{"429 with code", wrap(&modelarts.APIError{HTTPStatus: 429, Code: "APIGW.0308"}), FailureRefused, OutcomeAPIError},
		{"403 without code", wrap(&modelarts.APIError{HTTPStatus: 403}), FailureHTTP, OutcomeUnknown},
		{"500 with code", wrap(&modelarts.APIError{HTTPStatus: 500, Code: "ModelArts.0050"}), FailureHTTP, OutcomeUnknown},
		{"502", wrap(&modelarts.APIError{HTTPStatus: 502}), FailureHTTP, OutcomeUnknown},
		{"503", wrap(&modelarts.APIError{HTTPStatus: 503}), FailureHTTP, OutcomeUnknown},
		{"504", wrap(&modelarts.APIError{HTTPStatus: 504, Code: "APIGW.0203", Message: "Backend timeout"}), FailureHTTP, OutcomeUnknown},
		{"3xx", wrap(&modelarts.RedirectError{Status: 307, Location: "https://elsewhere/"}), FailureRedirect, OutcomeUnknown},
		{"2xx unparseable", wrap(&modelarts.DecodeError{Status: 200, Err: errors.New("unexpected EOF")}), FailureUndecodable, OutcomeUnknown},
		{"timeout after writing", wrap(&modelarts.TransportError{Err: context.DeadlineExceeded, Written: true, Timeout: true}), FailureTimeout, OutcomeUnknown},
		{"cut after writing", wrap(&modelarts.TransportError{Err: errors.New("EOF"), Written: true}), FailureCut, OutcomeUnknown},
		{"cancelled after writing", wrap(&modelarts.TransportError{Err: context.Canceled, Written: true}), FailureInterrupted, OutcomeUnknown},
		{"refused connection", wrap(&modelarts.TransportError{Err: dial}), FailureUnreachable, OutcomeNotSent},
		{"DNS failure", wrap(&modelarts.TransportError{Err: &net.DNSError{Err: "no such host", Name: "x"}}), FailureUnreachable, OutcomeNotSent},
		{"dial timeout", wrap(&modelarts.TransportError{Err: context.DeadlineExceeded, Timeout: true}), FailureUnreachable, OutcomeNotSent},
		{"audit refused", wrap(fmt.Errorf("%w: db locked", modelarts.ErrNotRecorded)), FailureNotRecorded, OutcomeNotSent},
		{"invalid", wrap(modelarts.ValidationErrors{{Field: "servers", Message: "empty"}}), FailureInvalid, OutcomeNotSent},
		{"untyped error", errors.New("something odd"), FailureCut, OutcomeUnknown},
	}
	seen := map[Failure]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := classify(tt.err, 0)
			if r.failure != tt.failure || r.outcome != tt.outcome {
				t.Errorf("classify = %s/%s, want %s/%s", r.failure, r.outcome, tt.failure, tt.outcome)
			}
			c := &Chunk{Outcome: r.outcome, Failure: r.failure, HTTPStatus: r.httpStatus, ErrorCode: r.errorCode, ErrorMsg: r.errorMsg}
			if tt.err != nil && c.Reason() == "" {
				t.Errorf("no reason in words for %s", tt.failure)
			}
		})
		seen[tt.failure] = true
	}
	for f := range outcomeOf {
		if !seen[f] && f != FailureShutdown {
			t.Errorf("no test row for failure %q", f)
		}
	}
}
