// Package app assembles the console from its parts — configuration, the
// SQLite store, the audit log, users and sessions, the ModelArts client (or
// the embedded simulator), the fleet cache, the batch service and the web
// server — and runs it. cmd/console and the end-to-end tests both start the
// console through this package, so they run the same thing.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/metrics"
	"github.com/devserver-console/console/internal/notify"
	"github.com/devserver-console/console/internal/secrets"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/web"
)

// App is a running console.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	db       *store.DB
	audit    *audit.Store
	users    *auth.Store
	sessions *auth.SessionManager
	notifier *notify.Notifier
	// notifyLoc renders outgoing notifications (CONSOLE_WEBHOOK_LANG).
	notifyLoc *i18n.Localizer
	approval  *approval.Service
	// projects are the ModelArts targets, in the order configured; the
	// first is the default.
	projects []*project
	web      *web.Server

	secretKey []byte // seals approval secrets and TOTP secrets at rest
	syslog    *audit.SyslogSink
	metrics   *metrics.Metrics
	metricsLn net.Listener
	metricsSv *http.Server

	stopVerify context.CancelFunc
	stopShare  context.CancelFunc // ends the fleet cache's subscription
	verifyDone <-chan struct{}
}

// Option adjusts how New builds the console (for tests).
type Option func(*options)

type options struct {
	clock func() time.Time
	hash  *argon2id.Params
}

// WithHashParams makes the console hash passwords with p instead of
// auth.DefaultHashParams: for tests, whose consoles hash many passwords
// and need none of the cost (under -race a default hash takes seconds).
func WithHashParams(p argon2id.Params) Option {
	return func(o *options) { o.hash = &p }
}

// WithClock makes sessions and sign-in delays read time from now instead
// of the system clock, so tests can expire them without waiting (and a
// delay holds however slowly a test runs).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.clock = now }
}

