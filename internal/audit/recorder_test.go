package audit_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/modelarts"
)

func TestRecorderRoundTrip(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	meta := metaFor("STOP", "batch-42", audit.Target{ID: srvA, Name: "gpu-node-01"}, audit.Target{ID: srvB, Name: "gpu-node-02"})
	call := stopCall(srvA, srvB)
	res := okResult("0a1b2c3d4e5f60718293a4b5c6d7e8f9")
	ref := ts.exchange(t, meta, call, res)

	req, resp, err := ts.Exchange(ctx, ref)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	ignore := cmpopts.IgnoreFields(audit.Entry{}, "ID", "CreatedAt", "PrevHash", "Hash")
	unexported := cmp.Options{cmpopts.IgnoreUnexported(audit.Entry{}), cmpopts.EquateEmpty()}
	wantReq := &audit.Entry{
		Kind:          audit.KindRequest,
		Actor:         alice,
		CorrelationID: "batch-42",
		Action:        "STOP",
		Targets:       []audit.Target{{ID: srvA, Name: "gpu-node-01"}, {ID: srvB, Name: "gpu-node-02"}},
		Method:        http.MethodPost,
		URL:           call.URL,
		RequestHeaders: http.Header{
			"Content-Type":  {"application/json;charset=UTF-8"},
			"X-Sdk-Date":    {"20260301T090000Z"},
			"Authorization": {audit.Redacted},
		},
		RequestBody:     call.Body,
		ResponseHeaders: http.Header{},
		ResponseBody:    []byte{},
	}
	if diff := cmp.Diff(wantReq, req, ignore, unexported); diff != "" {
		t.Errorf("request entry mismatch (-want +got):\n%s", diff)
	}
	wantResp := &audit.Entry{
		Kind:            audit.KindResponse,
		Actor:           alice,
		CorrelationID:   "batch-42",
		Action:          "STOP",
		Targets:         wantReq.Targets,
		Method:          http.MethodPost,
		URL:             call.URL,
		RequestHeaders:  http.Header{},
		RequestBody:     []byte{},
		Status:          200,
		ResponseHeaders: res.Header,
		ResponseBody:    res.Body,
		RequestID:       "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
		Duration:        120 * time.Millisecond,
		Outcome:         audit.OutcomeSuccess,
		RefID:           ref,
	}
	if diff := cmp.Diff(wantResp, resp, ignore, unexported); diff != "" {
		t.Errorf("response entry mismatch (-want +got):\n%s", diff)
	}
	if resp.ID <= req.ID || resp.PrevHash != req.Hash {
		t.Errorf("response %d (prev %s) does not follow request %d (hash %s)", resp.ID, resp.PrevHash, req.ID, req.Hash)
	}
	if !resp.CreatedAt.After(req.CreatedAt) {
		t.Errorf("response time %v not after request time %v", resp.CreatedAt, req.CreatedAt)
	}
	// Exchange from the response id gives the same pair.
	req2, resp2, err := ts.Exchange(ctx, resp.ID)
	if err != nil || req2.ID != req.ID || resp2.ID != resp.ID {
		t.Errorf("Exchange(response) = %v, %v, %v; want ids %d, %d", req2, resp2, err, req.ID, resp.ID)
	}
	verifyOK(t, ts.Store)
}

func TestRecorderOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		result      *modelarts.CallResult
		wantOutcome audit.Outcome
		wantStatus  int
		wantError   string
		wantReqID   string
	}{
		{
			name:        "2xx is success",
			result:      okResult("r1"),
			wantOutcome: audit.OutcomeSuccess, wantStatus: 200, wantReqID: "r1",
		},
		{
			name: "400 with ModelArts error is api_error",
			result: &modelarts.CallResult{Status: 400, Header: http.Header{"X-Request-Id": {"r2"}},
				Body: []byte(`{"error_code":"ModelArts.6404","error_msg":"LiteServer instance not found."}`)},
			wantOutcome: audit.OutcomeAPIError, wantStatus: 400, wantReqID: "r2",
		},
		{
			name:        "500 is api_error",
			result:      &modelarts.CallResult{Status: 500, Header: http.Header{"X-Request-Id": {"r3"}}, Body: []byte(`oops`)},
			wantOutcome: audit.OutcomeAPIError, wantStatus: 500, wantReqID: "r3",
		},
		{
			name:        "timeout is transport_error",
			result:      &modelarts.CallResult{Err: context.DeadlineExceeded, Duration: 30 * time.Second},
			wantOutcome: audit.OutcomeTransportError, wantError: "context deadline exceeded",
		},
		{
			name: "decode failure after 200 is transport_error",
			result: &modelarts.CallResult{Status: 200, Header: http.Header{"X-Request-Id": {"r4"}}, Body: []byte(`{"current":`),
				Err: errors.New("decode response: unexpected EOF")},
			wantOutcome: audit.OutcomeTransportError, wantStatus: 200, wantError: "decode response: unexpected EOF", wantReqID: "r4",
		},
		{
			name:        "no status and no error is transport_error",
			result:      &modelarts.CallResult{},
			wantOutcome: audit.OutcomeTransportError, wantError: "no HTTP response",
		},
		{
			name:        "nil result is transport_error",
			result:      nil,
			wantOutcome: audit.OutcomeTransportError, wantError: "no result was reported for the call",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestStore(t)
			ref := ts.exchange(t, metaFor("STOP", "c", audit.Target{ID: srvA}), stopCall(srvA), tt.result)
			_, resp, err := ts.Exchange(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			got := struct {
				Outcome audit.Outcome
				Status  int
				Error   string
				ReqID   string
			}{resp.Outcome, resp.Status, resp.Error, resp.RequestID}
			want := struct {
				Outcome audit.Outcome
				Status  int
				Error   string
				ReqID   string
			}{tt.wantOutcome, tt.wantStatus, tt.wantError, tt.wantReqID}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
			if tt.result != nil && !strings.EqualFold(string(resp.ResponseBody), string(tt.result.Body)) {
				t.Errorf("stored body %q, want exactly %q", resp.ResponseBody, tt.result.Body)
			}
		})
	}
}

