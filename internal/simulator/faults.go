package simulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Faults configures injected failures. Rates are probabilities in [0, 1],
// drawn per request from a random source seeded with Options.Seed; when
// several are set, one draw picks at most one fault, checked in the order
// error, throttle, timeout, drop, malformed.
type Faults struct {
	// Latency delays every response (before anything else happens).
	Latency time.Duration
	// ErrorRate answers 500 ModelArts.0050 "Internal server error". The
	// request is not applied.
	ErrorRate float64
	// ThrottleRate answers 429 APIGW.0308 with a Retry-After header. The
	// request is not applied.
	ThrottleRate float64
	// TimeoutRate holds the response until the client gives up (or the
	// simulator is closed, or ten minutes pass). The request IS applied
	// first, so for an action the client cannot know the outcome.
	TimeoutRate float64
	// DropRate closes the connection without any response. The request is
	// dropped before it is applied (a reset on the way in).
	DropRate float64
	// MalformedRate answers 200 with the real JSON body cut in half. The
	// request IS applied.
	MalformedRate float64
	// RetryAfter is the Retry-After of a throttled response, rounded up to
	// whole seconds (zero means 1s).
	RetryAfter time.Duration
	// FailServers lists server ids or names whose next actions end in the
	// *_FAILED state instead of succeeding. It is read when an action
	// starts.
	FailServers []string
}

// FaultKind is a kind of injected failure.
type FaultKind int

// Fault kinds, for FailNext.
const (
	FaultNone      FaultKind = iota
	FaultError               // 500 ModelArts.0050, not applied
	FaultThrottle            // 429 APIGW.0308 with Retry-After, not applied
	FaultTimeout             // applied, then no response until the client gives up
	FaultDrop                // connection closed with no response, not applied
	FaultMalformed           // applied, then 200 with a truncated JSON body
)

// String names the fault kind as the request log shows it.
func (k FaultKind) String() string {
	switch k {
	case FaultNone:
		return "none"
	case FaultError:
		return "error"
	case FaultThrottle:
		return "throttle"
	case FaultTimeout:
		return "timeout"
	case FaultDrop:
		return "drop"
	case FaultMalformed:
		return "malformed"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// maxHang bounds how long the timeout fault holds a request.
const maxHang = 10 * time.Minute

// faultState is the run-time fault configuration and its dice.
type faultState struct {
	mu    sync.Mutex
	cfg   Faults
	rng   *rand.Rand
	queue []oneShot
}

// oneShot is a FailNext entry: the next n requests (matching method, if set)
// get kind.
type oneShot struct {
	kind   FaultKind
	method string
	n      int
}

func (f *faultState) init(seed int64, cfg Faults) {
	f.rng = rand.New(rand.NewPCG(uint64(seed), 0xfa017))
	f.cfg = copyFaults(cfg)
}

// SetFaults replaces the fault configuration. It affects requests that
// arrive afterwards; pending one-shot faults from FailNext are kept.
func (s *Simulator) SetFaults(f Faults) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.cfg = copyFaults(f)
}

// Faults returns the current fault configuration.
func (s *Simulator) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return copyFaults(s.faults.cfg)
}

// FailNext makes the next n requests, whatever their method, fail with kind.
// One-shot faults are used before the configured rates and are consumed in
// the order they were added. FaultTimeout and FaultDrop need a real
// connection (httptest.NewServer, not an httptest.ResponseRecorder).
func (s *Simulator) FailNext(kind FaultKind, n int) {
	s.FailNextMethod("", kind, n)
}

// FailNextMethod is FailNext for requests with this HTTP method only (for
// example "POST" to hit the next batch action but not the reads before it).
// An empty method matches every request.
func (s *Simulator) FailNextMethod(method string, kind FaultKind, n int) {
	if n <= 0 || kind == FaultNone {
		return
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.queue = append(s.faults.queue, oneShot{kind: kind, method: strings.ToUpper(method), n: n})
}

// pick decides the fault for one request and its latency.
func (f *faultState) pick(method string) (FaultKind, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	latency := f.cfg.Latency
	for i := range f.queue {
		q := &f.queue[i]
		if q.method != "" && q.method != method {
			continue
		}
		kind := q.kind
		q.n--
		if q.n == 0 {
			f.queue = slices.Delete(f.queue, i, i+1)
		}
		return kind, latency
	}
	c := f.cfg
	if c.ErrorRate+c.ThrottleRate+c.TimeoutRate+c.DropRate+c.MalformedRate <= 0 {
		return FaultNone, latency
	}
	u := f.rng.Float64()
	for _, r := range []struct {
		rate float64
		kind FaultKind
	}{
		{c.ErrorRate, FaultError}, {c.ThrottleRate, FaultThrottle}, {c.TimeoutRate, FaultTimeout},
		{c.DropRate, FaultDrop}, {c.MalformedRate, FaultMalformed},
	} {
		if r.rate <= 0 {
			continue
		}
		if u < r.rate {
			return r.kind, latency
		}
		u -= r.rate
	}
	return FaultNone, latency
}

// retryAfterSeconds is the Retry-After header value for a throttled response.
func (f *faultState) retryAfterSeconds() int {
	f.mu.Lock()
	d := f.cfg.RetryAfter
	f.mu.Unlock()
	if d <= 0 {
		return 1
	}
	return int((d + time.Second - 1) / time.Second)
}

// forcedToFail reports whether an action on this server must end *_FAILED.
func (f *faultState) forcedToFail(id, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.cfg.FailServers {
		if v != "" && (v == id || v == name) {
			return true
		}
	}
	return false
}

func copyFaults(f Faults) Faults {
	f.FailServers = slices.Clone(f.FailServers)
	return f
}
