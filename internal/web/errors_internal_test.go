package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// TestErrorTable: every domain error reaches people as a status and a
// message in words; 5xx messages too; never the error chain.
func TestErrorTable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("batch: list images: modelarts: list images: %w", err) }
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"unknown token", batch.ErrTokenUnknown, 422, "This preview is not valid"},
		{"expired token", fmt.Errorf("x: %w", batch.ErrTokenExpired), 422, "has expired"},
		{"nothing to send", batch.ErrNothingToSend, 422, "nothing was sent"},
		{"typed word", &batch.ConfirmationError{Word: "DELETE"}, 422, "type DELETE exactly"},
		{"mixed platforms", &batch.MixedPlatformError{Platforms: []string{"BMS/ARM", "ECS/X86"}}, 422, "(BMS/ARM, ECS/X86)"},
		{"no images", batch.ErrNoImages, 422, "offers no active image"},
		{"images unavailable", &batch.ImagesUnavailableError{Err: wrap(&modelarts.TransportError{Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")})},
			503, "ModelArts is unreachable"},
		{"shutting down", batch.ErrShuttingDown, 503, "shutting down"},
		{"unreachable", wrap(&modelarts.TransportError{Err: errors.New("dial tcp: connection refused")}), 503, "ModelArts is unreachable. Try again"},
		{"timed out", wrap(&modelarts.TransportError{Err: context.DeadlineExceeded, Written: true, Timeout: true}), 503, "did not answer in time"},
		{"credentials", wrap(&modelarts.APIError{HTTPStatus: 401, Code: "APIGW.0301"}), 503, "refused the console's credentials"},
		{"throttled", wrap(&modelarts.APIError{HTTPStatus: 429, Code: "APIGW.0308", RetryAfter: 3 * time.Second}), 503, "asked to wait 3s"},
		{"ModelArts fault", wrap(&modelarts.APIError{HTTPStatus: 502}), 503, "fault of its own"},
		{"redirect", wrap(&modelarts.RedirectError{Status: 307, Location: "https://elsewhere/"}), 503, "redirect"},
		{"echo 503 with words", echo.NewHTTPError(503, "The server list could not be read from ModelArts.").SetInternal(errors.New("dial tcp")), 503, "could not be read from ModelArts"},
		{"console fault", errors.New("sql: database is closed"), 500, "went wrong in the console itself"},
		{"approval not found", fmt.Errorf("approval: get: %w", approval.ErrNotFound), 404, "no approval request with this id"},
		{"own request", approval.ErrOwnRequest, 403, "another approver or admin must"},
		{"not the requester", approval.ErrNotRequester, 403, "Only the person who asked"},
		{"approval forbidden", approval.ErrForbidden, 403, "Your role does not allow this"},
		{"already decided", &approval.StateError{State: approval.StateDenied}, 409, "already denied"},
		{"short comment", &approval.ValidationError{Field: "comment", Message: "must be at least 5 characters"}, 422, "Comment must be at least 5"},
		{"short reason", &approval.ValidationError{Field: "reason", Message: "must be at least 5 characters"}, 422, "Reason must be at least 5"},
		{"approval not needed", approval.ErrNotRequired, 422, "does not need approval"},
		{"approval nothing to send", approval.ErrNothingToSend, 422, "nothing was sent"},
		{"approval not recorded", approval.ErrNotRecorded, 503, "audit log could not record"},
		{"approvals without key", approval.ErrNoKey, 503, "not set up to run approved requests"},
		{"approvals without executor", approval.ErrNoExecutor, 503, "not set up to run approved requests"},
		{"approval of a project removed", fmt.Errorf("%w: %q", approval.ErrProjectGone, "gy-infer"), 409, "a project the console no longer has"},
		{"user error", &UserError{Status: 502, Message: "ModelArts is unavailable."}, 502, "ModelArts is unavailable."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ue := publicError(englishLoc(), tt.err)
			if ue.Status != tt.status || !strings.Contains(ue.Message, tt.want) {
				t.Errorf("publicError = %d %q, want %d containing %q", ue.Status, ue.Message, tt.status, tt.want)
			}
			for _, leak := range []string{"dial tcp", "modelarts:", "batch:", "sql:"} {
				if strings.Contains(ue.Message, leak) {
					t.Errorf("message shows %q: %q", leak, ue.Message)
				}
			}
		})
	}
	if ue := CloudUnavailable(englishLoc(), errors.New("x")); ue.Status != http.StatusServiceUnavailable || ue.Message != "ModelArts is unavailable. Try again in a moment; if it lasts, tell an administrator." {
		t.Errorf("CloudUnavailable = %+v", ue)
	}
}

// TestErrorTableSpeaksChinese: the same errors reach a person who reads
// Simplified Chinese in Chinese (also a catalogMessage carried by an
// echo.HTTPError), with the values filled in.
func TestErrorTableSpeaksChinese(t *testing.T) {
	zh := i18n.MustLoad().Localizer(i18n.Chinese)
	tests := []struct {
		err  error
		want string
	}{
		{batch.ErrTokenExpired, "此预览已过期"},
		{&batch.ConfirmationError{Word: "DELETE"}, "准确输入 DELETE"},
		{&modelarts.TransportError{Err: errors.New("dial tcp: connection refused")}, "无法连接到 ModelArts"},
		{&modelarts.APIError{HTTPStatus: 400, Code: "ModelArts.7000"}, "（ModelArts.7000）"},
		{httpError(http.StatusNotFound, "err.audit.no_entry_id", "ID", 42), "#42"},
		{errCSRF, "此表单已过期"},
		{errors.New("sql: database is closed"), "控制台自身出现了问题"},
	}
	for _, tt := range tests {
		ue := publicError(zh, tt.err)
		if !strings.Contains(ue.Message, tt.want) {
			t.Errorf("publicError(zh, %v) = %q, want it to contain %q", tt.err, ue.Message, tt.want)
		}
		if en := publicError(englishLoc(), tt.err); en.Message == ue.Message || en.Status != ue.Status {
			t.Errorf("%v: English %d %q, Chinese %d %q", tt.err, en.Status, en.Message, ue.Status, ue.Message)
		}
	}
}
