// Package approval is the console's two-person rule. When the Policy covers
// an action, confirming it records a Request instead of sending anything; an
// approver or admin other than the requester approves it (which runs the
// batch at once through an Executor) or denies it, the requester may
// withdraw it, and an undecided request expires. The state moves once,
// pending → approved | denied | withdrawn | expired, by a conditional UPDATE,
// so concurrent decisions yield exactly one. Every rule is enforced here,
// whatever a page shows.
//
// The secrets of an OS change (admin password, user data) are kept sealed
// (internal/secrets) while the request is pending and erased when it leaves
// that state. Each transition is recorded in the audit log
// (approval.requested, .approved, .denied, .withdrawn, .expired) and, when
// configured, sent to the outgoing webhook (internal/notify).
package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/notify"
	"github.com/devserver-console/console/internal/secrets"
	"github.com/devserver-console/console/internal/store"
)

// State is where a request is in its life.
type State string

// States. Only StatePending ever changes, and only once.
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateDenied    State = "denied"
	StateWithdrawn State = "withdrawn"
	StateExpired   State = "expired"
)

// Label is the state as pages show it ("Pending", "Approved", ...).
func (s State) Label() string {
	switch s {
	case StatePending:
		return "Pending"
	case StateApproved:
		return "Approved"
	case StateDenied:
		return "Denied"
	case StateWithdrawn:
		return "Withdrawn"
	case StateExpired:
		return "Expired"
	}
	return string(s)
}

// Audit event kinds of the request's transitions.
const (
	EventRequested = audit.EventApprovalRequested
	EventApproved  = audit.EventApprovalApproved
	EventDenied    = audit.EventApprovalDenied
	EventWithdrawn = audit.EventApprovalWithdrawn
	EventExpired   = audit.EventApprovalExpired
)

// EventKinds lists the audit event kinds this package records.
var EventKinds = []audit.EventKind{EventRequested, EventApproved, EventDenied, EventWithdrawn, EventExpired}

// Limits on what people type.
const (
	MinReason  = 3
	MaxReason  = 500
	MaxComment = 1000
)

// Errors. The web layer maps them to responses and messages.
var (
	// ErrNotFound: no such request, or one the viewer may not see.
	ErrNotFound = errors.New("approval: no such request")
	// ErrForbidden: the user's role may not do this (only approvers and
	// admins decide; only operators and admins ask).
	ErrForbidden = errors.New("approval: your role may not do this")
	// ErrOwnRequest: nobody decides their own request, admins included.
	ErrOwnRequest = errors.New("approval: you cannot decide your own request; another approver or admin must")
	// ErrNotRequester: only the requester withdraws a request.
	ErrNotRequester = errors.New("approval: only the requester can withdraw a request")
	// ErrNotPending is wrapped by *StateError: the request was already
	// decided, withdrawn or expired.
	ErrNotPending = errors.New("approval: the request is no longer pending")
	// ErrNotRequired: the policy does not cover this action; send it directly.
	ErrNotRequired = errors.New("approval: this action does not need approval")
	// ErrNothingToSend: the request names no server to send the action to.
	ErrNothingToSend = errors.New("approval: no server to send the action to")
	// ErrNoKey: the service has no key to seal secrets with.
	ErrNoKey = errors.New("approval: no secret key is configured to keep the OS parameters")
	// ErrNoExecutor: the service cannot run approved requests.
	ErrNoExecutor = errors.New("approval: no executor is configured to run approved requests")
	// ErrNotRecorded: the audit log could not record the step, so it was
	// not taken (or, for a new request, it was withdrawn again).
	ErrNotRecorded = errors.New("approval: the audit log could not record this step, so nothing was done")
)

// StateError says a request is no longer pending, and what it is instead.
type StateError struct{ State State }

func (e *StateError) Error() string {
	return fmt.Sprintf("approval: the request is already %s", e.State)
}

// Unwrap makes errors.Is(err, ErrNotPending) true.
func (e *StateError) Unwrap() error { return ErrNotPending }

