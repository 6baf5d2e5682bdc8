package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

// seedSQL puts at least one row in every table, with the awkward values a
// copy must keep: NULLs, empty and non-UTF-8 bytes, quotes, non-ASCII text,
// large integers.
var seedSQL = []string{
	`INSERT INTO settings (key, value) VALUES ('session_key', x'00ff10'), ('empty', x'')`,
	`INSERT INTO users (id, name, role, password_hash, disabled, created_at, updated_at, password_changed_at)
	 VALUES (1, 'admin', 'admin', '$argon2id$x', 0, 1767225600000, 1767225600000, 1767225600000),
	        (7, 'Zoë O''Brien', 'operator', 'h', 1, 1, 2, 3)`,
	`INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, revoked_at, revoked_reason, client_ip, user_agent)
	 VALUES ('s1', 1, 1, 2, 3, NULL, '', '127.0.0.1', 'curl'), ('s2', 7, 1, 2, 3, 4, 'signed out', '::1', 'Firefox')`,
	`UPDATE sessions SET factor_pending = 1 WHERE id_hash = 's2'`,
	`INSERT INTO user_factors (user_id, secret, created_at, confirmed_at, last_step) VALUES (1, 'plain:JBSWY3DPEHPK3PXP', 1, 2, 59000000), (7, 'sealed:v1:x', 1, NULL, 0)`,
	`INSERT INTO recovery_codes (id, user_id, code_hash, used_at) VALUES (4, 1, 'c1', NULL), (5, 1, 'c2', 9007199254740993)`,
	`INSERT INTO signin_throttle (kind, name, addr, failures, last_failure_at, blocked_until)
	 VALUES ('pair', 'admin', '10.0.0.1', 3, 5, 6), ('addr', '', '10.0.0.1', 4, 5, 9007199254740993)`,
	`INSERT INTO audit_entries (id, created_at, kind, actor_id, actor_name, targets, request_body, response_body, ref_id, prev_hash, hash)
	 VALUES (1, '2026-01-01T00:00:00.000000Z', 'request', 1, 'admin', '[{"id":"a","name":"gpu-1"}]', x'7b7d', x'', 0, 'g', 'h1'),
	        (2, '2026-01-01T00:00:01.000000Z', 'response', 1, 'admin', '[]', x'', x'80ff', 1, 'h1', 'h2')`,
	`INSERT INTO audit_entry_servers (server_key, entry_id) VALUES ('a', 1), ('gpu-1', 1)`,
	`INSERT INTO audit_index_state (id, indexed_to) VALUES (1, 2)`,
	`INSERT INTO audit_verifications (id, verified_at, ok, entries, first_broken, reason, head_id, head_hash, duration_ms)
	 VALUES (1, '2026-01-01T00:00:02Z', 1, 2, 0, '', 2, 'h2', 3)`,
	`INSERT INTO prepared_actions (token_hash, user_id, user_name, action, targets, skipped, created_at, expires_at, used_at, batch_id)
	 VALUES ('t1', 1, 'admin', 'STOP', '[]', '[]', 1, 2, NULL, NULL), ('t2', 1, 'admin', 'START', '[]', '[]', 1, 2, 3, 'b1')`,
	`INSERT INTO batches (id, user_id, user_name, action, params, created_at, chunk_size, total, skipped, status, finished_at)
	 VALUES ('b1', 1, 'admin', 'START', '{}', 1, 50, 2, '[]', 'running', NULL)`,
	`INSERT INTO batch_chunks (batch_id, n, server_ids, outcome, started_at, http_status, error_msg)
	 VALUES ('b1', 0, '["a"]', 'ok', 1, 200, ''), ('b1', 1, '["b"]', 'api_error', 2, 400, 'quota "exceeded"')`,
	`INSERT INTO batch_servers (batch_id, server_id, name, chunk, initial_status, ack_status, ack_update_at, final_status, finished_at)
	 VALUES ('b1', 'a', 'gpu-1', 0, 'STOPPED', 'STARTING', 5, '', NULL)`,
	`INSERT INTO selections (user_id, server_id, created_at) VALUES (7, 'a', 1)`,
	`INSERT INTO fleet_columns (user_id, columns, updated_at) VALUES (7, 'name,status', 1)`,
	`INSERT INTO user_preferences (user_id, theme, language, time_zone, updated_at) VALUES (7, 'dark', 'zh-Hans', 'Asia/Shanghai', 1)`,
	`INSERT INTO approval_requests (id, requester_id, requester_name, action, servers, params, secrets, reason, state, created_at, expires_at, decided_at, decider_id, decider_name, comment, batch_id)
	 VALUES ('r1', 7, 'Zoë O''Brien', 'REINSTALLOS', '[{"id":"a"}]', '{"image_id":"i"}', x'00ff10', 'rack 7', 'pending', 1, 2, NULL, 0, '', '', ''),
	        ('r2', 7, 'Zoë O''Brien', 'DELETE', '[]', '{}', NULL, 'old', 'approved', 1, 2, 3, 1, 'admin', 'ok', 'b1')`,
	`UPDATE batches SET approval_id = 'r2' WHERE id = 'b1'`,
	`UPDATE prepared_actions SET approval_id = 'r2' WHERE token_hash = 't2'`,
	`INSERT INTO webhook_failures (id, failed_at, event, subject, title, attempts, error)
	 VALUES (3, 1767225600000, 'approval.requested', 'r1', 'Delete of 2 servers', 5, 'HTTP 503: "busy"')`,
	`INSERT INTO user_projects (user_id, project) VALUES (7, 'cn-north-9'), (7, 'Zoë''s lab')`,
	`UPDATE batches SET project = 'cn-north-9'`,
	`INSERT INTO rate_limits (kind, key, tat, ok) VALUES ('anon', '10.0.0.1', 1767225600000, 1)`,
}

