// Package notify sends the console's outgoing webhook messages: a short
// message when an approval request is created, decided, withdrawn or
// expires, and when a batch finishes, with a link to the page. The message
// is shaped for a generic JSON receiver or for the incoming webhooks of
// WeCom, DingTalk, Feishu or Slack.
//
// Sending never blocks or fails the action that caused it: Notify queues the
// message and returns; one worker delivers messages in order, each attempt
// bounded by a timeout, retrying with exponential backoff. A message that
// still fails is logged and kept in webhook_failures for admins to see.
// Messages carry no secrets, and the webhook URL (which usually holds the
// chat tool's token) is never logged or stored.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/devserver-console/console/internal/store"
)

// Format is the shape of the messages (CONSOLE_WEBHOOK_FORMAT).
type Format string

// Formats.
const (
	FormatJSON     Format = "json"
	FormatWeCom    Format = "wecom"
	FormatDingTalk Format = "dingtalk"
	FormatFeishu   Format = "feishu"
	FormatSlack    Format = "slack"
)

// Valid reports whether f is a known format.
func (f Format) Valid() bool {
	switch f {
	case FormatJSON, FormatWeCom, FormatDingTalk, FormatFeishu, FormatSlack:
		return true
	}
	return false
}

// Kinds of event that are sent.
const (
	EventApprovalRequested = "approval.requested"
	EventApprovalApproved  = "approval.approved"
	EventApprovalDenied    = "approval.denied"
	EventApprovalWithdrawn = "approval.withdrawn"
	EventApprovalExpired   = "approval.expired"
	EventBatchFinished     = "batch.finished"
)

// Event is one thing worth telling people. It must hold nothing secret.
type Event struct {
	Kind    string    // one of the Event* kinds
	Subject string    // the approval request or batch id
	Title   string    // one line, e.g. "Approval requested: Delete on 3 servers"
	Lines   []string  // further lines: who asked, why, who decided
	Path    string    // the console page, e.g. /approvals/{id}; joined to the public URL
	At      time.Time // when it happened (now when zero)
}

// Defaults used when Config leaves a field zero.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultAttempts  = 5
	DefaultQueueSize = 256
	maxFailuresKept  = 500
)

// Config builds a Notifier.
type Config struct {
	// URL receives the messages. Empty: Notify does nothing.
	URL string
	// Format shapes the messages (FormatJSON when empty).
	Format Format
	// LinkText labels the link in chat messages, in the messages'
	// language (DefaultLinkText when empty).
	LinkText string
	// PublicURL is the console's base URL for links, e.g.
	// https://console.example.com. Empty: links are paths.
	PublicURL string
	// DB keeps failed deliveries for admins (required when URL is set).
	DB  *store.DB
	Log *slog.Logger
	// Client sends the messages (a client without redirects by default).
	Client *http.Client
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// Attempts is how many times a message is tried before it is given up.
	Attempts int
	// Backoff is the wait before attempt n+1 after attempt n failed
	// (exponential from 2 s, at most a minute, with jitter, by default).
	Backoff func(n int) time.Duration
	// QueueSize bounds the messages waiting; a message that finds the queue
	// full is dropped and recorded as failed.
	QueueSize int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Notifier queues and delivers messages. A nil *Notifier, or one without a
// URL, accepts messages and sends nothing.
type Notifier struct {
	url       string
	format    Format
	publicURL string
	linkText  string
	db        *store.DB
	log       *slog.Logger
	client    *http.Client
	timeout   time.Duration
	attempts  int
	backoff   func(int) time.Duration
	now       func() time.Time

	mu     sync.Mutex
	closed bool
	queue  chan Event
	stop   chan struct{}
	done   chan struct{}
	// delivered counts messages delivered, for tests and the page.
	delivered int
	busy      int           // messages queued or being delivered
	idle      chan struct{} // closed while busy is 0
}

// New returns a Notifier and starts its worker; Close stops it.
func New(cfg Config) (*Notifier, error) {
	if cfg.URL == "" {
		return &Notifier{}, nil
	}
	if cfg.DB == nil {
		return nil, errors.New("notify: a database is required to keep failed deliveries")
	}
	f := cfg.Format
	if f == "" {
		f = FormatJSON
	}
	if !f.Valid() {
		return nil, fmt.Errorf("notify: unknown format %q", f)
	}
	n := &Notifier{
		url:       cfg.URL,
		format:    f,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		linkText:  cfg.LinkText,
		db:        cfg.DB,
		log:       cfg.Log,
		client:    cfg.Client,
		timeout:   cfg.Timeout,
		attempts:  cfg.Attempts,
		backoff:   cfg.Backoff,
		now:       cfg.Now,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if n.linkText == "" {
		n.linkText = DefaultLinkText
	}
	n.idle = make(chan struct{})
	close(n.idle)
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.client == nil {
		n.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	if n.attempts <= 0 {
		n.attempts = DefaultAttempts
	}
	if n.backoff == nil {
		n.backoff = DefaultBackoff
	}
	if n.now == nil {
		n.now = time.Now
	}
	size := cfg.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	n.queue = make(chan Event, size)
	go n.run()
	return n, nil
}

// DefaultBackoff waits 2 s before the second attempt, doubling up to a
// minute, with up to 20% jitter.
func DefaultBackoff(n int) time.Duration {
	d := 2 * time.Second << min(n-1, 5)
	d = min(d, time.Minute)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// Enabled reports whether messages are sent anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.url != "" }

// Notify queues ev for delivery and returns at once. It never blocks: when
// the queue is full the message is dropped, logged and recorded as failed.
func (n *Notifier) Notify(ev Event) {
	if !n.Enabled() {
		return
	}
	if ev.At.IsZero() {
		ev.At = n.now()
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.fail(context.Background(), ev, 0, errors.New("not sent: the console was stopping"))
		return
	}
	select {
	case n.queue <- ev:
		if n.busy == 0 {
			n.idle = make(chan struct{})
		}
		n.busy++
		n.mu.Unlock()
	default:
		n.mu.Unlock()
		n.fail(context.Background(), ev, 0, fmt.Errorf("not sent: %d messages were already waiting", cap(n.queue)))
	}
}

// Flush waits until every queued message has been delivered or given up,
// or ctx ends. For tests and shutdown.
func (n *Notifier) Flush(ctx context.Context) error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	idle := n.idle
	n.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("notify: flush: %w", ctx.Err())
	}
}

// settled marks one queued message as delivered or given up.
func (n *Notifier) settled() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.busy--
	if n.busy == 0 {
		close(n.idle)
	}
}

// Delivered returns how many messages were delivered so far.
func (n *Notifier) Delivered() int {
	if !n.Enabled() {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.delivered
}

// Close stops accepting messages, lets the message being delivered finish
// its attempt, records the ones still waiting as not delivered, and waits
// for the worker until ctx ends.
func (n *Notifier) Close(ctx context.Context) error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.stop)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("notify: close: %w", ctx.Err())
	}
}

