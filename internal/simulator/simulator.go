package simulator

import (
	"container/heap"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// Defaults for Options fields left zero.
const (
	DefaultServers    = 40
	DefaultSeed       = 1
	DefaultTransition = 2 * time.Second
)

// Options configures a Simulator. The zero value is usable: 40 servers from
// seed 1, two-second transitions, any project, no authentication, no faults,
// the wall clock.
type Options struct {
	// Servers is the size of the generated fleet (default 40).
	Servers int
	// Seed makes the fleet (and the fault dice) reproducible (default 1).
	Seed int64
	// Transition is how long an action stays in its transient state before
	// it settles (default 2s).
	Transition time.Duration
	// ProjectID, when set, is the only project served; requests for another
	// project get 403 ModelArts.0103. Empty serves any project id.
	ProjectID string
	// AK and SK, when both set, make every request need a valid
	// SDK-HMAC-SHA256 signature with this key pair. Empty accepts anything.
	AK, SK string
	// Token, when set, is an IAM token that requests may carry in
	// X-Auth-Token instead of (or, without AK/SK, must carry) a signature.
	Token string
	// Faults is the initial fault configuration; see SetFaults.
	Faults Faults
	// Now is the simulator's clock (default time.Now). Transitions settle
	// lazily from timestamps against this clock, so a test can drive the
	// whole lifecycle with a fake clock and no sleeping.
	Now func() time.Time
	// Logger, when set, gets one line per request (method, path, status,
	// request id, injected fault). Secrets and bodies are never logged.
	Logger *slog.Logger
}

// String describes the options with the secret key redacted.
func (o Options) String() string {
	sk := ""
	if o.SK != "" {
		sk = "[REDACTED]"
	}
	token := ""
	if o.Token != "" {
		token = "[REDACTED]"
	}
	return fmt.Sprintf("Options{Servers: %d, Seed: %d, Transition: %s, ProjectID: %q, AK: %q, SK: %s, Token: %s, Faults: %+v}",
		o.Servers, o.Seed, o.Transition, o.ProjectID, o.AK, sk, token, o.Faults)
}

// GoString keeps the secret key out of %#v too.
func (o Options) GoString() string { return o.String() }

// LogValue keeps the secret key out of slog output.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// Simulator is an in-memory ModelArts DevServer API. It is an http.Handler:
// serve it with httptest.NewServer, http.Server or Command. All methods are
// safe for concurrent use.
type Simulator struct {
	opts Options
	now  func() time.Time

	mu      sync.Mutex
	byID    map[string]*server
	order   []*server // sorted by (create_at, id): the createTime ordering
	images  []modelarts.ServerImageResponse
	pending pendingHeap
	seq     uint64

	faults faultState
	reqs   requestLog

	closeOnce sync.Once
	done      chan struct{}
}

// server is one simulated DevServer and its in-flight action, if any.
type server struct {
	resp modelarts.ServerResponse
	op   *pendingOp
}

// pendingOp is an action in progress: the server is in op's transient state
// until settleAt, then moves to the success or failure state.
type pendingOp struct {
	srv      *server
	action   modelarts.BatchType
	settleAt time.Time
	fail     bool
	image    *modelarts.ServerImageResponse // new image on CHANGEOS success
	keyPair  string                         // key pair after an OS change/reinstall
	seq      uint64
	index    int
}

// New builds a simulator with its deterministic fleet.
func New(opts Options) *Simulator {
	if opts.Servers <= 0 {
		opts.Servers = DefaultServers
	}
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	if opts.Transition <= 0 {
		opts.Transition = DefaultTransition
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Simulator{
		opts:   opts,
		now:    now,
		byID:   make(map[string]*server, opts.Servers),
		images: buildImages(),
		done:   make(chan struct{}),
	}
	for _, resp := range generateFleet(opts.Seed, opts.Servers, s.images) {
		srv := &server{resp: resp}
		s.byID[resp.ID] = srv
		s.order = append(s.order, srv)
	}
	s.faults.init(opts.Seed, opts.Faults)
	return s
}

// Close releases requests held by the timeout fault. The simulator has no
// goroutines or timers of its own (transitions settle lazily), so nothing
// else needs stopping; it keeps answering requests after Close.
func (s *Simulator) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// Server returns a copy of the server with this id as the API would show it
// now, or false if there is no such server (or it has been deleted).
func (s *Simulator) Server(id string) (modelarts.ServerResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(s.now())
	srv, ok := s.byID[id]
	if !ok {
		return modelarts.ServerResponse{}, false
	}
	return cloneServer(srv.resp), true
}

// Servers returns copies of every server, oldest first (the list API's
// default createTime ASC order).
func (s *Simulator) Servers() []modelarts.ServerResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(s.now())
	out := make([]modelarts.ServerResponse, 0, len(s.order))
	for _, srv := range s.order {
		out = append(out, cloneServer(srv.resp))
	}
	return out
}

// Images returns the image catalog, including images added with AddImage.
func (s *Simulator) Images() []modelarts.ServerImageResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.images)
}

// SetServerName renames a server without any validation, so tests can plant
// hostile or unusual text. It does not count as a transition.
func (s *Simulator) SetServerName(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(s.now())
	srv, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("simulator: set server name: no server %q", id)
	}
	srv.resp.Name = name
	return nil
}