func TestBeforeSendFailsClosed(t *testing.T) {
	t.Run("no call metadata", func(t *testing.T) {
		ts := newTestStore(t)
		_, err := ts.CallRecorder(audit.CallMeta{}).BeforeSend(context.Background(), stopCall(srvA))
		if !errors.Is(err, audit.ErrNoCallMeta) {
			t.Fatalf("BeforeSend without CallMeta = %v, want ErrNoCallMeta", err)
		}
		assertCount(t, ts, 0)
	})
	t.Run("commit fails", func(t *testing.T) {
		ts := newTestStore(t)
		ts.db.Write.Close() // the database cannot take the entry
		ref, err := ts.CallRecorder(metaFor("STOP", "c")).BeforeSend(context.Background(), stopCall(srvA))
		if err == nil {
			t.Fatalf("BeforeSend succeeded (ref %d) although the entry could not be committed", ref)
		}
		assertCount(t, ts, 0)
	})
	t.Run("cancelled context", func(t *testing.T) {
		ts := newTestStore(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := ts.CallRecorder(metaFor("STOP", "c")).BeforeSend(ctx, stopCall(srvA)); err == nil {
			t.Fatal("BeforeSend succeeded with a cancelled context")
		}
		assertCount(t, ts, 0)
	})
}

func TestAfterSendWithCancelledContextStillRecords(t *testing.T) {
	ts := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	rec := ts.CallRecorder(metaFor("STOP", "c"))
	ref, err := rec.BeforeSend(ctx, stopCall(srvA))
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the call timed out with its context
	if err := rec.AfterSend(ctx, ref, stopCall(srvA), &modelarts.CallResult{Err: context.Canceled}); err != nil {
		t.Fatalf("AfterSend after cancel: %v", err)
	}
	_, resp, err := ts.Exchange(context.Background(), ref)
	if err != nil || resp == nil || resp.Outcome != audit.OutcomeTransportError {
		t.Fatalf("answer = %+v, %v; want a transport_error response", resp, err)
	}
}

func TestAfterSendRejectsBadRef(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	rec := ts.CallRecorder(metaFor("STOP", "c"))
	if err := rec.AfterSend(ctx, 999, stopCall(srvA), okResult("x")); err == nil {
		t.Error("AfterSend for a request that does not exist succeeded")
	}
	ref, err := rec.BeforeSend(ctx, stopCall(srvA))
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.AfterSend(ctx, ref, stopCall(srvA), okResult("x")); err != nil {
		t.Fatal(err)
	}
	if err := rec.AfterSend(ctx, ref, stopCall(srvA), okResult("y")); err == nil {
		t.Error("a second response to the same request was accepted")
	}
	assertCount(t, ts, 2)
	verifyOK(t, ts.Store)
}

func TestCallTargetsIncludeServersNamedByTheCall(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	// CallMeta names only srvA; the client says the call also carries srvB.
	// The audit takes the ids from the call's Targets, never from its body or
	// URL: a body naming srvC that the client did not list adds nothing.
	ref := ts.exchange(t, metaFor("STOP", "c", audit.Target{ID: srvA, Name: "gpu-node-01"}), stopCall(srvA, srvB), okResult("r"))
	other := stopCall(srvA, srvC)
	other.Targets = []string{srvC}
	ref2 := ts.exchange(t, metaFor("STOP", "c2"), other, okResult("r2"))
	req, _, err := ts.Exchange(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]audit.Target{{ID: srvA, Name: "gpu-node-01"}, {ID: srvB}}, req.Targets); diff != "" {
		t.Errorf("batch targets mismatch (-want +got):\n%s", diff)
	}
	req2, _, err := ts.Exchange(ctx, ref2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]audit.Target{{ID: srvC}}, req2.Targets); diff != "" {
		t.Errorf("targets of the call mismatch (-want +got):\n%s", diff)
	}
}

