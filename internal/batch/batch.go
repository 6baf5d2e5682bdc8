// Package batch runs the console's batch actions: it prepares an action
// from a selection (which servers it applies to and why the others are
// skipped) under a one-time token, executes it once in chunks — each chunk
// its own audited BatchAction call, all under one batch id — and follows
// every server until it settles, recording what was sent, what came back
// and how each server ended.
//
// Secrets (admin passwords, user data) are never stored by this package:
// they arrive with the confirming request and go only to the cloud client.
package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
)

// Cloud is the part of the ModelArts client a batch needs.
// (*modelarts.Client) satisfies it.
type Cloud interface {
	BatchAction(ctx context.Context, req *modelarts.BatchRequest, rec modelarts.Recorder) (*modelarts.ServerPage, error)
	ListImages(ctx context.Context, q modelarts.ImageQuery) ([]modelarts.ServerImageResponse, error)
}

// Audit gives the recorder of one cloud call, bound to who asked and for
// which batch, whose entries commit with the batch's own records of the
// call. (*audit.Store) satisfies it.
type Audit interface {
	BeginCall(meta audit.CallMeta, before audit.TxFunc) *audit.Call
}

// Fleet is the part of the shared fleet cache batches use: snapshots to
// follow a batch to its final states, and Invalidate after servers were
// acted on. (*fleet.Cache) satisfies it.
type Fleet interface {
	Get(ctx context.Context) (*fleet.Snapshot, error)
	Refresh(ctx context.Context) (*fleet.Snapshot, error)
	Invalidate()
}

// Defaults used when Config leaves a field zero.
const (
	DefaultChunkSize   = 50
	DefaultTokenTTL    = 15 * time.Minute
	DefaultCallTimeout = 60 * time.Second
	DefaultSettleGrace = 30 * time.Second
)

// Config builds a Service.
type Config struct {
	Cloud Cloud
	// Audit records every call before and after it is sent. Without it the
	// client refuses to send (unless it allows unaudited calls).
	Audit Audit
	Fleet Fleet
	DB    *store.DB
	Log   *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ChunkSize is the most servers sent in one BatchAction call.
	ChunkSize int
	// TokenTTL is how long a preview can be confirmed.
	TokenTTL time.Duration
	// Timeout bounds one BatchAction call; it runs on a context detached
	// from the browser's request, so a closed tab does not abort a batch.
	Timeout time.Duration
	// SettleGrace is how long after a chunk was sent a server that still
	// shows its starting state (and was never seen moving) is awaited before
	// the console stops waiting for it.
	SettleGrace time.Duration
	// FollowInterval is how often a sent batch is checked in the background
	// until its servers settle and their final states are recorded, whether
	// or not anyone watches its page. Zero means DefaultFollowInterval;
	// negative turns background following off (then only Settle records).
	FollowInterval time.Duration
	// FollowFor bounds how long one batch is followed (DefaultFollowFor
	// when zero).
	FollowFor time.Duration
	// Observer, when set, is told how every chunk ended (metrics).
	Observer Observer
	// Project is the short name of the console project this service acts
	// on (one service per project: Cloud and Fleet are that project's).
	// Its previews, batches and audit entries record it, and it sees only
	// its own: a token or batch of another project is unknown to it, so a
	// batch never mixes projects.
	Project string
	// RecoverCalls records "outcome unknown" for every request of the batch
	// (audit correlation id) that has no answer in the audit log; it runs
	// when this console takes over a batch another left unsettled
	// (audit.Store.RecoverUnfinishedFor). Nil: nothing is recorded.
	RecoverCalls func(ctx context.Context, batchID string) (int, error)
}

// Observer is told how each chunk of a batch ended: the action, the chunk
// outcome (OutcomeOK, OutcomeAPIError, OutcomeUnknown, OutcomeNotSent) and
// how many servers the chunk covered. It must be quick and safe for
// concurrent use.
type Observer interface {
	ChunkDone(action modelarts.BatchType, outcome string, servers int)
}

