package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

// streamed hides a body's length, so the client sends it chunked and the
// server cannot refuse it by its Content-Length alone.
func streamed(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) }

// multipartBody encodes fields and one file part of size bytes.
func multipartBody(t *testing.T, fields url.Values, size int) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	fw, err := w.CreateFormFile("user_data_file", "big.sh")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(bytes.Repeat([]byte("#"), size))
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// TestRequestBodyLimit: every request body is bounded before anything
// reads it, the CSRF check included, so neither a visitor who is not
// signed in nor a signed-in user can make the console buffer megabytes in
// memory or on disk. Oversized requests get 413 and change nothing.
func TestRequestBodyLimit(t *testing.T) {
	env := apptest.New(t)
	op := env.As(t, auth.RoleOperator)
	const big = 2 << 20

	signInFields := func(c *apptest.Client) url.Values {
		return url.Values{"username": {"admin"}, "password": {apptest.AdminPassword}, "_csrf": {c.CSRF}}
	}
	tests := []struct {
		name string
		send func(t *testing.T) (*apptest.Response, *apptest.Client)
	}{
		{"sign-in form with an oversized field", func(t *testing.T) (*apptest.Response, *apptest.Client) {
			c := anonymousWithToken(t, env)
			v := signInFields(c)
			v.Set("padding", strings.Repeat("x", big))
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			return c.Do(t, http.MethodPost, "/signin", strings.NewReader(v.Encode()), h), c
		}},
		{"sign-in form with an oversized field, streamed", func(t *testing.T) (*apptest.Response, *apptest.Client) {
			c := anonymousWithToken(t, env)
			v := signInFields(c)
			v.Set("padding", strings.Repeat("x", big))
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			return c.Do(t, http.MethodPost, "/signin", streamed([]byte(v.Encode())), h), c
		}},
		{"sign-in as multipart with a large file, streamed", func(t *testing.T) (*apptest.Response, *apptest.Client) {
			c := anonymousWithToken(t, env)
			body, ct := multipartBody(t, signInFields(c), big)
			return c.Do(t, http.MethodPost, "/signin", streamed(body), http.Header{"Content-Type": {ct}}), c
		}},
		{"action form post with a large user data file, streamed", func(t *testing.T) (*apptest.Response, *apptest.Client) {
			body, ct := multipartBody(t, url.Values{"action": {"STOP"}, "_csrf": {op.CSRF}}, big)
			return op.Do(t, http.MethodPost, "/actions/preview", streamed(body), http.Header{"Content-Type": {ct}}), op
		}},
		{"htmx action post with a large user data file, streamed", func(t *testing.T) (*apptest.Response, *apptest.Client) {
			body, ct := multipartBody(t, url.Values{"action": {"STOP"}}, big)
			h := http.Header{"Content-Type": {ct}, "HX-Request": {"true"}, "X-CSRF-Token": {op.CSRF}}
			return op.Do(t, http.MethodPost, "/actions/preview", streamed(body), h), op
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(auditEvents(t, env, auth.EventSigninSuccess))
			r, c := tt.send(t)
			mustStatus(t, r, http.StatusRequestEntityTooLarge)
			if !strings.Contains(r.Body, "nothing was changed") {
				t.Errorf("the answer does not say nothing was changed:\n%s", r.Body)
			}
			if c != op && sessionCookie(t, env, c) != nil {
				t.Error("an oversized sign-in started a session")
			}
			if n := len(auditEvents(t, env, auth.EventSigninSuccess)); n != before {
				t.Errorf("%d sign-ins recorded by an oversized request", n-before)
			}
		})
	}

	t.Run("forms of ordinary size still work", func(t *testing.T) {
		c := anonymousWithToken(t, env)
		body, ct := multipartBody(t, signInFields(c), 32<<10)
		r := c.Do(t, http.MethodPost, "/signin", streamed(body), http.Header{"Content-Type": {ct}})
		mustStatus(t, r, http.StatusSeeOther)
	})
}