func TestRecordEvent(t *testing.T) {
	tests := []struct {
		name       string
		kind       audit.EventKind
		detail     map[string]string
		wantErr    bool
		wantDetail map[string]string
	}{
		{name: "sign-in failure", kind: audit.EventSignInFailure, detail: map[string]string{"reason": "bad password"},
			wantDetail: map[string]string{"reason": "bad password"}},
		{name: "secret detail is redacted", kind: audit.EventUserPasswordChanged,
			detail:     map[string]string{"user": "bob", "new_password": "hunter2hunter2", "session_id": "abc"},
			wantDetail: map[string]string{"user": "bob", "new_password": audit.Redacted, "session_id": audit.Redacted}},
		{name: "access denied", kind: audit.EventAccessDenied, detail: map[string]string{"path": "/batches", "method": "POST"},
			wantDetail: map[string]string{"path": "/batches", "method": "POST"}},
		{name: "no detail", kind: audit.EventSignOut},
		{name: "call kinds are refused", kind: audit.KindRequest, wantErr: true},
		{name: "a kind added later is kept", kind: "user.enabled", detail: map[string]string{"user": "bob"},
			wantDetail: map[string]string{"user": "bob"}},
		{name: "malformed kinds are refused", kind: "Made Up!", wantErr: true},
		{name: "empty kind is refused", kind: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestStore(t)
			ctx := context.Background()
			err := ts.RecordEvent(ctx, tt.kind, alice, tt.detail)
			if tt.wantErr {
				if err == nil {
					t.Fatal("RecordEvent succeeded")
				}
				assertCount(t, ts, 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := ts.Get(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.kind || got.Action != string(tt.kind) || got.Actor != alice {
				t.Errorf("entry = kind %q action %q actor %+v", got.Kind, got.Action, got.Actor)
			}
			if diff := cmp.Diff(tt.wantDetail, got.Detail, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("detail mismatch (-want +got):\n%s", diff)
			}
			if _, _, err := ts.Exchange(ctx, got.ID); !errors.Is(err, audit.ErrNotACall) {
				t.Errorf("Exchange(event) error = %v, want ErrNotACall", err)
			}
		})
	}
}

func TestGetNotFound(t *testing.T) {
	ts := newTestStore(t)
	if _, err := ts.Get(context.Background(), 12345); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	if _, _, err := ts.Exchange(context.Background(), 12345); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("Exchange = %v, want ErrNotFound", err)
	}
}

func TestRecoverUnfinished(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	done := ts.exchange(t, metaFor("STOP", "c1", audit.Target{ID: srvA}), stopCall(srvA), okResult("r"))
	lost, err := ts.CallRecorder(metaFor("DELETE", "c2", audit.Target{ID: srvB, Name: "doomed"})).BeforeSend(ctx, stopCall(srvB))
	if err != nil {
		t.Fatal(err)
	}
	n, err := ts.RecoverUnfinished(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RecoverUnfinished = %d, %v; want 1", n, err)
	}
	req, ans, err := ts.Exchange(ctx, lost)
	if err != nil {
		t.Fatal(err)
	}
	if ans == nil || ans.Kind != audit.KindOutcomeUnknown || ans.Outcome != audit.OutcomeUnknown ||
		ans.RefID != lost || ans.Action != "DELETE" || ans.Actor != alice || ans.CorrelationID != "c2" {
		t.Fatalf("answer = %+v, want an outcome_unknown entry for %d", ans, lost)
	}
	if diff := cmp.Diff(req.Targets, ans.Targets); diff != "" {
		t.Errorf("targets mismatch (-request +unknown):\n%s", diff)
	}
	if n, err := ts.RecoverUnfinished(ctx); err != nil || n != 0 {
		t.Fatalf("second RecoverUnfinished = %d, %v; want 0", n, err)
	}
	if _, resp, _ := ts.Exchange(ctx, done); resp.Outcome != audit.OutcomeSuccess {
		t.Errorf("finished call's answer changed to %q", resp.Outcome)
	}
	assertCount(t, ts, 4)
	verifyOK(t, ts.Store)
}

func assertCount(t testing.TB, ts *testStore, want int64) {
	t.Helper()
	var n int64
	if err := ts.db.Read.Get(&n, `SELECT count(*) FROM audit_entries`); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("audit_entries holds %d entries, want %d", n, want)
	}
}

// TestCallDetail: the detail of an approved action's call (approval
// request, requester, approver) is on its request and response entries,
// survives the hash chain, and is found by the free-text filter by the
// approval request's id.
func TestCallDetail(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	meta := metaFor("DELETE", "batch-77", audit.Target{ID: srvA, Name: "gpu-node-01"})
	meta.Detail = map[string]string{
		audit.DetailApprovalRequest: "3f2a9c1e-0000-4000-8000-000000000001",
		audit.DetailRequester:       "ann",
		audit.DetailApprover:        "bob",
		"admin_password":            "must-not-be-stored",
	}
	ref := ts.exchange(t, meta, stopCall(srvA), okResult("0a1b2c3d4e5f60718293a4b5c6d7e8f9"))
	req, resp, err := ts.Exchange(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*audit.Entry{req, resp} {
		if e.Detail[audit.DetailRequester] != "ann" || e.Detail[audit.DetailApprover] != "bob" ||
			e.Detail[audit.DetailApprovalRequest] != "3f2a9c1e-0000-4000-8000-000000000001" {
			t.Errorf("%s entry detail = %v", e.Kind, e.Detail)
		}
		if e.Detail["admin_password"] != audit.Redacted {
			t.Errorf("%s entry keeps a secret detail: %q", e.Kind, e.Detail["admin_password"])
		}
	}
	found, _, err := ts.List(ctx, audit.Filter{Text: "3f2a9c1e-0000-4000-8000-000000000001"}, 0, 10)
	if err != nil || len(found) != 2 {
		t.Errorf("text filter by approval request found %d entries, %v; want the request and the response", len(found), err)
	}
	if res, err := ts.Verify(ctx); err != nil || !res.OK {
		t.Errorf("chain with call detail: %+v, %v", res, err)
	}
}
