package batch

import (
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/modelarts"
)

// TestReason checks the words a batch page shows beside a server that needs
// attention, above all that an unknown outcome is never called a refusal and
// says what the server actually did.
func TestReason(t *testing.T) {
	refused := &Chunk{Outcome: OutcomeAPIError, ErrorCode: "ModelArts.0050", ErrorMsg: "quota exceeded"}
	unknown := &Chunk{Outcome: OutcomeUnknown}
	ok := &Chunk{Outcome: OutcomeOK}
	tests := []struct {
		name  string
		chunk *Chunk
		st    ServerState
		want  []string
		never string
	}{
		{"refused", refused, ServerState{Current: modelarts.StatusRunning, Result: ResultRefused},
			[]string{"ModelArts refused the request", "ModelArts.0050", "quota exceeded", "Nothing was changed"}, "may have acted"},
		{"unknown, reached the goal", unknown, ServerState{Current: modelarts.StatusStopped, Result: ResultSucceeded},
			[]string{"Outcome of the request unknown", "reached STOPPED"}, "Nothing was changed"},
		{"unknown, settled elsewhere", unknown, ServerState{Current: modelarts.StatusRunning, Result: ResultUnknown},
			[]string{"may have acted", "RUNNING", "Check it before trying again"}, "Nothing was changed"},
		{"unknown, still moving", unknown, ServerState{Current: modelarts.StatusRunning, Result: ResultSending},
			[]string{"may have acted", "watching the server"}, "Nothing was changed"},
		{"accepted, stayed", ok, ServerState{Current: modelarts.StatusRunning, Result: ResultUnchanged},
			[]string{"accepted the request", "stayed RUNNING"}, ""},
		{"ended failed", ok, ServerState{Current: modelarts.Status("ERROR"), Result: ResultFailed},
			[]string{"Ended in ERROR"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := reason(modelarts.BatchType("STOP"), tc.chunk, tc.st)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("reason = %q, want it to contain %q", got, w)
				}
			}
			if tc.never != "" && strings.Contains(got, tc.never) {
				t.Errorf("reason = %q, must not contain %q", got, tc.never)
			}
		})
	}
}
