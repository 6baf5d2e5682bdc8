package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification is a message published with Notify.
type Notification struct {
	Channel string
	Payload string
	// Missed is set, with no payload, when notifications may have been lost
	// (the subscription's connection broke and was re-established): the
	// subscriber should assume anything it watches changed.
	Missed bool
}

// Notify publishes payload on channel to every subscriber of every replica
// sharing the database, this one's included. Call it after the change it
// announces has committed. On PostgreSQL it is NOTIFY (payloads up to 8000
// bytes); on SQLite, where one process serves the database, it reaches this
// process's subscribers.
func (db *DB) Notify(ctx context.Context, channel, payload string) error {
	if db.Engine == Postgres {
		if _, err := db.Write.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
			return fmt.Errorf("store: notify %s: %w", channel, err)
		}
		return nil
	}
	db.hub.publish(Notification{Channel: channel, Payload: payload})
	return nil
}

// Subscribe returns the notifications published on channel from now until
// ctx ends, when the returned channel is closed. Delivery is in order and
// nothing is dropped while the subscription's connection holds; after it
// broke and was re-established, a Notification with Missed set comes first.
// Read the channel promptly: a subscriber that does not keeps the
// notifications waiting.
func (db *DB) Subscribe(ctx context.Context, channel string) (<-chan Notification, error) {
	if db.Engine == Postgres {
		return db.subscribePostgres(ctx, channel)
	}
	return db.hub.subscribe(ctx, channel), nil
}

func (db *DB) subscribePostgres(ctx context.Context, channel string) (<-chan Notification, error) {
	conn, err := listen(ctx, db.dsn, channel)
	if err != nil {
		return nil, err
	}
	out := make(chan Notification)
	go func() {
		defer close(out)
		defer func() {
			if conn != nil {
				conn.Close(context.WithoutCancel(ctx))
			}
		}()
		send := func(n Notification) bool {
			select {
			case out <- n:
				return true
			case <-ctx.Done():
				return false
			}
		}
		backoff := time.Second
		for {
			if conn == nil {
				t := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				c, err := listen(ctx, db.dsn, channel)
				if err != nil {
					backoff = min(2*backoff, 30*time.Second)
					continue
				}
				conn, backoff = c, time.Second
				if !send(Notification{Channel: channel, Missed: true}) {
					return
				}
			}
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
				continue
			}
			if !send(Notification{Channel: n.Channel, Payload: n.Payload}) {
				return
			}
		}
	}()
	return out, nil
}

// listen opens a connection of its own that listens on channel.
func listen(ctx context.Context, dsn, channel string) (*pgx.Conn, error) {
	conn, err := connect(ctx, dsn, "devserver-console listen")
	if err != nil {
		return nil, fmt.Errorf("store: subscribe %s: %w", channel, redactErr(err, dsn))
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("store: subscribe %s: %w", channel, err)
	}
	return conn, nil
}

// hub delivers notifications within one process (SQLite).
type hub struct {
	mu   sync.Mutex
	subs map[string]map[*subscriber]struct{}
}

func newHub() *hub { return &hub{subs: map[string]map[*subscriber]struct{}{}} }

// subscriber queues notifications without bound, so publishing never
// waits for a slow reader; its goroutine hands them on in order.
type subscriber struct {
	mu    sync.Mutex
	queue []Notification
	wake  chan struct{}
}

func (h *hub) subscribe(ctx context.Context, channel string) <-chan Notification {
	s := &subscriber{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs[channel] == nil {
		h.subs[channel] = map[*subscriber]struct{}{}
	}
	h.subs[channel][s] = struct{}{}
	h.mu.Unlock()
	out := make(chan Notification)
	go func() {
		defer close(out)
		defer func() {
			h.mu.Lock()
			delete(h.subs[channel], s)
			h.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			s.mu.Lock()
			q := s.queue
			s.queue = nil
			s.mu.Unlock()
			for _, n := range q {
				select {
				case out <- n:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func (h *hub) publish(n Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[n.Channel] {
		s.mu.Lock()
		s.queue = append(s.queue, n)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

var errClosed = errors.New("store: claims closed")

// connect opens a connection of its own (outside the pools), named
// application_name so an operator sees what holds it.
func connect(ctx context.Context, dsn, application string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = application
	cfg.RuntimeParams["timezone"] = "UTC"
	return pgx.ConnectConfig(ctx, cfg)
}
