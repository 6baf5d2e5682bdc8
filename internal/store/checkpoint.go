package store

import (
	"context"
	"log/slog"
	"time"
)

// SQLite writes commits to its write-ahead log and copies them into the
// database file at checkpoints. Left to itself, the committing connection
// runs a checkpoint whenever the log passes 1,000 pages, inside that
// commit: copying the pages and syncing the database file then lands on
// whichever write crossed the line, such as a batch chunk's request entry
// that the cloud call waits for (issue 11 §3). The console checkpoints in
// the background instead, from a reading connection, every
// checkpointInterval; the writer's own checkpoint stays as a backstop for a
// log that grows past writerCheckpointPages between two of them.

// checkpointInterval is how often the background checkpoint runs.
var checkpointInterval = 250 * time.Millisecond

// writerCheckpointPages is the log size (pages) at which a commit still
// checkpoints by itself.
const writerCheckpointPages = 20000

// runCheckpoints checkpoints the log (PASSIVE: it never blocks writers or
// readers) every checkpointInterval until stop is closed, then closes done.
func (db *DB) runCheckpoints(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if err := db.Checkpoint(context.Background()); err != nil {
			slog.Warn("store: background checkpoint failed; the next one retries", "db", db.Path, "err", err)
		}
	}
}

// Checkpoint copies what the write-ahead log holds into the SQLite database
// file, as far as readers allow, without blocking anyone. On PostgreSQL it
// does nothing.
func (db *DB) Checkpoint(ctx context.Context) error {
	if db.Engine != SQLite {
		return nil
	}
	var busy, logPages, done int
	if err := db.Read.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		return err
	}
	return nil
}