// New builds the console from cfg, which config.Load has validated (the one
// place settings are checked). out receives the one-time bootstrap message
// (the generated admin password), never the log.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer, opts ...Option) (_ *App, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.Default()
	}
	if out == nil {
		out = io.Discard
	}
	a := &App{cfg: cfg, log: log, metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.serveMetrics(); err != nil {
		return nil, err
	}

	if a.db, err = store.Open(ctx, cfg.DBPath); err != nil {
		return nil, err
	}
	a.audit = audit.New(a.db, log)
	if err := a.keyAudit(ctx); err != nil {
		return nil, err
	}
	a.audit.ObserveAppend = func(kind audit.EventKind, took time.Duration, err error) {
		a.metrics.AuditAppend(string(kind), took, err)
		a.metrics.SecurityEvent(string(kind)) // sign-in results are security events
	}
	a.metrics.SetAuditChain(a.auditChainState)
	// On SQLite this console is the only one: every request without an
	// answer was interrupted by its previous run. On PostgreSQL other
	// replicas may have requests in flight: each batch's are recovered when
	// a replica takes the batch over (batch.Service.Recover).
	if a.db.Engine == store.SQLite {
		if n, err := a.audit.RecoverUnfinished(ctx); err != nil {
			return nil, fmt.Errorf("audit: recover unfinished calls: %w", err)
		} else if n > 0 {
			log.Warn("calls to ModelArts were interrupted by a previous shutdown; marked as outcome unknown in the audit log", "count", n)
		}
	}
	if err := a.newApprovals(log); err != nil {
		return nil, err
	}
	a.metrics.SetPendingApprovals(func(ctx context.Context) (map[string]int, error) {
		return a.approval.PendingByProject(ctx, a.ProjectNames())
	})
	if a.users, err = newUserStore(a.db, a.audit, log, a.approval, a.secretKey, o.clock, o.hash); err != nil {
		return nil, err
	}
	if n, err := a.users.SealPlainFactors(ctx); err != nil {
		return nil, fmt.Errorf("seal second factors: %w", err)
	} else if n > 0 {
		log.Info("sealed second factors stored before the console had a secret key", "count", n)
	}
	created, generated, err := a.users.EnsureAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("create the first admin: %w", err)
	}
	if created {
		announceAdmin(out, generated)
	}
	key, err := auth.KeyFromSettings(ctx, a.db, cfg.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	if a.sessions, err = auth.NewSessionManager(a.db, auth.SessionConfig{
		Keys: [][]byte{key}, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute,
		Secure: cfg.SecureCookies, Log: log, Now: o.clock,
	}); err != nil {
		return nil, err
	}

	if err := a.openProjects(ctx); err != nil {
		return nil, err
	}
	// Replicas on one PostgreSQL database keep their own caches and tell
	// each other when servers were acted on (on SQLite only this console
	// listens). One channel serves every project: a notification makes
	// each project's cache stale, which costs at most an extra walk.
	sctx, stopShare := context.WithCancel(context.WithoutCancel(ctx))
	a.stopShare = stopShare
	for _, p := range a.projects {
		if err := p.fleet.Share(sctx, a.db, log); err != nil {
			return nil, err
		}
	}
	// An approved request runs in its own project's batch service.
	run := &approval.BatchExecutor{Projects: map[string]approval.Project{}, Users: a.users}
	for _, p := range a.projects {
		run.Projects[p.cfg.Name] = approval.Project{Batches: p.batches, Fleet: p.fleet}
	}
	a.approval.SetExecutor(run)
	if a.web, err = web.New(web.Deps{
		TrustedProxies: cfg.TrustedProxies,
		MFARequired:    cfg.MFARequired,
		Log:            log,
		DB:             a.db,
		Simulated:      cfg.Simulated(),
		Audit:          a.audit,
		Users:          a.users,
		Sessions:       a.sessions,
		Projects:       a.webProjects(),
		Approvals:      a.approval,
		Notifier:       a.notifier,
		Requests:       a.metrics,
	}); err != nil {
		return nil, err
	}
	// Keep the audit log's chain verified in the background: at start the
	// tail after the last verified head (not the whole log), then every
	// minute, and a full verification every CONSOLE_AUDIT_VERIFY_EVERY; and
	// write signed checkpoints of its head every CONSOLE_AUDIT_ANCHOR_EVERY;
	// index new entries for search as they are appended; and index existing
	// entries' filter values in the text index.
	vctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopVerify = cancel
	done := make(chan struct{})
	a.verifyDone = done
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Add(4)
		go func() { defer wg.Done(); a.audit.RunVerifier(vctx, auditTailEvery, cfg.AuditVerifyEvery) }()
		go func() { defer wg.Done(); a.audit.RunIndexer(vctx) }()
		go func() {
			// Index the filter values of entries written before migration
			// 0011; text searches use the old plan until this is done.
			defer wg.Done()
			if err := a.audit.BackfillSearch(vctx); err != nil && vctx.Err() == nil {
				log.ErrorContext(vctx, "audit: text index backfill stopped; text searches with filters stay on the slower plan until the next start", "err", err)
			}
		}()
		go func() { defer wg.Done(); a.audit.RunAnchors(vctx, cfg.AuditAnchorEvery) }()
		wg.Wait()
	}()
	// Expire approval requests nobody decided in time, in the background.
	a.approval.Start(ctx)
	return a, nil
}

// auditTailEvery is how often the console verifies the newest audit entries.
const auditTailEvery = time.Minute

// keyAudit loads (or, on first start, creates) the audit key, switches the
// log to the keyed chain, and sets where checkpoints go.
func (a *App) keyAudit(ctx context.Context) error {
	cfg := a.cfg
	if a.db.Engine == store.Postgres && cfg.AuditKey == "" && cfg.AuditKeyFile == "" {
		// The default key file sits beside a SQLite file; a URL has no
		// directory, and every replica needs the same key anyway.
		return errors.New("with a PostgreSQL database every replica must chain the audit log under the same key: set CONSOLE_AUDIT_KEY or CONSOLE_AUDIT_KEY_FILE (docs/replicas.md)")
	}
	k, err := audit.LoadKey(audit.KeySource{Text: cfg.AuditKey, File: cfg.AuditKeyFile, DBPath: cfg.DBPath}, true)
	if err != nil {
		return err
	}
	if err := a.audit.UseKey(ctx, k.Key); err != nil {
		if k.Created {
			os.Remove(k.Path)
			return fmt.Errorf("the audit log is chained under a key but its key file %s is missing: restore it from its backup, or name it with CONSOLE_AUDIT_KEY_FILE: %w", k.Path, err)
		}
		return err
	}
	if k.Created {
		a.log.Warn("created the audit key file: back it up somewhere other than the database's disk; without it the audit log cannot be verified", "path", k.Path)
	}
	var sinks []audit.AnchorSink
	if cfg.AuditAnchorFile != "" {
		sinks = append(sinks, audit.FileSink{Path: cfg.AuditAnchorFile})
	} else {
		a.log.Warn("no CONSOLE_AUDIT_ANCHOR_FILE: cutting back the newest audit entries together with their verification records would not be detected")
	}
	if cfg.AuditAnchorSyslog {
		sl, err := audit.NewSyslogSink()
		if err != nil {
			return err
		}
		a.syslog = sl
		sinks = append(sinks, sl)
	}
	a.audit.SetAnchors(sinks...)
	return nil
}

