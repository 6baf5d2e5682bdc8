package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/devserver-console/console/internal/auth"
)

func TestPreferencesDefaultSaveAndReload(t *testing.T) {
	ctx := context.Background()
	_, _, users := newUsers(t)
	u, err := users.CreateUser(ctx, "ana", auth.RoleViewer, "a-long-password-1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := users.Preferences(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p != (auth.Preferences{Theme: auth.ThemeSystem}) {
		t.Fatalf("defaults = %+v", p)
	}
	want := auth.Preferences{Theme: auth.ThemeDark, Language: "zh-Hans", TimeZone: "Asia/Shanghai"}
	if err := users.SetPreferences(ctx, u.ID, auth.Preferences{Theme: "dark", Language: "zh-Hans", TimeZone: " Asia/Shanghai "}); err != nil {
		t.Fatal(err)
	}
	if p, err = users.Preferences(ctx, u.ID); err != nil || p != want {
		t.Fatalf("after save: %+v, %v; want %+v", p, err, want)
	}
	// Saving again replaces the row.
	if err := users.SetPreferences(ctx, u.ID, auth.Preferences{Theme: auth.ThemeLight}); err != nil {
		t.Fatal(err)
	}
	if p, _ = users.Preferences(ctx, u.ID); p != (auth.Preferences{Theme: auth.ThemeLight}) {
		t.Fatalf("after second save: %+v", p)
	}
}

func TestPreferencesRefuseBadValuesAndKeepTheOldOnes(t *testing.T) {
	ctx := context.Background()
	_, _, users := newUsers(t)
	u, err := users.CreateUser(ctx, "ben", auth.RoleViewer, "a-long-password-1")
	if err != nil {
		t.Fatal(err)
	}
	good := auth.Preferences{Theme: auth.ThemeDark, Language: "en", TimeZone: "Europe/Berlin"}
	if err := users.SetPreferences(ctx, u.ID, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p     auth.Preferences
		field string
	}{
		{auth.Preferences{Theme: "neon"}, auth.PrefTheme},
		{auth.Preferences{Language: "fr"}, auth.PrefLanguage},
		{auth.Preferences{TimeZone: "Mars/Olympus"}, auth.PrefTimeZone},
		{auth.Preferences{TimeZone: "Local"}, auth.PrefTimeZone},
		{auth.Preferences{TimeZone: "../../etc/passwd"}, auth.PrefTimeZone},
	} {
		err := users.SetPreferences(ctx, u.ID, tc.p)
		var pe *auth.PreferencesError
		if !errors.As(err, &pe) || pe.Field != tc.field {
			t.Errorf("SetPreferences(%+v) = %v, want a %s error", tc.p, err, tc.field)
		}
	}
	if p, _ := users.Preferences(ctx, u.ID); p != good {
		t.Fatalf("a refused save changed the preferences: %+v", p)
	}
	if err := users.SetPreferences(ctx, 9999, good); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
