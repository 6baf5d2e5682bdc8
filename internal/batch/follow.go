package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/devserver-console/console/internal/store"
)

// Defaults for following a batch in the background.
const (
	DefaultFollowInterval = 5 * time.Second
	DefaultFollowFor      = 2 * time.Hour
)

// follow keeps checking batch id in the background until every server has
// settled and the final states are recorded (Settle): this is the one
// place that records them; the batch page only reads. It gives up after
// followFor; the next start follows the batch again. Wait and Shutdown
// stop it.
//
// The caller holds the batch's claim; follow releases it when it stops, so
// the claim shows which console follows the batch. It stops when the claim
// is lost (another console may follow the batch then).
//
// It does nothing but release the claim when following is off or there is
// no fleet cache.
func (s *Service) follow(id string, claim *store.Claim) {
	if s.fleet == nil || s.followInterval <= 0 {
		_ = claim.Release(context.Background())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.followFor)
	s.followMu.Lock()
	if s.followers == nil {
		s.followers = map[string]context.CancelFunc{}
	}
	if _, dup := s.followers[id]; dup {
		s.followMu.Unlock()
		cancel()
		_ = claim.Release(context.Background())
		return
	}
	s.followers[id] = cancel
	s.followWG.Add(1)
	s.followMu.Unlock()

	go func() {
		defer s.followWG.Done()
		defer func() {
			s.followMu.Lock()
			delete(s.followers, id)
			s.followMu.Unlock()
			cancel()
			if err := claim.Release(context.Background()); err != nil {
				s.log.Warn("release the claim on a followed batch", slog.String("batch_id", id), slog.String("err", err.Error()))
			}
		}()
		t := time.NewTicker(s.followInterval)
		defer t.Stop()
		for {
			select {
			case <-claim.Lost():
				s.log.Warn("stopped following a batch: lost its claim (the database connection broke); another console takes it over",
					slog.String("batch_id", id))
				return
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					s.log.Warn("batch still not settled; stopped following it (the next start follows it again)",
						slog.String("batch_id", id), slog.Duration("followed_for", s.followFor))
				}
				return
			case <-t.C:
			}
			done, err := s.check(ctx, id)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				s.log.Warn("following batch", slog.String("batch_id", id), slog.Any("err", err))
			case done:
				return
			}
		}
	}()
}

// check reads a fleet list no older than the follow interval and records
// the batch's final states if every server has settled.
func (s *Service) check(ctx context.Context, id string) (bool, error) {
	snap, err := s.fleet.Get(ctx)
	if snap == nil || s.now().Sub(snap.FetchedAt) > s.followInterval {
		// Too old to judge by (a long cache TTL) or never fetched: ask for
		// a fresh walk; concurrent callers share it.
		if fresh, ferr := s.fleet.Refresh(ctx); fresh != nil {
			snap, err = fresh, nil
		} else if ferr != nil {
			err = ferr
		}
	}
	if snap == nil {
		if err == nil {
			err = errors.New("no fleet list")
		}
		return false, fmt.Errorf("batch: follow %s: %w", id, err)
	}
	p, err := s.Settle(ctx, id, snap)
	if err != nil {
		return false, err
	}
	return p.Recorded, nil
}

// stopFollowing ends every background follower and waits for them.
func (s *Service) stopFollowing() {
	s.followMu.Lock()
	for _, cancel := range s.followers {
		cancel()
	}
	s.followMu.Unlock()
	s.followWG.Wait()
}
