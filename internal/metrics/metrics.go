// Package metrics exposes what the console does as Prometheus metrics:
// HTTP requests, calls to ModelArts and IAM, batch chunks, audit appends,
// fleet walks, sign-ins, pending approvals, the audit chain's verification
// state and the Go runtime. The domain packages do not import it: each
// offers a small observer hook (modelarts.Observer, batch.Observer,
// audit.Store.ObserveAppend, web.RequestObserver) or is wrapped (fleet's
// Lister), and app wires this package into them. The metrics are served by
// Handler on their own listener (CONSOLE_METRICS_ADDR), never on the
// console's.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/devserver-console/console/internal/modelarts"
)

// namespace prefixes every metric of the console.
const namespace = "console"

// Callbacks bound how long a scrape waits for one of them.
const callbackTimeout = 5 * time.Second

// Metrics holds the console's collectors on a registry of its own (not the
// global one, so two consoles in one test process do not collide).
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	cloudCalls    *prometheus.CounterVec
	cloudDuration *prometheus.HistogramVec

	batchRequests *prometheus.CounterVec
	batchServers  *prometheus.CounterVec

	auditAppends  *prometheus.CounterVec
	auditDuration prometheus.Histogram

	fleetWalks    *prometheus.CounterVec
	fleetDuration *prometheus.HistogramVec
	fleetServers  *prometheus.GaugeVec

	signins *prometheus.CounterVec

	mu        sync.Mutex
	approvals func(context.Context) (map[string]int, error)
	chain     func(context.Context) (ChainState, error)
}

// New returns the console's metrics, with the Go runtime and process
// collectors registered.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by method, route pattern (\"unmatched\" when no route matched) and status code.",
	}, []string{"method", "route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method and route pattern.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "route"})
	m.cloudCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cloud_calls_total",
		Help: "HTTP exchanges with ModelArts and IAM (each retry counts), by project, service, operation and outcome " +
			"(ok, client_error, throttled, server_error, network_error, canceled).",
	}, []string{"project", "service", "operation", "outcome"})
	m.cloudDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "cloud_call_duration_seconds",
		Help:    "Duration of one exchange with ModelArts or IAM, by project, service and operation.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"project", "service", "operation"})
	m.batchRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "batch_requests_total",
		Help: "Batch action requests (one per chunk), by project, action and outcome (ok, api_error, unknown, not_sent).",
	}, []string{"project", "action", "outcome"})
	m.batchServers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "batch_servers_total",
		Help: "Servers covered by batch action requests, by project, action and the outcome of their request.",
	}, []string{"project", "action", "outcome"})
	m.auditAppends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "audit_appends_total",
		Help: "Appends to the audit log, by kind (request, response, outcome_unknown, event) and result (ok, error).",
	}, []string{"kind", "result"})
	m.auditDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "audit_append_duration_seconds",
		Help:    "Time until an audit append was durable, group commit included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	m.fleetWalks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "fleet_walks_total",
		Help: "Walks of a project's server list, by project and result (ok, error).",
	}, []string{"project", "result"})
	m.fleetDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "fleet_walk_duration_seconds",
		Help:    "Duration of one walk of a project's server list, all pages.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"project"})
	m.fleetServers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "fleet_servers",
		Help: "Servers the last successful walk of a project's list found.",
	}, []string{"project"})
	m.signins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "signin_total",
		Help: "Sign-in results: success, failure (wrong name or password), delayed (too many failures), mfa_failure (wrong second-factor code).",
	}, []string{"result"})
	for _, r := range []string{"success", "failure", "delayed", "mfa_failure"} {
		m.signins.WithLabelValues(r) // present at zero, so rate() works from the first failure
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.cloudCalls, m.cloudDuration,
		m.batchRequests, m.batchServers, m.auditAppends, m.auditDuration,
		m.fleetWalks, m.fleetDuration, m.fleetServers, m.signins,
		&callbackCollector{m: m},
	)
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

// Registry is the registry the metrics live on (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest implements web.RequestObserver.
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(took.Seconds())
}

// Cloud returns the observer for the ModelArts client and the IAM
// authenticator of one project.
func (m *Metrics) Cloud(project string) modelarts.Observer { return cloudObserver{m, project} }

type cloudObserver struct {
	m       *Metrics
	project string
}

func (o cloudObserver) ObserveCall(c modelarts.CallObservation) {
	o.m.cloudCalls.WithLabelValues(o.project, c.Service, c.Operation, c.Outcome).Inc()
	o.m.cloudDuration.WithLabelValues(o.project, c.Service, c.Operation).Observe(c.Duration.Seconds())
}

// Batches returns the batch observer of one project.
func (m *Metrics) Batches(project string) BatchObserver { return BatchObserver{m, project} }

// BatchObserver implements batch.Observer for one project.
type BatchObserver struct {
	m       *Metrics
	project string
}

// ChunkDone counts one batch request and the servers it covered.
func (o BatchObserver) ChunkDone(action modelarts.BatchType, outcome string, servers int) {
	o.m.batchRequests.WithLabelValues(o.project, string(action), outcome).Inc()
	o.m.batchServers.WithLabelValues(o.project, string(action), outcome).Add(float64(servers))
}

