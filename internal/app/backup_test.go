package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
)

// auditCount is the number of audit entries in the database file at path.
func auditCount(t *testing.T, path string) int {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Read.Get(&n, `SELECT count(*) FROM audit_entries`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBackupWhileBatchesRun takes 'console backup' of the live database while
// batches are being sent, verifies the copy with 'console audit verify
// --db', refuses to restore over the running console, and restores it once
// the console has stopped.
func TestBackupWhileBatchesRun(t *testing.T) {
	const batches, serversEach = 3, 4
	cfg := testConfig(t)
	cfg.SimServers = 80
	cfg.ChunkSize = 1
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	admin, snap := adminAndFleet(t, a)
	var eligible []string
	for _, s := range snap.Servers {
		if ok, _ := modelarts.Eligible(modelarts.BatchReboot, &s); ok {
			eligible = append(eligible, s.ID)
		}
	}
	if len(eligible) < batches*serversEach {
		t.Fatalf("only %d servers can reboot, want %d", len(eligible), batches*serversEach)
	}
	// Every call takes a while, so the batches are still sending while the
	// backup is taken.
	a.Simulator().SetFaults(simulator.Faults{Latency: 150 * time.Millisecond})

	var wg sync.WaitGroup
	errs := make(chan error, batches)
	for b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := a.Batches().Prepare(ctx, admin, modelarts.BatchReboot, eligible[b*serversEach:(b+1)*serversEach], snap)
			if err != nil {
				errs <- fmt.Errorf("prepare batch %d: %w", b, err)
				return
			}
			if _, err := a.Batches().Execute(ctx, batch.ExecuteRequest{User: admin, Token: p.Token,
				Meta: batch.Meta{ClientIP: "192.0.2.8", UserAgent: "test"}}); err != nil {
				errs <- fmt.Errorf("execute batch %d: %w", b, err)
			}
		}()
	}
	before := auditCount(t, cfg.DBPath)
	testutil.Eventually(t, 20*time.Second, "the batches start sending", func() error {
		if n := auditCount(t, cfg.DBPath); n < before+2 {
			return fmt.Errorf("%d audit entries", n)
		}
		return nil
	})

	dbEnv := envOf(map[string]string{"CONSOLE_DB": cfg.DBPath})
	backup := filepath.Join(t.TempDir(), "backup.db")
	r := runCLI(t, dbEnv, "", "backup", backup)
	keyFile := config.DefaultAuditKeyFile(cfg.DBPath)
	for _, want := range []string{"integrity ok", "audit chain intact", "HMAC-SHA256 under audit key", "keep a copy of " + keyFile} {
		if r.Err != nil || !strings.Contains(r.Stdout, want) {
			t.Fatalf("backup while batches run: %v; want %q in\n%s%s", r.Err, want, r.Stdout, r.Stderr)
		}
	}
	// The backup's keyed log verifies with the live database's key, and
	// without it is not called intact.
	if r := runCLI(t, envOf(map[string]string{"CONSOLE_AUDIT_KEY_FILE": keyFile}), "", "audit", "verify", "--db", backup); r.Err != nil || !strings.Contains(r.Stdout, "audit chain intact") {
		t.Fatalf("audit verify --db backup with the key: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	if r := runCLI(t, envOf(nil), "", "audit", "verify", "--db", backup); exitCode(r.Err) != 1 || !strings.Contains(r.Stdout, "give that key") {
		t.Fatalf("audit verify --db backup without the key: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	if r := runCLI(t, dbEnv, "", "backup", backup); exitCode(r.Err) != 1 || !strings.Contains(r.Stderr, "exists") {
		t.Errorf("a backup over an existing file: exit %d, %s", exitCode(r.Err), r.Stderr)
	}
	if r := runCLI(t, dbEnv, "", "restore", backup); exitCode(r.Err) != 1 || !strings.Contains(r.Stderr, "in use") {
		t.Errorf("restore over the running console: exit %d\n%s%s", exitCode(r.Err), r.Stdout, r.Stderr)
	}

	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	a.Batches().Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	inBackup, live := auditCount(t, backup), auditCount(t, cfg.DBPath)
	if inBackup >= live {
		t.Fatalf("the backup has %d audit entries and the finished log %d: it was not taken while the batches ran", inBackup, live)
	}

	// Restore it in place of the stopped console's database.
	r = runCLI(t, dbEnv, "", "restore", backup)
	if r.Err != nil || !strings.Contains(r.Stdout, "restored "+backup) || !strings.Contains(r.Stdout, "audit chain intact") {
		t.Fatalf("restore: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
	kept, _ := filepath.Glob(cfg.DBPath + ".before-restore-*")
	if len(kept) == 0 || auditCount(t, kept[0]) != live {
		t.Errorf("the replaced database was not kept whole: %v", kept)
	}
	if got := auditCount(t, cfg.DBPath); got != inBackup {
		t.Errorf("restored database has %d audit entries, the backup %d", got, inBackup)
	}
	// The console starts on the restored file (recovering the calls the
	// backup caught in flight) and its chain still verifies.
	a2, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatalf("start on the restored database: %v", err)
	}
	res, err := a2.Audit().Verify(ctx)
	a2.Close()
	if err != nil || !res.OK {
		t.Fatalf("verify the restored log after start: %+v, %v", res, err)
	}
}

// TestRestoreRefusesWhatIsNotABackup checks that restore changes nothing
// when the file is not a console database or its audit chain is broken.
func TestRestoreRefusesWhatIsNotABackup(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "console.db")
	env := envOf(map[string]string{"CONSOLE_DB": target})
	if r := runCLI(t, env, "", "user", "list"); r.Err != nil { // creates the target
		t.Fatal(r.Err, r.Stderr)
	}
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "", "restore", notDB); exitCode(r.Err) != 1 || !strings.Contains(r.Stderr, "not a readable SQLite database") {
		t.Errorf("restore of a text file: exit %d, %s", exitCode(r.Err), r.Stderr)
	}
	if r := runCLI(t, env, "", "restore"); exitCode(r.Err) != 2 {
		t.Errorf("restore without a file: exit %d, want 2", exitCode(r.Err))
	}
	if kept, _ := filepath.Glob(target + ".before-restore-*"); len(kept) != 0 {
		t.Errorf("a refused restore moved the database aside: %v", kept)
	}
}

// TestRestoreRefusesABrokenChain: a backup whose audit log was edited is not
// put in place, and the database stays as it was.
func TestRestoreRefusesABrokenChain(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Audit().RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: "alice", ClientIP: "192.0.2.1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if r := runCLI(t, envOf(map[string]string{"CONSOLE_DB": cfg.DBPath}), "", "backup", backup); r.Err != nil {
		t.Fatalf("backup: %v\n%s", r.Err, r.Stderr)
	}
	raw, err := sqlx.Open("sqlite", "file:"+backup)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_entries_no_update`, `UPDATE audit_entries SET actor_name = 'mallory' WHERE actor_name = 'alice'`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	target := filepath.Join(t.TempDir(), "console.db")
	// With the key, so what is found is the edit, not a missing key.
	env := envOf(map[string]string{"CONSOLE_DB": target, "CONSOLE_AUDIT_KEY_FILE": config.DefaultAuditKeyFile(cfg.DBPath)})
	r := runCLI(t, env, "", "restore", backup)
	if exitCode(r.Err) != 1 || !strings.Contains(r.Stdout, "content does not match its keyed hash") || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Fatalf("restore of a tampered backup: exit %d\n%s%s", exitCode(r.Err), r.Stdout, r.Stderr)
	}
	if fileExists(target) {
		t.Error("a refused restore created the target database")
	}
	if left, _ := filepath.Glob(target + ".restoring*"); len(left) != 0 {
		t.Errorf("a refused restore left %v behind", left)
	}
}
