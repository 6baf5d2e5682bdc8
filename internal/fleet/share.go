package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/devserver-console/console/internal/store"
)

// NotifyChannel is the channel on which consoles sharing a database tell
// each other that servers were acted on (store.DB.Notify).
const NotifyChannel = "fleet"

// sharing is a cache's link to the other consoles (replicas) sharing its
// database.
type sharing struct {
	db     *store.DB
	origin string // this cache's id: its own notifications come back to it
	log    *slog.Logger
}

// notifyTimeout bounds publishing one invalidation.
const notifyTimeout = 5 * time.Second

// Share makes the cache one of several, one per console sharing db: every
// Invalidate is published to the others, and theirs invalidate this one,
// until ctx ends. So a batch sent from one replica shows its new states on
// every replica at the next poll, each replica keeping its own cache. When
// the subscription's connection broke and came back, notifications may have
// been missed, so the cache is invalidated then too.
func (c *Cache) Share(ctx context.Context, db *store.DB, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	ch, err := db.Subscribe(ctx, NotifyChannel)
	if err != nil {
		return fmt.Errorf("fleet: share the cache: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	sh := &sharing{db: db, origin: hex.EncodeToString(b[:]), log: log}
	c.mu.Lock()
	c.shared = sh
	c.mu.Unlock()
	go func() {
		for n := range ch {
			if n.Missed || n.Payload != sh.origin {
				c.invalidateLocal()
			}
		}
	}()
	return nil
}

// publish tells the other consoles that this one invalidated its cache.
func (sh *sharing) publish() {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	if err := sh.db.Notify(ctx, NotifyChannel, sh.origin); err != nil {
		// The others show the change at their next walk (their TTL) instead.
		sh.log.Warn("fleet: tell the other consoles their server lists are stale", "err", err)
	}
}