func seed(t *testing.T, db *store.DB) {
	t.Helper()
	for _, q := range seedSQL {
		if db.Engine == store.Postgres {
			q = strings.NewReplacer("x'00ff10'", `'\x00ff10'::bytea`, "x''", `'\x'::bytea`, "x'7b7d'", `'\x7b7d'::bytea`, "x'80ff'", `'\x80ff'::bytea`).Replace(q)
		}
		if _, err := db.Write.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("seed: %v\n%s", err, q)
		}
	}
}

// dump returns every row of every table (but audit_search), as text, sorted.
func dump(t *testing.T, db *store.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	for _, tb := range store.Tables(ctx, t, db) {
		if slices.Contains(store.TextIndexTables, tb) {
			continue
		}
		rows, err := db.Read.QueryxContext(ctx, `SELECT * FROM `+tb)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		out[tb] = []string{}
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if s, ok := v.(string); ok {
					v = []byte(s) // the drivers differ in which they give for TEXT
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			out[tb] = append(out[tb], b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		sort.Strings(out[tb])
	}
	return out
}

// TestCopyBetweenEngines copies a SQLite database holding a row in every
// table to PostgreSQL and back into a new SQLite file, and checks that
// every row arrived unchanged both ways and that new rows get fresh ids.
func TestCopyBetweenEngines(t *testing.T) {
	ctx := context.Background()
	lite := open(t, filepath.Join(t.TempDir(), "from.db"))
	seed(t, lite)
	want := dump(t, lite)
	for tb, rows := range want {
		if len(rows) == 0 {
			t.Errorf("the seed leaves %s empty: add rows for it to seedSQL", tb)
		}
	}

	pg := open(t, pgtest.NewDatabase(t))
	counts, err := store.Copy(ctx, pg, lite, store.TextIndexTables...)
	if err != nil {
		t.Fatalf("Copy SQLite → PostgreSQL: %v", err)
	}
	if counts["users"] != 2 || counts["audit_entries"] != 2 {
		t.Errorf("counts = %v", counts)
	}
	if diff := cmp.Diff(want, dump(t, pg)); diff != "" {
		t.Errorf("PostgreSQL after the copy differs (-SQLite +PostgreSQL):\n%s", diff)
	}
	var id int64
	if err := pg.Write.GetContext(ctx, &id, `INSERT INTO users (name, role, password_hash, created_at, updated_at, password_changed_at)
		VALUES ('new', 'viewer', 'x', 0, 0, 0) RETURNING id`); err != nil || id != 8 {
		t.Errorf("a new user after the copy got id %d, %v; want 8 (after the copied 7)", id, err)
	}
	if _, err := pg.Write.ExecContext(ctx, `DELETE FROM users WHERE id = 8`); err != nil {
		t.Fatal(err)
	}

	back := open(t, filepath.Join(t.TempDir(), "back.db"))
	if _, err := store.Copy(ctx, back, pg, store.TextIndexTables...); err != nil {
		t.Fatalf("Copy PostgreSQL → SQLite: %v", err)
	}
	if diff := cmp.Diff(want, dump(t, back)); diff != "" {
		t.Errorf("SQLite after the round trip differs (-before +after):\n%s", diff)
	}
}

// TestCopyRefusesATargetWithData checks that nothing is copied over data.
func TestCopyRefusesATargetWithData(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		src := open(t, filepath.Join(t.TempDir(), "src.db"))
		seed(t, src)
		dst := open(t, dsn)
		if _, err := dst.Write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('session_key', 'other')`); err != nil {
			t.Fatal(err)
		}
		_, err := store.Copy(ctx, dst, src, store.TextIndexTables...)
		if !errors.Is(err, store.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "settings") {
			t.Fatalf("Copy into a database with data = %v, want ErrTargetNotEmpty naming settings", err)
		}
		var n int
		if err := dst.Read.GetContext(ctx, &n, `SELECT count(*) FROM users`); err != nil || n != 0 {
			t.Errorf("users in the target after the refused copy = %d, %v", n, err)
		}
	})
}

// TestCopyIsAllOrNothing checks that a copy failing half-way leaves the
// target empty.
func TestCopyIsAllOrNothing(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		src := open(t, filepath.Join(t.TempDir(), "src.db"))
		seed(t, src)
		// A value the target's column cannot take (SQLite keeps any type).
		if _, err := src.Write.ExecContext(ctx, `INSERT INTO selections (user_id, server_id, created_at) VALUES (1, 'z', 'not a number')`); err != nil {
			t.Fatal(err)
		}
		dst := open(t, dsn)
		if _, err := store.Copy(ctx, dst, src, store.TextIndexTables...); err == nil || !strings.Contains(err.Error(), "selections") {
			t.Fatalf("Copy of a bad value = %v, want an error naming selections", err)
		}
		for _, tb := range []string{"users", "audit_entries", "settings"} {
			var n int
			if err := dst.Read.GetContext(ctx, &n, `SELECT count(*) FROM `+tb); err != nil || n != 0 {
				t.Errorf("%s in the target after the failed copy = %d, %v; want 0", tb, n, err)
			}
		}
	})
}

// TestCopyRefusesATableTheTargetLacks: a table only the source has (a
// migration written for one engine only) would be lost; the copy refuses
// and writes nothing.
func TestCopyRefusesATableTheTargetLacks(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		src := open(t, filepath.Join(t.TempDir(), "src.db"))
		seed(t, src)
		if _, err := src.Write.ExecContext(ctx, `CREATE TABLE only_here (x INTEGER)`); err != nil {
			t.Fatal(err)
		}
		dst := open(t, dsn)
		if _, err := store.Copy(ctx, dst, src, store.TextIndexTables...); err == nil || !strings.Contains(err.Error(), "only_here") {
			t.Fatalf("Copy of a source with a table the target lacks = %v, want an error naming it", err)
		}
		var n int
		if err := dst.Read.GetContext(ctx, &n, `SELECT count(*) FROM users`); err != nil || n != 0 {
			t.Errorf("users in the target after the refused copy = %d, %v", n, err)
		}
	})
}
