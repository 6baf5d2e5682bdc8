package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// TestCloudFailureKind: one row per way a fleet walk fails, wrapped as the
// cache and the client wrap them.
func TestCloudFailureKind(t *testing.T) {
	wrap := func(err error) error {
		return fmt.Errorf("fleet: list servers: %w", fmt.Errorf("modelarts: list all servers (offset 0): %w", err))
	}
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "http://x/v1/p/dev-servers", Err: err} }
	refused := urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	tests := []struct {
		name string
		err  error
		kind string
		wait time.Duration
	}{
		{"connection refused", refused, cloudUnreachable, 0},
		{"DNS failure", urlErr(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "modelarts.example"}}), cloudUnreachable, 0},
		{"connection cut before an answer", urlErr(io.EOF), cloudUnreachable, 0},
		{"deadline", context.DeadlineExceeded, cloudTimeout, 0},
		{"client timeout", urlErr(&timeoutErr{}), cloudTimeout, 0},
		{"401", &modelarts.APIError{HTTPStatus: 401, Code: modelarts.CodeAuthFailed}, cloudCredentials, 0},
		{"403", &modelarts.APIError{HTTPStatus: 403, Code: "ModelArts.0203"}, cloudCredentials, 0},
		{"429 with a wait", &modelarts.APIError{HTTPStatus: 429, Code: modelarts.CodeThrottled, RetryAfter: 30 * time.Second}, cloudThrottled, 30 * time.Second},
		{"500", &modelarts.APIError{HTTPStatus: 500, Code: "ModelArts.0050"}, cloudFault, 0},
		{"504 gateway", &modelarts.APIError{HTTPStatus: 504}, cloudFault, 0},
		{"unreadable body", &json.SyntaxError{Offset: 3}, cloudFault, 0},
		{"a 400 to a list call", &modelarts.APIError{HTTPStatus: 400, Code: modelarts.CodeParamInvalid}, consoleFault, 0},
		{"anything else", errors.New("snapshot corrupted"), consoleFault, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, wait := cloudFailureKind(wrap(tt.err))
			if kind != tt.kind || wait != tt.wait {
				t.Errorf("kind %q, wait %s; want %q, %s", kind, wait, tt.kind, tt.wait)
			}
		})
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// TestOneCloudClassification: the fleet page's panel and the error table's
// messages name the same failure for the same error, because both come from
// classifyCloud.
func TestOneCloudClassification(t *testing.T) {
	wrap := func(err error) error {
		return fmt.Errorf("batch: execute: %w", fmt.Errorf("modelarts: batch action: %w", err))
	}
	tests := []struct {
		name     string
		err      error
		kind     string // classifyCloud
		pageKind string // the fleet page's panel
		words    string // in the error table's message
	}{
		{"transport timeout", &modelarts.TransportError{Err: context.DeadlineExceeded, Timeout: true}, cloudTimeout, cloudTimeout, "did not answer in time"},
		{"transport refused", &modelarts.TransportError{Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, cloudUnreachable, cloudUnreachable, "is unreachable"},
		{"redirect", &modelarts.RedirectError{Status: 307, Location: "https://elsewhere/"}, cloudRedirect, consoleFault, "redirect"},
		{"unreadable 200", &modelarts.DecodeError{Status: 200, Err: &json.SyntaxError{Offset: 1}}, cloudUnreadable, cloudFault, "could not read"},
		{"credentials", &modelarts.APIError{HTTPStatus: 403}, cloudCredentials, cloudCredentials, "credentials"},
		{"throttled by code", &modelarts.APIError{HTTPStatus: 400, Code: modelarts.CodeThrottled, RetryAfter: 2 * time.Second}, cloudThrottled, cloudThrottled, "asked to wait 2s"},
		{"fault", &modelarts.APIError{HTTPStatus: 503}, cloudFault, cloudFault, "fault of its own"},
		{"refused", &modelarts.APIError{HTTPStatus: 400, Code: "ModelArts.7000"}, cloudRefused, consoleFault, "refused the request (ModelArts.7000). Nothing was changed."},
		{"other", errors.New("disk full"), consoleFault, consoleFault, "ModelArts is unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrap(tt.err)
			if got := classifyCloud(err).Kind; got != tt.kind {
				t.Errorf("classifyCloud kind %q, want %q", got, tt.kind)
			}
			if got, _ := cloudFailureKind(err); got != tt.pageKind {
				t.Errorf("page kind %q, want %q", got, tt.pageKind)
			}
			if got := cloudMessage(englishLoc(), err); !strings.Contains(got, tt.words) {
				t.Errorf("message %q does not contain %q", got, tt.words)
			}
		})
	}
}
