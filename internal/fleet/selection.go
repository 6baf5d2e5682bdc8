package fleet

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
)

// Selections keeps each user's selection of servers in SQLite (table
// selections, migration 0005), so it survives paging, filtering, refreshes
// and reloads.
//
// A selection belongs to a user (the owner is the user id), not to a
// session: all of a user's tabs and devices share it, and it is deleted with
// the user. Server ids are stored as given; ids that are no longer in the
// fleet are dropped by Resolve, which reads the selection against a snapshot.
type Selections struct {
	db  *store.DB
	now func() time.Time
}

// NewSelections returns the selection store over db. now is the clock
// (time.Now when nil).
func NewSelections(db *store.DB, now func() time.Time) *Selections {
	if now == nil {
		now = time.Now
	}
	return &Selections{db: db, now: now}
}

// Toggle selects (on) or deselects server id for owner.
func (s *Selections) Toggle(ctx context.Context, owner int64, id string, on bool) error {
	if on {
		return s.Add(ctx, owner, id)
	}
	return s.Remove(ctx, owner, id)
}

const selectionInsert = `INSERT INTO selections (user_id, server_id, created_at) VALUES (?, ?, ?)
ON CONFLICT (user_id, server_id) DO NOTHING`

// Add selects every id for owner (already selected ids stay as they are),
// in one transaction.
func (s *Selections) Add(ctx context.Context, owner int64, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	now := s.now().UnixMilli()
	return s.tx(ctx, "add", func(tx *sqlx.Tx) error {
		stmt, err := tx.PrepareContext(ctx, selectionInsert)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			if id == "" {
				continue
			}
			if _, err := stmt.ExecContext(ctx, owner, id, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// Remove deselects every id for owner, in one transaction.
func (s *Selections) Remove(ctx context.Context, owner int64, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.tx(ctx, "remove", func(tx *sqlx.Tx) error {
		return removeIDs(ctx, tx, owner, ids)
	})
}

func removeIDs(ctx context.Context, tx *sqlx.Tx, owner int64, ids []string) error {
	stmt, err := tx.PrepareContext(ctx, `DELETE FROM selections WHERE user_id = ? AND server_id = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, id := range ids {
		if _, err := stmt.ExecContext(ctx, owner, id); err != nil {
			return err
		}
	}
	return nil
}

// Clear empties owner's selection.
func (s *Selections) Clear(ctx context.Context, owner int64) error {
	return s.tx(ctx, "clear", func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM selections WHERE user_id = ?`, owner)
		return err
	})
}

// List returns owner's selected server ids, oldest selection first. It does
// not check them against the fleet; see Resolve.
func (s *Selections) List(ctx context.Context, owner int64) ([]string, error) {
	var ids []string
	err := s.db.Read.SelectContext(ctx, &ids,
		`SELECT server_id FROM selections WHERE user_id = ? ORDER BY created_at, server_id`, owner)
	if err != nil {
		return nil, fmt.Errorf("fleet: list selection: %w", err)
	}
	return ids, nil
}

// Count returns how many server ids owner has selected (including any not
// yet dropped by Resolve).
func (s *Selections) Count(ctx context.Context, owner int64) (int, error) {
	var n int
	if err := s.db.Read.GetContext(ctx, &n, `SELECT count(*) FROM selections WHERE user_id = ?`, owner); err != nil {
		return 0, fmt.Errorf("fleet: count selection: %w", err)
	}
	return n, nil
}

// Resolve returns owner's selected servers as they are in snap, in the
// snapshot's order. Selected ids that are not in snap (servers deleted since
// they were selected) are dropped from the selection for good, since a
// snapshot is always a complete list walk. With a nil snapshot (the fleet
// could never be fetched) nothing is dropped and nothing is returned.
func (s *Selections) Resolve(ctx context.Context, owner int64, snap *Snapshot) ([]*modelarts.ServerResponse, error) {
	ids, err := s.List(ctx, owner)
	if err != nil {
		return nil, err
	}
	if snap == nil || len(ids) == 0 {
		return nil, nil
	}
	var gone []string
	idx := make([]int, 0, len(ids))
	for _, id := range ids {
		if i, ok := snap.index(id); ok {
			idx = append(idx, i)
		} else {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		if err := s.tx(ctx, "drop missing", func(tx *sqlx.Tx) error {
			return removeIDs(ctx, tx, owner, gone)
		}); err != nil {
			return nil, err
		}
	}
	// Snapshot order keeps previews and batches in a stable, familiar order.
	slices.Sort(idx)
	out := make([]*modelarts.ServerResponse, len(idx))
	for k, i := range idx {
		out[k] = &snap.Servers[i]
	}
	return out, nil
}

func (s *Selections) tx(ctx context.Context, op string, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fleet: selection %s: begin: %w", op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("fleet: selection %s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("fleet: selection %s: commit: %w", op, err)
	}
	return nil
}
