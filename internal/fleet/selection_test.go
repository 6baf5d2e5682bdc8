package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

func newTestDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), storetest.DSN(t, storetest.DefaultEngine()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// addUser inserts a user row directly (selections reference users).
func addUser(t *testing.T, db *store.DB, id int64, name string) {
	t.Helper()
	_, err := db.Write.ExecContext(context.Background(),
		`INSERT INTO users (id, name, role, password_hash, created_at, updated_at, password_changed_at)
		 VALUES (?, ?, 'operator', 'x', 0, 0, 0)`, id, name)
	if err != nil {
		t.Fatal(err)
	}
}

func TestSelections(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s *fleet.Selections)
		want []string // user 1's selection afterwards
	}{
		{name: "toggle on", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Toggle(ctx, 1, "a", true))
		}, want: []string{"a"}},
		{name: "toggle on twice keeps one", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Toggle(ctx, 1, "a", true))
			must(t, s.Toggle(ctx, 1, "a", true))
		}, want: []string{"a"}},
		{name: "toggle off", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Add(ctx, 1, "a", "b"))
			must(t, s.Toggle(ctx, 1, "a", false))
		}, want: []string{"b"}},
		{name: "toggle off unselected is fine", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Toggle(ctx, 1, "zzz", false))
		}, want: nil},
		{name: "add many and overlapping", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Add(ctx, 1, "a", "b"))
			must(t, s.Add(ctx, 1, "b", "c", ""))
		}, want: []string{"a", "b", "c"}},
		{name: "remove several", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Add(ctx, 1, "a", "b", "c"))
			must(t, s.Remove(ctx, 1, "a", "c"))
		}, want: []string{"b"}},
		{name: "clear", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Add(ctx, 1, "a", "b", "c"))
			must(t, s.Clear(ctx, 1))
		}, want: nil},
		{name: "owners are separate", run: func(t *testing.T, s *fleet.Selections) {
			must(t, s.Add(ctx, 1, "a"))
			must(t, s.Add(ctx, 2, "b", "c"))
			must(t, s.Clear(ctx, 2))
			must(t, s.Add(ctx, 2, "d"))
		}, want: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			addUser(t, db, 1, "ann")
			addUser(t, db, 2, "bob")
			clk := newClock()
			s := fleet.NewSelections(db, func() time.Time { clk.Advance(time.Millisecond); return clk.Now() })
			tt.run(t, s)
			got, err := s.List(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("selection mismatch (-want +got):\n%s", diff)
			}
			n, err := s.Count(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tt.want) {
				t.Errorf("Count = %d, want %d", n, len(tt.want))
			}
		})
	}
}

func TestSelectionsResolveDropsMissing(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	addUser(t, db, 1, "ann")
	s := fleet.NewSelections(db, nil)
	must(t, s.Add(ctx, 1, "c", "gone", "a"))

	snap := fleet.NewSnapshot([]modelarts.ServerResponse{
		srv("a", "alpha", modelarts.StatusRunning),
		srv("b", "bravo", modelarts.StatusRunning),
		srv("c", "charlie", modelarts.StatusStopped),
	}, time.Now())

	// Without a snapshot nothing is known, so nothing is dropped.
	got, err := s.Resolve(ctx, 1, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Resolve(nil) = %v, %v", got, err)
	}
	if n, _ := s.Count(ctx, 1); n != 3 {
		t.Fatalf("Resolve(nil) changed the selection: count %d", n)
	}

	got, err = s.Resolve(ctx, 1, snap)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alpha", "charlie"}, names(got)); diff != "" {
		t.Errorf("resolved mismatch (-want +got):\n%s", diff)
	}
	ids, _ := s.List(ctx, 1)
	if diff := cmp.Diff([]string{"a", "c"}, ids); diff != "" {
		t.Errorf("stored selection after Resolve mismatch (-want +got):\n%s", diff)
	}
}

func TestSelectionsDeletedWithUser(t *testing.T) {
	ctx := context.Background()
	db := newTestDB(t)
	addUser(t, db, 1, "ann")
	s := fleet.NewSelections(db, nil)
	must(t, s.Add(ctx, 1, "a", "b"))
	if _, err := db.Write.ExecContext(ctx, `DELETE FROM users WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx, 1); n != 0 {
		t.Errorf("selection outlived its user: %d rows", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
