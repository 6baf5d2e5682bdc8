package batch

import (
	"context"
	"fmt"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// ServerBatch is one batch that was sent to a server, as the server's page
// lists it: built from the batch records, not from the audit log.
type ServerBatch struct {
	ID            string
	UserID        int64
	UserName      string
	Action        modelarts.BatchType
	CreatedAt     time.Time
	Status        string
	InitialStatus modelarts.Status
	// FinalStatus is the state the server settled in ("" until recorded).
	FinalStatus modelarts.Status
}

// ForServer returns the most recent batches sent to serverID, newest first:
// those of userID, or everyone's when userID is 0. limit is capped to
// 1..500. It only reads.
func (s *Service) ForServer(ctx context.Context, serverID string, userID int64, limit int) ([]ServerBatch, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q := `SELECT b.id, b.user_id, b.user_name, b.action, b.created_at, b.status,
		v.initial_status, v.final_status
		FROM batch_servers v JOIN batches b ON b.id = v.batch_id
		WHERE v.server_id = ?`
	args := []any{serverID}
	if userID != 0 {
		q += ` AND b.user_id = ?`
		args = append(args, userID)
	}
	q += ` ORDER BY b.created_at DESC, b.id LIMIT ?`
	args = append(args, limit)
	var rows []struct {
		ID            string `db:"id"`
		UserID        int64  `db:"user_id"`
		UserName      string `db:"user_name"`
		Action        string `db:"action"`
		CreatedAt     int64  `db:"created_at"`
		Status        string `db:"status"`
		InitialStatus string `db:"initial_status"`
		FinalStatus   string `db:"final_status"`
	}
	if err := s.db.Read.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("batch: batches of server %s: %w", serverID, err)
	}
	out := make([]ServerBatch, len(rows))
	for i, r := range rows {
		out[i] = ServerBatch{
			ID: r.ID, UserID: r.UserID, UserName: r.UserName, Action: modelarts.BatchType(r.Action),
			CreatedAt: time.UnixMilli(r.CreatedAt), Status: r.Status,
			InitialStatus: modelarts.Status(r.InitialStatus), FinalStatus: modelarts.Status(r.FinalStatus),
		}
	}
	return out, nil
}