func (n *Notifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.stop:
			n.drainAsFailed()
			return
		case ev := <-n.queue:
			n.deliver(ev)
			n.settled()
		}
	}
}

func (n *Notifier) drainAsFailed() {
	for {
		select {
		case ev := <-n.queue:
			n.fail(context.Background(), ev, 0, errors.New("not sent: the console stopped first"))
			n.settled()
		default:
			return
		}
	}
}

// deliver tries ev up to the configured attempts.
func (n *Notifier) deliver(ev Event) {
	body, err := n.payload(ev)
	if err != nil {
		n.fail(context.Background(), ev, 0, err)
		return
	}
	var last error
	for attempt := 1; attempt <= n.attempts; attempt++ {
		retry, err := n.post(body)
		if err == nil {
			n.mu.Lock()
			n.delivered++
			n.mu.Unlock()
			n.log.Debug("webhook message delivered", "event", ev.Kind, "subject", ev.Subject, "attempt", attempt)
			return
		}
		last = err
		if !retry || attempt == n.attempts {
			n.fail(context.Background(), ev, attempt, last)
			return
		}
		n.log.Warn("webhook message not delivered; retrying", "event", ev.Kind, "subject", ev.Subject, "attempt", attempt, "err", err)
		t := time.NewTimer(n.backoff(attempt))
		select {
		case <-t.C:
		case <-n.stop:
			t.Stop()
			n.fail(context.Background(), ev, attempt, fmt.Errorf("%w; not retried: the console stopped", last))
			return
		}
	}
}

// fail logs and records a message given up.
func (n *Notifier) fail(ctx context.Context, ev Event, attempts int, err error) {
	n.log.Error("webhook message not delivered", "event", ev.Kind, "subject", ev.Subject, "attempts", attempts, "err", err)
	if n.db == nil {
		return
	}
	at := n.now().UnixMilli()
	if _, dberr := n.db.Write.ExecContext(ctx, `INSERT INTO webhook_failures (failed_at, event, subject, title, attempts, error)
		VALUES (?, ?, ?, ?, ?, ?)`, at, ev.Kind, ev.Subject, ev.Title, attempts, err.Error()); dberr != nil {
		n.log.Error("webhook failure not recorded", "event", ev.Kind, "subject", ev.Subject, "err", dberr)
		return
	}
	if _, dberr := n.db.Write.ExecContext(ctx, `DELETE FROM webhook_failures WHERE id <= (
		SELECT id FROM webhook_failures ORDER BY id DESC LIMIT 1 OFFSET ?)`, maxFailuresKept); dberr != nil {
		n.log.Warn("old webhook failures not pruned", "err", dberr)
	}
}

// Failure is a message that was not delivered.
type Failure struct {
	ID       int64     `db:"id"`
	FailedAt time.Time `db:"-"`
	At       int64     `db:"failed_at"`
	Event    string    `db:"event"`
	Subject  string    `db:"subject"`
	Title    string    `db:"title"`
	Attempts int       `db:"attempts"`
	Error    string    `db:"error"`
}

// Failures returns the newest failed deliveries, at most limit.
func Failures(ctx context.Context, db *store.DB, limit int) ([]Failure, error) {
	if limit <= 0 {
		limit = 50
	}
	var out []Failure
	if err := db.Read.SelectContext(ctx, &out, `SELECT id, failed_at, event, subject, title, attempts, error
		FROM webhook_failures ORDER BY failed_at DESC, id DESC LIMIT ?`, limit); err != nil {
		return nil, fmt.Errorf("notify: list failures: %w", err)
	}
	for i := range out {
		out[i].FailedAt = time.UnixMilli(out[i].At).UTC()
	}
	return out, nil
}
