package approval_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

const (
	password = "Sup3r-Secret-Pass!"
	userData = "IyEvYmluL3NoCmVjaG8gc2VjcmV0LXVzZXItZGF0YQ==" // #!/bin/sh\necho secret-user-data
)

// bigUserData is 24 KiB of user data: sealed, it spills into overflow
// pages, which SQLite frees (rather than rewrites) when the value is
// erased; only secure_delete zeroes them.
var bigUserData = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("#!/bin/sh\necho secret-user-data\n"), 768))

// fileBytes checkpoints the WAL into the database file and returns the
// bytes of the file and of what is left of the WAL.
func fileBytes(t *testing.T, e *env) []byte {
	t.Helper()
	if _, err := e.db.Write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	main, err := os.ReadFile(e.db.Path)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(e.db.Path + "-wal")
	return append(main, wal...)
}

// TestSecretsAtRest checks the stored bytes: the password and user data
// are never in the database file in the clear, the sealed value is there
// while the request is pending, and it is gone from the row and from the
// file once the request is approved, denied, withdrawn or expired.
func TestSecretsAtRest(t *testing.T) {
	endings := map[string]func(e *env, r *approval.Request) error{
		"approved": func(e *env, r *approval.Request) error {
			_, err := e.svc.Approve(ctx, e.bob, r.ID, "", approval.Meta{})
			return err
		},
		"denied": func(e *env, r *approval.Request) error {
			_, err := e.svc.Deny(ctx, e.bob, r.ID, "no", approval.Meta{})
			return err
		},
		"withdrawn": func(e *env, r *approval.Request) error {
			_, err := e.svc.Withdraw(ctx, e.ann, r.ID, approval.Meta{})
			return err
		},
		"expired": func(e *env, r *approval.Request) error {
			e.clock.Advance(25 * time.Hour)
			_, err := e.svc.Sweep(ctx)
			return err
		},
	}
	for name, end := range endings {
		for _, ud := range []string{userData, bigUserData} {
			t.Run(fmt.Sprintf("%s/%d bytes", name, len(ud)), func(t *testing.T) { secretsErased(t, end, ud) })
		}
	}
}

// piecesIn counts how many of five 32-byte pieces of sealed (start, middle,
// end, ...) occur in file: a large value is split across pages, so it is
// never found whole.
func piecesIn(file, sealed []byte) int {
	n := 0
	for _, off := range []int{0, len(sealed) / 4, len(sealed) / 2, 3 * len(sealed) / 4, len(sealed) - 32} {
		if bytes.Contains(file, sealed[off:off+32]) {
			n++
		}
	}
	return n
}

func secretsErased(t *testing.T, end func(e *env, r *approval.Request) error, userData string) {
	t.Helper()
	// On SQLite whatever CONSOLE_TEST_ENGINE says: the check reads the
	// database file, and SQLite's secure_delete is what zeroes the erased
	// value there. PostgreSQL keeps an updated row's old version until
	// VACUUM (docs/replicas.md says what that means for sealed secrets).
	e := newEnvOn(t, storetest.OpenEngine(t, store.SQLite))
	r := e.request(t, e.ann, modelarts.BatchReinstallOS, &modelarts.ServerOSRequest{AdminPass: password, UserData: userData})
	sealed := e.storedSecrets(t, r.ID)
	if len(sealed) == 0 {
		t.Fatal("no sealed secrets stored for a pending request")
	}
	if bytes.Contains(sealed, []byte(password)) || bytes.Contains(sealed, []byte(userData)) {
		t.Fatal("the stored secrets are in the clear")
	}
	file := fileBytes(t, e)
	if n := piecesIn(file, sealed); n < 3 {
		t.Fatalf("only %d of 5 pieces of the sealed value are in the database file: the check below would prove nothing", n)
	}
	for _, secret := range []string{password, userData, "secret-user-data"} {
		if bytes.Contains(file, []byte(secret)) {
			t.Errorf("the database file holds %q in the clear", secret)
		}
	}

	if err := end(e, r); err != nil {
		t.Fatal(err)
	}
	if b := e.storedSecrets(t, r.ID); b != nil {
		t.Errorf("an ended request still holds %d bytes of secrets", len(b))
	}
	if n := piecesIn(fileBytes(t, e), sealed); n > 0 {
		t.Errorf("%d pieces of the sealed secrets of an ended request are still in the database file", n)
	}
	got, err := e.svc.Get(ctx, e.ann, r.ID)
	if err != nil || got.SecretsHeld || !got.Params.PasswordSet {
		t.Errorf("after it ended: %+v, %v (what was set stays shown, the secret goes)", got, err)
	}
}

// TestDecidedRequestCannotHoldSecrets: the schema itself refuses a decided
// request with secrets.
func TestDecidedRequestCannotHoldSecrets(t *testing.T) {
	e := newEnv(t)
	r := e.request(t, e.ann, modelarts.BatchDelete, nil)
	if _, err := e.svc.Deny(ctx, e.bob, r.ID, "no", approval.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Write.ExecContext(ctx, `UPDATE approval_requests SET secrets = x'00' WHERE id = ?`, r.ID); err == nil {
		t.Error("a denied request was given secrets")
	}
}

// TestRequestWithoutKey: with no key a request carrying secrets is refused;
// one without secrets still works.
func TestRequestWithoutKey(t *testing.T) {
	e := newEnv(t)
	svc, err := approval.NewService(approval.Config{DB: e.db, Policy: e.policy, Audit: e.audit, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Create(ctx, approval.NewRequest{Requester: e.ann, Action: modelarts.BatchReinstallOS, Servers: servers,
		OSParams: &modelarts.ServerOSRequest{AdminPass: password}, Reason: "reimage"})
	if err != approval.ErrNoKey {
		t.Errorf("err = %v, want ErrNoKey", err)
	}
	if _, err := svc.Create(ctx, approval.NewRequest{Requester: e.ann, Action: modelarts.BatchReinstallOS, Servers: servers,
		OSParams: &modelarts.ServerOSRequest{KeyPairName: "ops-key"}, Reason: "reimage"}); err != nil {
		t.Errorf("key-pair reinstall without a key: %v", err)
	}
}