// newApprovals opens the secret key (CONSOLE_SECRET_KEY, else the key file
// beside the database, created on first start), the outgoing webhook and
// the approval service.
func (a *App) newApprovals(log *slog.Logger) error {
	cfg := a.cfg
	if a.db.Engine == store.Postgres && strings.TrimSpace(cfg.SecretsKey) == "" {
		// The default key file sits beside a SQLite file; a URL has no
		// directory, and a request sealed on one replica is opened by
		// whichever replica approves it, so all need the same key.
		return errors.New("with a PostgreSQL database every replica must seal approval secrets under the same key: set CONSOLE_SECRET_KEY or CONSOLE_SECRET_KEY_FILE (docs/replicas.md)")
	}
	keyPath := secrets.KeyFilePath(cfg.DBPath)
	key, created, err := secrets.LoadKey(cfg.SecretsKey, keyPath)
	if err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	if created {
		log.Info("created the key that seals OS passwords of requests awaiting approval; keep it with the database's backups, never inside it", "key_file", keyPath)
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		return err
	}
	a.secretKey = key
	// Messages go to a channel many people read, in the one language
	// CONSOLE_WEBHOOK_LANG names (English by default).
	a.notifyLoc = i18n.MustLoad().Localizer(cfg.WebhookLang)
	if a.notifier, err = notify.New(notify.Config{
		URL: cfg.WebhookURL, Format: notify.Format(cfg.WebhookFormat), PublicURL: cfg.PublicURL, DB: a.db, Log: log,
		LinkText: a.notifyLoc.T("notify.link"),
	}); err != nil {
		return err
	}
	a.approval, err = approval.NewService(approval.Config{
		DB:       a.db,
		Policy:   approval.Policy{Actions: cfg.ApprovalActions, MinServers: cfg.ApprovalMinServers, TTL: cfg.ApprovalTTL},
		Box:      box,
		Audit:    a.audit,
		Notifier: a.notifier,
		Messages: a.notifyLoc,
		Log:      log,
	})
	return err
}

// NewUserStore opens the user store with its security events going to the
// audit log; disabling a user withdraws their pending approval requests.
func NewUserStore(db *store.DB, au *audit.Store, log *slog.Logger) (*auth.Store, error) {
	// The console commands have no webhook or key: withdrawing needs neither.
	ap, err := approval.NewService(approval.Config{DB: db, Audit: au, Log: log})
	if err != nil {
		return nil, err
	}
	return newUserStore(db, au, log, ap, nil, nil, nil)
}

// newUserStore opens the user store; with secretKey, TOTP secrets are
// sealed at rest; now (nil: the system clock) judges sign-in delays; hash
// (nil: auth.DefaultHashParams) are the password hashing parameters.
func newUserStore(db *store.DB, au *audit.Store, log *slog.Logger, ap *approval.Service, secretKey []byte,
	now func() time.Time, hash *argon2id.Params) (*auth.Store, error) {
	return auth.NewStore(db, auth.StoreConfig{
		Now:        now,
		HashParams: hash,
		SecretKey:  secretKey,
		Recorder:   SecurityRecorder(au),
		OnDisable: func(ctx context.Context, userID int64) error {
			_, err := ap.WithdrawUser(ctx, userID)
			return err
		},
		Log: log,
	})
}

// SecurityRecorder adapts the audit log to auth's event recorder.
func SecurityRecorder(au *audit.Store) auth.Recorder {
	return func(ctx context.Context, ev auth.Event) error {
		act := auth.ActorFrom(ctx)
		return au.RecordEvent(ctx, audit.EventKind(ev.Kind), audit.Actor{
			UserID: act.UserID, Name: act.Name, Role: string(act.Role),
			ClientIP: act.ClientIP, UserAgent: act.UserAgent,
		}, ev.Detail)
	}
}

