package app_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/secrets"
	"github.com/devserver-console/console/internal/store"
)

// TestApprovalWiring: the first start creates the secret key file beside
// the database, readable by its owner only; disabling a user, in the
// console or with the 'console user' commands' store, withdraws their
// pending approval requests.
func TestApprovalWiring(t *testing.T) {
	env := apptest.New(t, apptest.WithApprovals)
	ctx := context.Background()
	if !store.IsPostgresURL(env.Config.DBPath) { // replicas are given the key (TestReplicasNeedTheSameKeys)
		fi, err := os.Stat(secrets.KeyFilePath(env.Config.DBPath))
		if err != nil {
			t.Fatalf("no key file beside the database: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
		}
	}

	ask := func(name string) (*auth.User, *approval.Request) {
		t.Helper()
		env.CreateUser(t, name, auth.RoleOperator)
		u, err := env.App.Users().GetByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := env.App.Approvals().Create(ctx, approval.NewRequest{
			Requester: u, Action: modelarts.BatchReinstallOS, Reason: "reimage the rack",
			Servers:  []approval.Server{{ID: "srv-1", Name: "gpu-01", Status: modelarts.StatusRunning}},
			OSParams: &modelarts.ServerOSRequest{AdminPass: "Sup3r-Secret-Pass!"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return u, r
	}
	state := func(id string) approval.State {
		t.Helper()
		admin, err := env.App.Users().GetByName(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		r, err := env.App.Approvals().Get(ctx, admin, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.State
	}

	u1, r1 := ask("olga")
	if err := env.App.Users().Disable(ctx, u1.ID); err != nil {
		t.Fatal(err)
	}
	if s := state(r1.ID); s != approval.StateWithdrawn {
		t.Errorf("after disabling in the console: %s, want withdrawn", s)
	}

	u2, r2 := ask("oscar")
	// As 'console user' opens it: keyed with the key file beside the
	// database, or on PostgreSQL with the replicas' key.
	au := audit.New(env.App.DB(), nil)
	k, err := audit.LoadKey(audit.KeySource{Text: env.Config.AuditKey, DBPath: env.Config.DBPath}, false)
	if err != nil {
		t.Fatal(err)
	}
	au.SetKey(k.Key)
	cli, err := app.NewUserStore(env.App.DB(), au, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Disable(ctx, u2.ID); err != nil {
		t.Fatal(err)
	}
	if s := state(r2.ID); s != approval.StateWithdrawn {
		t.Errorf("after 'console user disable': %s, want withdrawn", s)
	}
}

// TestSecondFactorsSealedWithTheConsoleKey: the console's secret key seals
// TOTP secrets at rest, so the database alone does not give codes away.
func TestSecondFactorsSealedWithTheConsoleKey(t *testing.T) {
	env := apptest.New(t)
	ctx := context.Background()
	env.CreateUser(t, "alice", auth.RoleViewer)
	u, err := env.App.Users().GetByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	e, err := env.App.Users().StartEnrolment(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := env.App.DB().Read.GetContext(ctx, &stored, `SELECT secret FROM user_factors WHERE user_id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "sealed:v1:") || strings.Contains(stored, e.Secret) {
		t.Fatalf("stored second factor %.12q…, want it sealed with the console's key", stored)
	}
}
