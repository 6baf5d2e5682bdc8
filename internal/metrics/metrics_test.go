package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/devserver-console/console/internal/metrics"
	"github.com/devserver-console/console/internal/modelarts"
)

type lister struct {
	servers []modelarts.ServerResponse
	err     error
}

func (l lister) ListAllServers(context.Context) ([]modelarts.ServerResponse, error) {
	return l.servers, l.err
}

func TestWalksAreCountedByResultAndKeepTheLastSize(t *testing.T) {
	m := metrics.New()
	ok := m.Walks("bj", lister{servers: make([]modelarts.ServerResponse, 3)})
	bad := m.Walks("bj", lister{err: errors.New("unreachable")})
	for _, l := range []metrics.Lister{ok, bad, ok} {
		_, _ = l.ListAllServers(context.Background())
	}
	want := `
# HELP console_fleet_walks_total Walks of a project's server list, by project and result (ok, error).
# TYPE console_fleet_walks_total counter
console_fleet_walks_total{project="bj",result="error"} 1
console_fleet_walks_total{project="bj",result="ok"} 2
# HELP console_fleet_servers Servers the last successful walk of a project's list found.
# TYPE console_fleet_servers gauge
console_fleet_servers{project="bj"} 3
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "console_fleet_walks_total", "console_fleet_servers"); err != nil {
		t.Error(err)
	}
}

func TestUnmatchedRoutesShareOneSeries(t *testing.T) {
	m := metrics.New()
	m.ObserveRequest("GET", "", 404, time.Millisecond)
	m.ObserveRequest("GET", "", 404, time.Millisecond)
	m.ObserveRequest("GET", "/batches/:id", 200, time.Millisecond)
	want := `
# HELP console_http_requests_total HTTP requests answered, by method, route pattern ("unmatched" when no route matched) and status code.
# TYPE console_http_requests_total counter
console_http_requests_total{code="200",method="GET",route="/batches/:id"} 1
console_http_requests_total{code="404",method="GET",route="unmatched"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "console_http_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestCallbacksAreReadAtScrapeTime(t *testing.T) {
	m := metrics.New()
	// Before the callbacks are set, neither gauge is exported.
	if n, err := testutil.GatherAndCount(m.Registry(), "console_approvals_pending", "console_audit_chain_ok"); err != nil || n != 0 {
		t.Fatalf("before callbacks: %d series, %v; want none", n, err)
	}
	pending, chainOK, fail := 4, false, false
	at := time.Unix(1700000000, 0)
	m.SetPendingApprovals(func(context.Context) (map[string]int, error) {
		if fail {
			return nil, errors.New("database closed")
		}
		return map[string]int{"sim-north": pending, "sim-southwest": 1}, nil
	})
	m.SetAuditChain(func(context.Context) (metrics.ChainState, error) {
		if fail {
			return metrics.ChainState{}, errors.New("database closed")
		}
		return metrics.ChainState{Verified: true, OK: chainOK, At: at}, nil
	})
	want := `
# HELP console_approvals_pending Approval requests waiting for a decision, per project.
# TYPE console_approvals_pending gauge
console_approvals_pending{project="sim-north"} 4
console_approvals_pending{project="sim-southwest"} 1
# HELP console_audit_chain_ok 1 when the latest verification found the audit log's hash chain intact, 0 when it found it broken; absent before the first verification.
# TYPE console_audit_chain_ok gauge
console_audit_chain_ok 0
# HELP console_audit_chain_verified_timestamp_seconds When the audit log's hash chain was last verified (Unix time).
# TYPE console_audit_chain_verified_timestamp_seconds gauge
console_audit_chain_verified_timestamp_seconds 1.7e+09
`
	names := []string{"console_approvals_pending", "console_audit_chain_ok", "console_audit_chain_verified_timestamp_seconds"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	pending, chainOK = 0, true
	want = strings.NewReplacer(`console_approvals_pending{project="sim-north"} 4`, `console_approvals_pending{project="sim-north"} 0`, "console_audit_chain_ok 0", "console_audit_chain_ok 1").Replace(want)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// A callback that fails leaves its gauges out and counts the failure.
	fail = true
	if n, err := testutil.GatherAndCount(m.Registry(), names...); err != nil || n != 0 {
		t.Errorf("failing callbacks: %d series, %v; want none", n, err)
	}
	wantErrs := `
# HELP console_approvals_pending_errors_total Scrapes that could not count the pending approval requests.
# TYPE console_approvals_pending_errors_total counter
console_approvals_pending_errors_total 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(wantErrs), "console_approvals_pending_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestSignInResultsStartAtZeroAndCountOnlySignIns(t *testing.T) {
	m := metrics.New()
	for _, k := range []string{"signin.success", "signin.failure", "signin.failure", "signin.locked", "mfa.failure", "user.created", "request"} {
		m.SecurityEvent(k)
	}
	want := `
# HELP console_signin_total Sign-in results: success, failure (wrong name or password), delayed (too many failures), mfa_failure (wrong second-factor code).
# TYPE console_signin_total counter
console_signin_total{result="delayed"} 1
console_signin_total{result="failure"} 2
console_signin_total{result="mfa_failure"} 1
console_signin_total{result="success"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "console_signin_total"); err != nil {
		t.Error(err)
	}
}