// announceAdmin prints the bootstrap admin's generated password once,
// prominently, to the terminal (not to the log).
func announceAdmin(out io.Writer, generated string) {
	if generated == "" {
		fmt.Fprintln(out, "Created the first user, admin, with the password from CONSOLE_ADMIN_PASSWORD.")
		return
	}
	line := strings.Repeat("=", 72)
	fmt.Fprintf(out, "\n%s\n  First start: created the user \"admin\".\n\n    username: admin\n    password: %s\n\n  This password is shown only once. Sign in and change it under Users,\n  or set CONSOLE_ADMIN_PASSWORD before the first start next time.\n%s\n\n", line, generated, line)
}

// Handler returns the console's HTTP handler.
func (a *App) Handler() http.Handler { return a.web }

// Simulator returns the first project's embedded simulator, or nil on a
// real cloud.
func (a *App) Simulator() *simulator.Simulator { return a.projects[0].sim }

// Audit returns the audit log.
func (a *App) Audit() *audit.Store { return a.audit }

// Users returns the user store.
func (a *App) Users() *auth.Store { return a.users }

// Batches returns the first project's batch service.
func (a *App) Batches() *batch.Service { return a.projects[0].batches }

// Fleet returns the first project's shared fleet cache.
func (a *App) Fleet() *fleet.Cache { return a.projects[0].fleet }

// Approvals returns the approval service.
func (a *App) Approvals() *approval.Service { return a.approval }

// DB returns the database.
func (a *App) DB() *store.DB { return a.db }

// Serve serves the console on ln until ctx is cancelled, then shuts down
// gracefully: in-flight requests get up to 15 seconds to finish.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.web,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close stops the batches (between chunks; a chunk on its way gets up to
// CONSOLE_SHUTDOWN_TIMEOUT), then stops the simulator and closes the
// database.
func (a *App) Close() error {
	var errs []error
	if a.stopShare != nil {
		a.stopShare()
	}
	if a.stopVerify != nil {
		a.stopVerify()
		<-a.verifyDone
	}
	if a.syslog != nil {
		errs = append(errs, a.syslog.Close())
	}
	if a.approval != nil {
		a.approval.Close() // stops expiring; waits for approvals being started
	}
	if a.metricsSv != nil {
		errs = append(errs, a.metricsSv.Close())
	}
	{
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		for _, p := range a.projects {
			if p.batches == nil {
				continue
			}
			if err := p.batches.Shutdown(ctx); err != nil {
				a.log.Warn("batches stopped at the shutdown timeout", "project", p.cfg.Name, "err", err, "timeout", a.cfg.ShutdownTimeout)
			}
		}
		cancel()
	}
	if a.audit != nil && a.db != nil {
		// A last checkpoint of what this process wrote.
		if err := a.audit.Anchor(context.Background()); err != nil {
			a.log.Error("audit: final checkpoint", "err", err)
		}
	}
	if a.notifier != nil {
		// Give waiting messages a moment; what is left is recorded as not sent.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.notifier.Flush(ctx); err != nil {
			a.log.Warn("webhook messages still waiting at shutdown are not sent", "err", err)
		}
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
		errs = append(errs, a.notifier.Close(ctx))
		cancel()
	}
	for _, p := range a.projects {
		if p.simSrv != nil {
			errs = append(errs, p.simSrv.Close())
		}
		if p.sim != nil {
			p.sim.Close()
		}
	}
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	return errors.Join(errs...)
}

// batchFinished is the webhook message of a finished batch: what ran, who
// asked and who approved it, with links to the batch and its request.
func batchFinished(l *i18n.Localizer, b *batch.Batch) notify.Event {
	label := string(b.Action)
	if l.Has("action." + label) {
		label = l.T("action." + label)
	}
	ev := notify.Event{
		Kind:    notify.EventBatchFinished,
		Subject: b.ID,
		Title:   l.N("notify.batch.title", b.Total, "Action", label),
		Lines:   []string{l.T("notify.batch.requested_by", "Name", b.UserName)},
		Path:    "/batches/" + b.ID,
		At:      b.FinishedAt,
	}
	if b.Project != "" {
		ev.Lines = append(ev.Lines, l.T("notify.project", "Name", b.Project))
	}
	if b.ApprovedBy != "" {
		ev.Lines = append(ev.Lines, l.T("notify.batch.approved_by", "Name", b.ApprovedBy))
	}
	if b.ApprovalID != "" {
		ev.Lines = append(ev.Lines, l.T("notify.batch.approval", "Path", "/approvals/"+b.ApprovalID))
	}
	return ev
}