// ValidationError is a field someone typed that cannot be used. Message
// says the problem in English (for logs), Code names it stably and Params
// holds the values it names, so a page can say it in its own language.
type ValidationError struct {
	Field   string // "reason" or "comment"
	Message string
	Code    string // one of the Text* codes
	Params  map[string]any
}

// Codes of a reason's or comment's problem (ValidationError.Code).
const (
	TextInvalid  = "invalid"   // not valid UTF-8
	TextControl  = "control"   // control characters
	TextRequired = "required"  // empty
	TextTooShort = "too_short" // Params: Min
	TextTooLong  = "too_long"  // Params: Max, Len
)

func (e *ValidationError) Error() string { return "approval: " + e.Field + ": " + e.Message }

// ParamsError carries problems found in the OS parameters of a request.
type ParamsError struct{ Errs modelarts.ValidationErrors }

func (e *ParamsError) Error() string { return "approval: " + e.Errs.Error() }

// Meta is what the audit log needs about the browser that acted.
type Meta struct {
	ClientIP  string
	UserAgent string
}

// Server is a server a request will be sent to, with its state when it was
// asked for.
type Server struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Status     modelarts.Status     `json:"status"`
	ServerType modelarts.ServerType `json:"server_type,omitempty"`
	Arch       modelarts.Arch       `json:"arch,omitempty"`
	Flavor     string               `json:"flavor,omitempty"`
}

// Skip is a selected server that was left out when the request was made.
type Skip struct {
	ID     string           `json:"id"`
	Name   string           `json:"name,omitempty"`
	Status modelarts.Status `json:"status,omitempty"`
	Reason string           `json:"reason"`
}

// Params is what anyone may see of the OS parameters: never the password
// or the user data.
type Params struct {
	ImageID        string `json:"image_id,omitempty"`
	ImageName      string `json:"image_name,omitempty"`
	KeyPairName    string `json:"key_pair_name,omitempty"`
	PasswordSet    bool   `json:"admin_pass_set,omitempty"`
	UserDataBytes  int    `json:"user_data_bytes,omitempty"`
	UserDataSHA256 string `json:"user_data_sha256,omitempty"`
}

// Empty reports whether there are no OS parameters.
func (p Params) Empty() bool { return p == Params{} }

// Request is an approval request as stored.
type Request struct {
	ID string
	// Project is the console project (CONSOLE_PROJECTS_FILE) whose servers
	// the request is for; its batch runs there and nowhere else.
	Project       string
	RequesterID   int64
	RequesterName string
	Action        modelarts.BatchType
	Servers       []Server
	Skipped       []Skip
	Params        Params
	// SecretsHeld reports whether sealed secrets are still stored (only
	// while pending).
	SecretsHeld bool
	Reason      string
	State       State
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// Set once the request left pending.
	DecidedAt   time.Time
	DeciderID   int64  // 0 when the console itself expired or withdrew it
	DeciderName string // approver, denier or withdrawer
	Comment     string
	// BatchID is the batch an approval ran; ExecError says in English why
	// an approved request ran none, ExecCode the same as one of the Exec*
	// codes (empty for requests decided before codes were kept).
	BatchID   string
	ExecError string
	ExecCode  string
}

// StateAt is the request's state as of now: a pending request past its
// expiry is expired even before the background sweep records it.
func (r *Request) StateAt(now time.Time) State {
	if r.State == StatePending && !now.Before(r.ExpiresAt) {
		return StateExpired
	}
	return r.State
}

// Approved is what an Executor gets to run: the request, who approved it,
// and the OS parameters with their secrets (nil when the action takes none).
type Approved struct {
	Request  *Request
	Approver *auth.User
	OSParams *modelarts.ServerOSRequest
	Meta     Meta
	// BatchID is the id the batch must take: approval.approved names it in
	// the audit log before anything is sent, so each finds the other.
	BatchID string
}

// Executor runs an approved request as a batch, checking each server's
// eligibility again first (servers that changed are skipped with the
// reason, never sent). It returns the batch id.
type Executor interface {
	ExecuteApproved(ctx context.Context, a *Approved) (batchID string, err error)
}

