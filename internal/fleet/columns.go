package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Columns returns the fleet table columns owner chose (column keys), or
// nil when they never chose (show the default). The keys are the view's;
// this store only keeps them (table fleet_columns, migration 0019).
func (s *Selections) Columns(ctx context.Context, owner int64) ([]string, error) {
	var raw string
	err := s.db.Read.GetContext(ctx, &raw, `SELECT columns FROM fleet_columns WHERE user_id = ?`, owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("fleet: read columns: %w", err)
	}
	out := []string{} // chosen, possibly none: not nil
	for _, k := range strings.Split(raw, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out, nil
}

// SetColumns remembers the fleet table columns owner chose (nil forgets
// the choice, back to the default). Keys must not contain commas.
func (s *Selections) SetColumns(ctx context.Context, owner int64, keys []string) error {
	for _, k := range keys {
		if strings.Contains(k, ",") {
			return fmt.Errorf("fleet: column key %q contains a comma", k)
		}
	}
	return s.tx(ctx, "columns", func(tx *sqlx.Tx) error {
		if keys == nil {
			_, err := tx.ExecContext(ctx, `DELETE FROM fleet_columns WHERE user_id = ?`, owner)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO fleet_columns (user_id, columns, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET columns = excluded.columns, updated_at = excluded.updated_at`,
			owner, strings.Join(keys, ","), s.now().UnixMilli())
		return err
	})
}
