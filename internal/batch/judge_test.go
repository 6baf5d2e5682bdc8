package batch

import (
	"testing"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

func TestJudge(t *testing.T) {
	finished := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := &Service{settleGrace: 10 * time.Second}
	chunk := func(outcome string) *Chunk { return &Chunk{N: 1, Outcome: outcome, FinishedAt: finished} }
	type server struct {
		initial, current modelarts.Status
		gone             bool
	}
	tests := []struct {
		name   string
		action modelarts.BatchType
		chunk  *Chunk
		srv    server
		ack    modelarts.Status
		fresh  bool
		after  time.Duration // now - chunk finished
		want   Result
	}{
		{name: "NotSentYet", action: modelarts.BatchStop, chunk: chunk(OutcomePending),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, fresh: true, want: ResultWaiting},
		{name: "Sending", action: modelarts.BatchStop, chunk: chunk(OutcomeSending),
			srv: server{modelarts.StatusRunning, modelarts.StatusStopping, false}, fresh: true, want: ResultSending},
		{name: "Refused", action: modelarts.BatchStop, chunk: chunk(OutcomeAPIError),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, fresh: true, want: ResultRefused},
		{name: "NotSent", action: modelarts.BatchStop, chunk: chunk(OutcomeNotSent),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, fresh: true, want: ResultRefused},
		{name: "StaleSnapshot", action: modelarts.BatchStop, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusStopped, false}, fresh: false, want: ResultInProgress},
		{name: "Transient", action: modelarts.BatchStop, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusStopping, false}, fresh: true, want: ResultInProgress},
		{name: "Stopped", action: modelarts.BatchStop, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusStopped, false}, fresh: true, want: ResultSucceeded},
		{name: "StopFailed", action: modelarts.BatchStop, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusStopFailed, false}, fresh: true, want: ResultFailed},
		{name: "NotMovedWithinGrace", action: modelarts.BatchStop, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, fresh: true, after: time.Second, want: ResultInProgress},
		{name: "NotMovedAfterGrace", action: modelarts.BatchStop, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, fresh: true, after: time.Minute, want: ResultUnchanged},
		{name: "StartFromStartFailedNotYetMoving", action: modelarts.BatchStart, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusStartFailed, modelarts.StatusStartFailed, false}, fresh: true, after: time.Second, want: ResultInProgress},
		{name: "StartFromStartFailedFailedAgain", action: modelarts.BatchStart, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusStartFailed, modelarts.StatusStartFailed, false}, ack: modelarts.StatusStarting, fresh: true, after: time.Second, want: ResultFailed},
		{name: "RebootSeenRebooting", action: modelarts.BatchReboot, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, ack: modelarts.StatusRebooting, fresh: true, after: time.Second, want: ResultSucceeded},
		{name: "RebootNeverSeenMoving", action: modelarts.BatchReboot, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, fresh: true, after: time.Second, want: ResultInProgress},
		{name: "DeleteGone", action: modelarts.BatchDelete, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusStopped, modelarts.StatusDeleted, true}, fresh: true, want: ResultSucceeded},
		{name: "StopGone", action: modelarts.BatchStop, chunk: chunk(OutcomeOK),
			srv: server{modelarts.StatusRunning, modelarts.StatusDeleted, true}, fresh: true, want: ResultFailed},
		{name: "UnknownButStopped", action: modelarts.BatchStop, chunk: chunk(OutcomeUnknown),
			srv: server{modelarts.StatusRunning, modelarts.StatusStopped, false}, fresh: true, want: ResultSucceeded},
		{name: "UnknownNotMoved", action: modelarts.BatchStop, chunk: chunk(OutcomeUnknown),
			srv: server{modelarts.StatusRunning, modelarts.StatusRunning, false}, fresh: true, after: time.Minute, want: ResultUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := ServerState{Initial: tt.srv.initial, Current: tt.srv.current, Gone: tt.srv.gone}
			if got := s.judge(tt.action, tt.chunk, st, tt.ack, tt.fresh, finished.Add(tt.after)); got != tt.want {
				t.Errorf("judge = %s, want %s", got, tt.want)
			}
		})
	}
}
