package simulator

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// maxRecorded bounds the request log so a long-running standalone simulator
// does not grow without limit; the counters are never trimmed.
const maxRecorded = 10_000

// RecordedRequest is one request as the simulator received it, before
// authentication or fault injection.
type RecordedRequest struct {
	Time      time.Time
	Method    string
	Path      string
	RawQuery  string
	Header    http.Header
	Body      []byte
	RequestID string
	// Mutating is true for requests that can change state (every method but
	// GET, HEAD and OPTIONS), whether or not they succeeded.
	Mutating bool
	// Fault is the fault injected into this request, if any.
	Fault FaultKind
}

type requestLog struct {
	mu       sync.Mutex
	entries  []RecordedRequest
	total    int
	mutating int
}

func (l *requestLog) add(r RecordedRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if r.Mutating {
		l.mutating++
	}
	if len(l.entries) == maxRecorded {
		l.entries = slices.Delete(l.entries, 0, maxRecorded/10)
	}
	l.entries = append(l.entries, r)
}

// Requests returns the recorded requests, oldest first: every request
// received (up to the last 10,000), whatever its outcome, including ones
// that failed authentication or were hit by a fault. Headers are kept as
// sent (they may contain credentials: never log them).
func (s *Simulator) Requests() []RecordedRequest {
	s.reqs.mu.Lock()
	defer s.reqs.mu.Unlock()
	out := make([]RecordedRequest, len(s.reqs.entries))
	for i, r := range s.reqs.entries {
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// MutatingRequests returns how many state-changing requests (POST, PUT,
// DELETE, PATCH…) the simulator has received since it started or since
// ResetRequests, whatever their outcome. A test uses it to prove that
// nothing was sent.
func (s *Simulator) MutatingRequests() int {
	s.reqs.mu.Lock()
	defer s.reqs.mu.Unlock()
	return s.reqs.mutating
}

// RequestCount returns how many requests of any kind the simulator has
// received since it started or since ResetRequests.
func (s *Simulator) RequestCount() int {
	s.reqs.mu.Lock()
	defer s.reqs.mu.Unlock()
	return s.reqs.total
}

// ResetRequests clears the request log and both counters.
func (s *Simulator) ResetRequests() {
	s.reqs.mu.Lock()
	defer s.reqs.mu.Unlock()
	s.reqs.entries, s.reqs.total, s.reqs.mutating = nil, 0, 0
}

// isMutating reports whether a method can change state.
func isMutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