// Service prepares, executes and tracks batch actions.
type Service struct {
	cloud       Cloud
	audit       Audit
	fleet       Fleet
	db          *store.DB
	log         *slog.Logger
	now         func() time.Time
	chunkSize   int
	tokenTTL    time.Duration
	callTimeout time.Duration
	settleGrace time.Duration

	followInterval time.Duration
	followFor      time.Duration
	obs            Observer
	project        string
	recoverCalls   func(ctx context.Context, batchID string) (int, error)

	// claims: exactly one console (replica) sends and follows each batch.
	claims   *store.Claims
	scanStop context.CancelFunc
	scanDone chan struct{}

	wg sync.WaitGroup
	// stopping is closed by Shutdown: running batches stop between chunks.
	stopping chan struct{}
	stopOnce sync.Once
	// runCtx is the context every chunk's call runs on, detached from the
	// browser's request; cancelRuns ends calls still in flight when the
	// shutdown's time is up.
	runCtx     context.Context
	cancelRuns context.CancelFunc

	// gate is the approval policy; finishHook is told of finished batches.
	gate       atomic.Pointer[Gate]
	finishHook atomic.Pointer[FinishHook]

	followMu  sync.Mutex
	followers map[string]context.CancelFunc // by batch id
	followWG  sync.WaitGroup
}

// NewService returns a Service. Cloud and DB are required. Call Recover once
// at start to settle batches a previous process left half-sent.
func NewService(cfg Config) (*Service, error) {
	if cfg.Cloud == nil || cfg.DB == nil {
		return nil, errors.New("batch: a cloud client and a database are required")
	}
	s := &Service{
		cloud:       cfg.Cloud,
		audit:       cfg.Audit,
		fleet:       cfg.Fleet,
		stopping:    make(chan struct{}),
		db:          cfg.DB,
		log:         cfg.Log,
		now:         cfg.Now,
		chunkSize:   cfg.ChunkSize,
		tokenTTL:    cfg.TokenTTL,
		callTimeout: cfg.Timeout,
		settleGrace: cfg.SettleGrace,

		followInterval: cfg.FollowInterval,
		followFor:      cfg.FollowFor,
		obs:            cfg.Observer,
		project:        cfg.Project,
		recoverCalls:   cfg.RecoverCalls,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.chunkSize <= 0 {
		s.chunkSize = DefaultChunkSize
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = DefaultTokenTTL
	}
	if s.callTimeout <= 0 {
		s.callTimeout = DefaultCallTimeout
	}
	if s.settleGrace <= 0 {
		s.settleGrace = DefaultSettleGrace
	}
	if s.followInterval == 0 {
		s.followInterval = DefaultFollowInterval
	}
	if s.followFor <= 0 {
		s.followFor = DefaultFollowFor
	}
	s.runCtx, s.cancelRuns = context.WithCancel(context.Background())
	s.claims = s.db.NewClaims(0)
	return s, nil
}

// ChunkSize is the most servers sent in one request.
func (s *Service) ChunkSize() int { return s.chunkSize }

// CallTimeout is how long one request may take.
func (s *Service) CallTimeout() time.Duration { return s.callTimeout }

// Wait blocks until every batch started by Execute has sent all its chunks,
// then stops following the batches in the background and looking for
// batches to take over (a batch whose servers are still settling is
// followed again by Recover at the next start). Use it in tests; a process that stops uses Shutdown.
func (s *Service) Wait() {
	s.wg.Wait()
	// The look-out for batches to take over starts followers too: stop it
	// first, so no follower is added while stopFollowing waits for them.
	if s.scanStop != nil {
		s.scanStop()
		<-s.scanDone
	}
	s.stopFollowing()
}

// Shutdown stops the batches: each running batch finishes the chunk on its
// way and sends no more (the rest are recorded not_sent), and background
// following and the look-out for batches to take over stop. When ctx ends
// first, calls still in flight are cancelled (recorded as interrupted,
// outcome unknown: the audit has their request) and Shutdown returns once
// they are recorded. Nothing is sent twice: a chunk not sent now stays
// not_sent. Then every claim is given up, so other consoles (replicas)
// take this one's running batches over.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	if s.scanStop != nil {
		s.scanStop()
		<-s.scanDone
	}
	defer s.claims.Close()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("batch: shutdown: a chunk was still on its way after the shutdown timeout; cancelled it: %w", ctx.Err())
		s.cancelRuns()
		<-done
	}
	s.stopFollowing()
	return err
}

