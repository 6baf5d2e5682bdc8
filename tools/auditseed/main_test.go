package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

func TestSeedsAVerifiableLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bench.db")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"--db", path, "--count", "300", "--seed", "3"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "seeded 300 entries") {
		t.Errorf("output %q", out.String())
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := audit.New(db, slog.New(slog.DiscardHandler)).Verify(ctx)
	if err != nil || !res.OK || res.Entries != 300 {
		t.Fatalf("verify the seeded log: %+v, %v", res, err)
	}
	if err := run(ctx, []string{"--db", path}, &out, &errOut); err == nil {
		t.Error("seeding without --count succeeded")
	}
}
