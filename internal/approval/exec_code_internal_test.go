package approval

import (
	"errors"
	"fmt"
	"testing"

	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// TestExecCode: every reason an approved request can run no batch has its
// code, and every code is worded in both catalogs.
func TestExecCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: %q", ErrProjectGone, "bj"), ExecProjectGone},
		{ErrRequesterGone, ExecRequesterGone},
		{fmt.Errorf("%w, so nothing was sent: %w", ErrFleetUnreadable, errors.New("x")), ExecFleetUnreadable},
		{fmt.Errorf("prepare: %w", batch.ErrNothingToSend), ExecNothingToSend},
		{batch.ErrShuttingDown, ExecShuttingDown},
		{fmt.Errorf("send: %w", &modelarts.TransportError{Err: errors.New("dial tcp: refused")}), ExecCloud},
		{&modelarts.APIError{HTTPStatus: 401, Code: "APIGW.0301"}, ExecCloud},
		{errors.New("sql: database is closed"), ExecOther},
	}
	for _, tt := range tests {
		if got := execCode(tt.err); got != tt.want {
			t.Errorf("execCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	cat := i18n.MustLoad()
	for _, code := range ExecCodes {
		for _, lang := range i18n.Languages {
			if !cat.IDs(lang)["approvals.exec."+code] {
				t.Errorf("%s catalog lacks approvals.exec.%s", lang, code)
			}
		}
	}
}
