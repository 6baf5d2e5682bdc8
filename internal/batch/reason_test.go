package batch

import (
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/i18n"
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

// TestEveryReasonIsInBothCatalogs: each reason a chunk or a server can
// give is worded in every language's catalog.
func TestEveryReasonIsInBothCatalogs(t *testing.T) {
	cat := i18n.MustLoad()
	var whys []Why
	for f := range outcomeOf {
		c := &Chunk{Failure: f, Outcome: outcomeOf[f], HTTPStatus: 503, ErrorCode: "X", ErrorMsg: "y"}
		whys = append(whys, c.Why(), (&Chunk{Failure: f, HTTPStatus: 503}).Why())
		for _, r := range []Result{ResultSucceeded, ResultFailed, ResultUnchanged, ResultUnknown, ResultSending} {
			for _, gone := range []bool{false, true} {
				w := why(modelarts.BatchType("STOP"), c, ServerState{Current: modelarts.StatusRunning, Result: r, Gone: gone})
				whys = append(whys, w)
				for _, a := range w.Args {
					if n, ok := a.(Why); ok {
						whys = append(whys, n)
					}
				}
			}
		}
	}
	seen := 0
	for _, w := range whys {
		if w.ID == "" {
			continue
		}
		seen++
		for _, lang := range i18n.Languages {
			if !cat.IDs(lang)[w.ID] {
				t.Errorf("%s catalog lacks %q", lang, w.ID)
			}
		}
	}
	if seen < len(outcomeOf) {
		t.Fatalf("only %d reasons seen", seen)
	}
}