// AddImage adds an image to the catalog, or replaces the image with the same
// id. An empty ImageID gets a fresh UUID. Nothing is validated, so tests can
// plant hostile text.
func (s *Simulator) AddImage(img modelarts.ServerImageResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if img.ImageID == "" {
		s.seq++
		img.ImageID = newUUID(rand.New(rand.NewPCG(uint64(s.opts.Seed), s.seq^0xadd1)))
	}
	for i := range s.images {
		if s.images[i].ImageID == img.ImageID {
			s.images[i] = img
			return
		}
	}
	s.images = append(s.images, img)
}

// settleLocked moves every action whose delay has passed by now to its final
// state: the success state, the failure state for servers forced to fail, or
// removal for a successful DELETE. update_at becomes the settle time.
func (s *Simulator) settleLocked(now time.Time) {
	for len(s.pending) > 0 && !s.pending[0].settleAt.After(now) {
		op := heap.Pop(&s.pending).(*pendingOp)
		srv := op.srv
		srv.op = nil
		tr := modelarts.Transitions[op.action]
		srv.resp.UpdateAt = op.settleAt.UnixMilli()
		switch {
		case op.fail:
			srv.resp.Status = tr.Failure
		case op.action == modelarts.BatchDelete:
			s.removeLocked(srv)
		default:
			srv.resp.Status = tr.Success
			if op.image != nil {
				img := *op.image
				srv.resp.Image = &img
				srv.resp.ServerImageResponse = nil
			}
			if op.action.NeedsOSParams() {
				srv.resp.KeyPairName = op.keyPair
				if op.keyPair != "" {
					srv.resp.EndpointsResponse = []modelarts.Endpoints{{DevService: modelarts.DevServiceSSH, SSHKeys: []string{op.keyPair}}}
				} else {
					srv.resp.EndpointsResponse = nil
				}
			}
		}
	}
}

// startLocked puts srv into the transient state of action t at now and
// schedules it to settle after the transition delay.
func (s *Simulator) startLocked(srv *server, t modelarts.BatchType, now time.Time, image *modelarts.ServerImageResponse, keyPair string) {
	tr := modelarts.Transitions[t]
	srv.resp.Status = tr.Transient
	srv.resp.UpdateAt = now.UnixMilli()
	s.seq++
	op := &pendingOp{
		srv:      srv,
		action:   t,
		settleAt: now.Add(s.opts.Transition),
		fail:     s.faults.forcedToFail(srv.resp.ID, srv.resp.Name),
		image:    image,
		keyPair:  keyPair,
		seq:      s.seq,
	}
	srv.op = op
	heap.Push(&s.pending, op)
}

// removeLocked deletes srv from the fleet.
func (s *Simulator) removeLocked(srv *server) {
	delete(s.byID, srv.resp.ID)
	i, found := slices.BinarySearchFunc(s.order, srv, compareCreated)
	if found {
		s.order = slices.Delete(s.order, i, i+1)
		return
	}
	// Not where the order says (cannot happen unless create_at changed):
	// fall back to a scan.
	if j := slices.Index(s.order, srv); j >= 0 {
		s.order = slices.Delete(s.order, j, j+1)
	}
}

// compareCreated orders servers by create_at, then id.
func compareCreated(a, b *server) int {
	switch {
	case a.resp.CreateAt < b.resp.CreateAt:
		return -1
	case a.resp.CreateAt > b.resp.CreateAt:
		return 1
	case a.resp.ID < b.resp.ID:
		return -1
	case a.resp.ID > b.resp.ID:
		return 1
	}
	return 0
}

// pendingHeap orders in-flight actions by settle time, then start order.
type pendingHeap []*pendingOp

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if !h[i].settleAt.Equal(h[j].settleAt) {
		return h[i].settleAt.Before(h[j].settleAt)
	}
	return h[i].seq < h[j].seq
}
func (h pendingHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *pendingHeap) Push(x any) {
	op := x.(*pendingOp)
	op.index = len(*h)
	*h = append(*h, op)
}
func (h *pendingHeap) Pop() any {
	old := *h
	n := len(old)
	op := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return op
}

// cloneServer deep-copies a server so callers can neither see later changes
// nor change the simulator's state.
func cloneServer(s modelarts.ServerResponse) modelarts.ServerResponse {
	c := s
	if s.CloudServer != nil {
		v := *s.CloudServer
		c.CloudServer = &v
	}
	if s.ServerImageResponse != nil {
		v := *s.ServerImageResponse
		c.ServerImageResponse = &v
	}
	if s.Image != nil {
		v := *s.Image
		c.Image = &v
	}
	if s.ServerHps != nil {
		v := *s.ServerHps
		c.ServerHps = &v
	}
	if s.EndpointsResponse != nil {
		c.EndpointsResponse = make([]modelarts.Endpoints, len(s.EndpointsResponse))
		for i, e := range s.EndpointsResponse {
			e.AllowedAccessIPs = slices.Clone(e.AllowedAccessIPs)
			e.SSHKeys = slices.Clone(e.SSHKeys)
			if e.Extensions != nil {
				m := make(map[string]string, len(e.Extensions))
				for k, v := range e.Extensions {
					m[k] = v
				}
				e.Extensions = m
			}
			c.EndpointsResponse[i] = e
		}
	}
	if s.Endpoints != nil {
		c.Endpoints = make([]modelarts.EndpointsRes, len(s.Endpoints))
		for i, e := range s.Endpoints {
			e.AllowedAccessIPs = slices.Clone(e.AllowedAccessIPs)
			e.SSHKeys = slices.Clone(e.SSHKeys)
			c.Endpoints[i] = e
		}
	}
	c.Volumes = slices.Clone(s.Volumes)
	return c
}

// compile-time check: the simulator is an http.Handler.
var _ http.Handler = (*Simulator)(nil)