// stopped reports whether Shutdown has begun.
func (s *Service) stopped() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// Errors returned by the Service. The web layer maps them to messages.
var (
	// ErrTokenUnknown: the token does not exist or belongs to another user.
	ErrTokenUnknown = errors.New("batch: unknown preview token")
	// ErrTokenExpired: the preview is too old to confirm.
	ErrTokenExpired = errors.New("batch: preview expired")
	// ErrConfirmation: a destructive action was not confirmed with its word.
	ErrConfirmation = errors.New("batch: the action word was not typed")
	// ErrNothingToSend: none of the selected servers is eligible.
	ErrNothingToSend = errors.New("batch: no eligible server to send the action to")
	// ErrMixedPlatform is matched by *MixedPlatformError.
	ErrMixedPlatform = errors.New("batch: the selection mixes server types or architectures")
	// ErrNoImages: ModelArts offers no active image for the targets.
	ErrNoImages = errors.New("batch: no active image is offered for these servers")
	// ErrNotDestructive: a review was asked for an action that needs none.
	ErrNotDestructive = errors.New("batch: this action needs no confirmation")
	// ErrNotFound: no batch with that id.
	ErrNotFound = errors.New("batch: not found")
	// ErrNoSelection: nothing was selected.
	ErrNoSelection = errors.New("batch: no server selected")
	// ErrInvalidAction: the action is not one of the six batch types.
	ErrInvalidAction = errors.New("batch: unknown action")
	// ErrShuttingDown: the console is stopping and starts no new batch.
	ErrShuttingDown = errors.New("batch: the console is shutting down")
)

// MixedPlatformError: a Change OS selection mixes server types or
// architectures, so no single image fits all of it. Platforms names them
// ("BMS/ARM").
type MixedPlatformError struct {
	Platforms []string
}

func (e *MixedPlatformError) Error() string {
	return ErrMixedPlatform.Error() + ": " + strings.Join(e.Platforms, ", ")
}

// Is makes errors.Is(err, ErrMixedPlatform) true.
func (e *MixedPlatformError) Is(target error) bool { return target == ErrMixedPlatform }

// ImagesUnavailableError: the image list could not be read from ModelArts
// when the action was previewed; Err is the cloud's error.
type ImagesUnavailableError struct {
	Err error
}

func (e *ImagesUnavailableError) Error() string { return "batch: list images: " + e.Err.Error() }
func (e *ImagesUnavailableError) Unwrap() error { return e.Err }

// ConfirmationError: a destructive action was not confirmed by typing Word.
// errors.Is(err, ErrConfirmation) is true.
type ConfirmationError struct {
	Word string
}

func (e *ConfirmationError) Error() string { return ErrConfirmation.Error() + ": " + e.Word }

// Is makes errors.Is(err, ErrConfirmation) true.
func (e *ConfirmationError) Is(target error) bool { return target == ErrConfirmation }

// Meta is what the audit log needs about the browser that asked.
type Meta struct {
	ClientIP  string
	UserAgent string
}

// Word is what an operator types to confirm a destructive action: the
// action's own name (DELETE, REINSTALLOS, CHANGEOS).
func Word(t modelarts.BatchType) string { return string(t) }

// chunks splits ids into consecutive groups of at most size.
func chunks[T any](ids []T, size int) [][]T {
	var out [][]T
	for len(ids) > 0 {
		n := min(size, len(ids))
		out = append(out, ids[:n:n])
		ids = ids[n:]
	}
	return out
}