// Recorder records audit events, each with the project of its request;
// (*audit.Store) satisfies it.
type Recorder interface {
	RecordProjectEvent(ctx context.Context, project string, kind audit.EventKind, actor audit.Actor, detail map[string]string) error
}

// Notifier sends outgoing messages; (*notify.Notifier) satisfies it.
type Notifier interface {
	Notify(ev notify.Event)
}

// Config builds a Service.
type Config struct {
	DB     *store.DB
	Policy Policy
	// Box seals the OS secrets; without it requests carrying a password or
	// user data are refused (ErrNoKey).
	Box *secrets.Box
	// Audit records every transition (required).
	Audit Recorder
	// Executor runs approved requests; without it Approve fails
	// (ErrNoExecutor) before deciding anything.
	Executor Executor
	// Notifier, when set, is told about every transition.
	Notifier Notifier
	// Messages renders the notifications (English when nil); the console
	// passes the localizer of CONSOLE_WEBHOOK_LANG.
	Messages *i18n.Localizer
	Log      *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// SweepInterval is how often the background sweep expires requests
	// (DefaultSweepInterval when zero).
	SweepInterval time.Duration
}

// DefaultSweepInterval is how often pending requests are checked for expiry.
const DefaultSweepInterval = time.Minute

// Service keeps approval requests and enforces their rules.
type Service struct {
	db       *store.DB
	policy   Policy
	box      *secrets.Box
	audit    Recorder
	exec     Executor
	notifier Notifier
	messages *i18n.Localizer
	log      *slog.Logger
	clock    atomic.Pointer[func() time.Time]
	sweep    time.Duration

	mu      sync.Mutex
	stopBg  context.CancelFunc
	bgDone  chan struct{}
	running sync.WaitGroup // approvals executing
}

// NewService returns a Service. DB and Audit are required.
func NewService(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Audit == nil {
		return nil, errors.New("approval: a database and an audit recorder are required")
	}
	s := &Service{
		db: cfg.DB, policy: cfg.Policy, box: cfg.Box, audit: cfg.Audit, exec: cfg.Executor,
		notifier: cfg.Notifier, messages: cfg.Messages, log: cfg.Log, sweep: cfg.SweepInterval,
	}
	if s.messages == nil {
		s.messages = i18n.MustLoad().Localizer(i18n.English)
	}
	s.SetClock(cfg.Now)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.sweep <= 0 {
		s.sweep = DefaultSweepInterval
	}
	return s, nil
}

// SetExecutor sets the executor, for wiring after construction.
func (s *Service) SetExecutor(e Executor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exec = e
}

func (s *Service) executor() Executor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exec
}

// Now returns the service's clock reading, for pages that show states as
// of now.
func (s *Service) Now() time.Time { return s.now() }

func (s *Service) now() time.Time { return (*s.clock.Load())() }

// SetClock replaces the clock (time.Now when nil): the end-to-end tests
// move a fake one past a request's expiry.
func (s *Service) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.clock.Store(&now)
}

// Policy returns the policy in force.
func (s *Service) Policy() Policy { return s.policy }

// CanDecide reports whether u's role may approve and deny requests (not
// whether u may decide a particular one: nobody decides their own).
func CanDecide(u *auth.User) bool {
	return u != nil && !u.Disabled && u.Role.Can(auth.PermDecideApprovals)
}

// CanRequest reports whether u's role may ask for approval.
func CanRequest(u *auth.User) bool {
	return u != nil && !u.Disabled && u.Role.Can(auth.PermRunActions)
}

// Start runs the expiry sweep in the background until Close: every
// SweepInterval it expires requests past their time and withdraws those of
// disabled users.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopBg != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopBg = cancel
	s.bgDone = make(chan struct{})
	go func() {
		defer close(s.bgDone)
		t := time.NewTicker(s.sweep)
		defer t.Stop()
		for {
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "approval: expiry sweep failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops the background sweep and waits for approvals being executed.
func (s *Service) Close() {
	s.mu.Lock()
	stop, done := s.stopBg, s.bgDone
	s.stopBg = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.running.Wait()
}
