package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

func TestAnonymousPostsAreThrottled(t *testing.T) {
	env := apptest.New(t)
	signedIn := env.As(t, auth.RoleAdmin)
	anon := env.Anonymous(t)
	anon.Get(t, "/signin")
	before := len(auditEvents(t, env, auth.EventAccessDenied))

	// Forged posts from nobody signed in: each is refused and recorded,
	// until the address is throttled; then nothing more is recorded.
	refused, throttled := 0, 0
	for i := 0; i < 100; i++ {
		r := anon.PostForm(t, "/signin", url.Values{"username": {"nobody"}, "password": {"x"}, "_csrf": {"forged-token"}})
		switch r.Status {
		case http.StatusForbidden:
			refused++
		case http.StatusTooManyRequests:
			throttled++
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("status %d, want 403 or 429", r.Status)
		}
	}
	if throttled == 0 || refused == 0 {
		t.Fatalf("%d refused, %d throttled of 100 in a burst; want both", refused, throttled)
	}
	if recorded := len(auditEvents(t, env, auth.EventAccessDenied)) - before; recorded != refused {
		t.Errorf("%d access.denied entries for %d refused requests; throttled requests must record nothing", recorded, refused)
	}

	// A signed-in user from the same address is not limited.
	r := signedIn.PostForm(t, "/selection/clear", nil)
	if r.Status == http.StatusTooManyRequests {
		t.Fatalf("a signed-in user was throttled: %d", r.Status)
	}
}
