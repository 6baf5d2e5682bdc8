package auth

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RateLimit is a token bucket per key, counted in the database (table
// rate_limits) so that every replica sharing it counts the same requests:
// a client cannot get a fresh bucket by reaching another replica. Each
// decision is one upsert, atomic on both engines, so concurrent requests
// (of any replica) never spend the same token twice.
//
// The bucket is kept as one time (GCRA): tat, the moment the bucket will be
// full again. A request at now is allowed when max(tat, now) + interval
// stays within burst intervals of now, and then moves tat on by one
// interval; a refused request changes nothing.
type RateLimit struct {
	s        *Store
	kind     string
	interval int64 // ms per token
	burst    int64
	now      func() time.Time

	mu        sync.Mutex
	lastPrune time.Time
}

// RateLimitAnonymous is the kind of the limit on state-changing requests
// of people not signed in, keyed by client address.
const RateLimitAnonymous = "anon"

// NewRateLimit returns the limit of kind ("anon": state-changing requests
// of people not signed in, per client address): perSecond tokens a second,
// burst at once.
func (s *Store) NewRateLimit(kind string, perSecond float64, burst int) *RateLimit {
	iv := int64(1000 / perSecond)
	if iv < 1 {
		iv = 1
	}
	return &RateLimit{s: s, kind: kind, interval: iv, burst: int64(max(burst, 1)), now: s.now}
}

// rateLimitSQL is the bucket's one upsert. Every expression of the SET
// reads the row as it was, on both engines. (CASE rather than max or
// GREATEST, which the engines spell differently.)
const rateLimitSQL = `INSERT INTO rate_limits (kind, key, tat, ok) VALUES (?, ?, ?, 1)
ON CONFLICT (kind, key) DO UPDATE SET
  tat = CASE WHEN (CASE WHEN rate_limits.tat > ? THEN rate_limits.tat ELSE ? END) + ? <= ?
             THEN (CASE WHEN rate_limits.tat > ? THEN rate_limits.tat ELSE ? END) + ?
             ELSE rate_limits.tat END,
  ok  = CASE WHEN (CASE WHEN rate_limits.tat > ? THEN rate_limits.tat ELSE ? END) + ? <= ?
             THEN 1 ELSE 0 END
RETURNING ok`

// Allow takes a token from key's bucket and reports whether there was one.
func (l *RateLimit) Allow(ctx context.Context, key string) (bool, error) {
	if len(key) > maxSubjectLen {
		key = key[:maxSubjectLen]
	}
	at := l.now()
	now := millis(at)
	limit := now + l.burst*l.interval // the latest tat a full-enough bucket may reach
	var ok int
	err := l.s.db.Write.GetContext(ctx, &ok, rateLimitSQL,
		l.kind, key, now+l.interval,
		now, now, l.interval, limit,
		now, now, l.interval,
		now, now, l.interval, limit)
	if err != nil {
		return false, fmt.Errorf("auth: rate limit %s: %w", l.kind, err)
	}
	l.prune(ctx, at)
	return ok == 1, nil
}

// pruneEvery is how often a replica removes full buckets.
const pruneEvery = 10 * time.Minute

// prune removes the buckets that are full again (their rows say nothing a
// missing row does not), at most every pruneEvery.
func (l *RateLimit) prune(ctx context.Context, at time.Time) {
	l.mu.Lock()
	due := at.Sub(l.lastPrune) >= pruneEvery
	if due {
		l.lastPrune = at
	}
	l.mu.Unlock()
	if !due {
		return
	}
	if _, err := l.s.db.Write.ExecContext(ctx, `DELETE FROM rate_limits WHERE kind = ? AND tat < ?`, l.kind, millis(at)); err != nil {
		l.s.log.WarnContext(ctx, "remove full rate-limit buckets", "kind", l.kind, "err", err)
	}
}
