package app_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

// TestMigrateStore moves a SQLite console database whose audit log is
// keyed into a new PostgreSQL database: the chain verifies there under the
// same key, ends at the same head, free text finds what it found, and a
// second run refuses the now non-empty target.
func TestMigrateStore(t *testing.T) {
	ctx := context.Background()
	const keyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	key, err := config.ParseAuditKey(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "CONSOLE_AUDIT_KEY" {
			return keyHex
		}
		return ""
	}
	from := filepath.Join(t.TempDir(), "console.db")
	src, err := store.Open(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	au := audit.New(src, nil)
	if err := au.UseKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "gpu-node-07", "bob"} {
		if err := au.RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: name, ClientIP: "192.0.2.1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()

	to := pgtest.NewDatabase(t)
	var out bytes.Buffer
	if err := app.Main(ctx, []string{"migrate-store", "--from", from, "--to", to}, getenv, nil, &out, &out); err != nil {
		t.Fatalf("migrate-store: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "audit chain intact") || !strings.Contains(out.String(), "(the same)") {
		t.Errorf("output:\n%s", out.String())
	}

	dst := storetest.OpenDSN(t, to)
	if dst.Engine != store.Postgres {
		t.Fatalf("target engine %s", dst.Engine)
	}
	da := audit.New(dst, nil)
	da.SetKey(key)
	if res, err := da.Verify(ctx); err != nil || !res.OK || res.KeyedFrom == 0 {
		t.Fatalf("verify the copy: %+v, %v; want an intact keyed chain", res, err)
	}
	got, _, err := da.List(ctx, audit.Filter{Text: "node-07"}, 0, 10)
	if err != nil || len(got) != 1 || got[0].Actor.Name != "gpu-node-07" {
		t.Errorf("free text 'node-07' on the copy = %+v, %v; want the gpu-node-07 entry", got, err)
	}

	out.Reset()
	err = app.Main(ctx, []string{"migrate-store", "--from", from, "--to", to}, getenv, nil, &out, &out)
	if !errors.Is(err, store.ErrTargetNotEmpty) {
		t.Errorf("second run into the same target: %v, want ErrTargetNotEmpty", err)
	}
	if err := app.Main(ctx, []string{"migrate-store", "--from", from}, getenv, nil, &out, &out); err == nil {
		t.Error("no --to accepted")
	}
}