// AuditAppend observes one append to the audit log (for
// audit.Store.ObserveAppend). Security events are counted under "event".
func (m *Metrics) AuditAppend(kind string, took time.Duration, err error) {
	switch kind {
	case "request", "response", "outcome_unknown":
	default:
		kind = "event"
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.auditAppends.WithLabelValues(kind, result).Inc()
	m.auditDuration.Observe(took.Seconds())
}

// Lister is the fleet cache's source of servers (fleet.Lister).
type Lister interface {
	ListAllServers(ctx context.Context) ([]modelarts.ServerResponse, error)
}

// Walks wraps l so every walk of project's server list is counted and
// timed.
func (m *Metrics) Walks(project string, l Lister) Lister { return walkObserver{m, project, l} }

type walkObserver struct {
	m       *Metrics
	project string
	l       Lister
}

func (w walkObserver) ListAllServers(ctx context.Context) ([]modelarts.ServerResponse, error) {
	start := time.Now()
	servers, err := w.l.ListAllServers(ctx)
	w.m.fleetDuration.WithLabelValues(w.project).Observe(time.Since(start).Seconds())
	if err != nil {
		w.m.fleetWalks.WithLabelValues(w.project, "error").Inc()
		return servers, err
	}
	w.m.fleetWalks.WithLabelValues(w.project, "ok").Inc()
	w.m.fleetServers.WithLabelValues(w.project).Set(float64(len(servers)))
	return servers, nil
}

// SecurityEvent counts the sign-in results among the kinds of the entries
// appended to the audit log (signin.success, signin.failure, signin.locked,
// mfa.failure); other kinds are ignored. Every sign-in result is a security
// event in the audit log, so counting them there counts each once.
func (m *Metrics) SecurityEvent(kind string) {
	switch kind {
	case "signin.success":
		m.signins.WithLabelValues("success").Inc()
	case "signin.failure":
		m.signins.WithLabelValues("failure").Inc()
	case "signin.locked":
		m.signins.WithLabelValues("delayed").Inc()
	case "mfa.failure":
		m.signins.WithLabelValues("mfa_failure").Inc()
	}
}

// ChainState is what the latest verification of the audit log's hash chain
// found.
type ChainState struct {
	// Verified is false when the chain was never verified.
	Verified bool
	// OK is true when the latest verification found the chain intact.
	OK bool
	// At is when it ran.
	At time.Time
}

// SetAuditChain sets the callback read at every scrape for the audit
// chain's verification state (the audit package owns it).
func (m *Metrics) SetAuditChain(f func(context.Context) (ChainState, error)) {
	m.mu.Lock()
	m.chain = f
	m.mu.Unlock()
}

// SetPendingApprovals sets the callback read at every scrape for the number
// of approval requests waiting for a decision, per project (the approval
// package owns them). Until it is set the gauge is not exported.
func (m *Metrics) SetPendingApprovals(f func(context.Context) (map[string]int, error)) {
	m.mu.Lock()
	m.approvals = f
	m.mu.Unlock()
}

var (
	chainOKDesc = prometheus.NewDesc(namespace+"_audit_chain_ok",
		"1 when the latest verification found the audit log's hash chain intact, 0 when it found it broken; absent before the first verification.",
		nil, nil)
	chainAtDesc = prometheus.NewDesc(namespace+"_audit_chain_verified_timestamp_seconds",
		"When the audit log's hash chain was last verified (Unix time).", nil, nil)
	chainErrDesc = prometheus.NewDesc(namespace+"_audit_chain_state_errors_total",
		"Scrapes that could not read the audit chain's verification state.", nil, nil)
	approvalsDesc = prometheus.NewDesc(namespace+"_approvals_pending",
		"Approval requests waiting for a decision, per project.", []string{"project"}, nil)
	approvalsErrDesc = prometheus.NewDesc(namespace+"_approvals_pending_errors_total",
		"Scrapes that could not count the pending approval requests.", nil, nil)
)

// callbackCollector reads the values other packages own at scrape time.
type callbackCollector struct {
	m *Metrics

	mu           sync.Mutex
	chainErrs    float64
	approvalErrs float64
}

func (c *callbackCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{chainOKDesc, chainAtDesc, chainErrDesc, approvalsDesc, approvalsErrDesc} {
		ch <- d
	}
}

func (c *callbackCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	chain, approvals := c.m.chain, c.m.approvals
	c.m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), callbackTimeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if chain != nil {
		st, err := chain(ctx)
		switch {
		case err != nil:
			c.chainErrs++
		case st.Verified:
			ok := 0.0
			if st.OK {
				ok = 1
			}
			ch <- prometheus.MustNewConstMetric(chainOKDesc, prometheus.GaugeValue, ok)
			ch <- prometheus.MustNewConstMetric(chainAtDesc, prometheus.GaugeValue, float64(st.At.UnixNano())/1e9)
		}
		ch <- prometheus.MustNewConstMetric(chainErrDesc, prometheus.CounterValue, c.chainErrs)
	}
	if approvals != nil {
		counts, err := approvals(ctx)
		if err != nil {
			c.approvalErrs++
		}
		for project, n := range counts {
			ch <- prometheus.MustNewConstMetric(approvalsDesc, prometheus.GaugeValue, float64(n), project)
		}
		ch <- prometheus.MustNewConstMetric(approvalsErrDesc, prometheus.CounterValue, c.approvalErrs)
	}
}
