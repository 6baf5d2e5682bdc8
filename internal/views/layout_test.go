package views_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/devserver-console/console/internal/views"
)

// TestLayoutHTMXConfig checks the htmx configuration every page publishes
// keeps htmx inside the Content-Security-Policy (no eval, no injected
// <style>, no style attributes copied while settling) and swaps validation
// errors (422) so forms re-render with their messages.
func TestLayoutHTMXConfig(t *testing.T) {
	doc, _ := renderAction(t, views.ErrorPage(404, "Not Found", "nothing here"))
	raw, ok := doc.Find(`head meta[name="htmx-config"]`).Attr("content")
	if !ok {
		t.Fatal("the layout publishes no htmx-config")
	}
	var cfg struct {
		IncludeIndicatorStyles *bool    `json:"includeIndicatorStyles"`
		AllowEval              *bool    `json:"allowEval"`
		AllowScriptTags        *bool    `json:"allowScriptTags"`
		SelfRequestsOnly       *bool    `json:"selfRequestsOnly"`
		AttributesToSettle     []string `json:"attributesToSettle"`
		ResponseHandling       []struct {
			Code  string `json:"code"`
			Swap  bool   `json:"swap"`
			Error bool   `json:"error"`
		} `json:"responseHandling"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("htmx-config is not JSON: %v\n%s", err, raw)
	}
	flags := []struct {
		name string
		got  *bool
		want bool
	}{
		{"includeIndicatorStyles", cfg.IncludeIndicatorStyles, false},
		{"allowEval", cfg.AllowEval, false},
		{"allowScriptTags", cfg.AllowScriptTags, false},
		{"selfRequestsOnly", cfg.SelfRequestsOnly, true},
	}
	for _, f := range flags {
		t.Run(f.name, func(t *testing.T) {
			if f.got == nil || *f.got != f.want {
				t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
			}
		})
	}
	t.Run("attributesToSettle", func(t *testing.T) {
		if cfg.AttributesToSettle == nil || slices.Contains(cfg.AttributesToSettle, "style") {
			t.Errorf("attributesToSettle = %q: must be set and leave out style", cfg.AttributesToSettle)
		}
	})
	t.Run("422 is swapped", func(t *testing.T) {
		for _, h := range cfg.ResponseHandling {
			if h.Code == "422" {
				if !h.Swap || h.Error {
					t.Errorf("422 handling = %+v, want swapped, not an error", h)
				}
				return
			}
		}
		t.Error("no handling for 422")
	})
	if doc.Find(`link[rel="icon"]`).Length() != 1 {
		t.Error("no icon link: browsers then ask for /favicon.ico and log a 404")
	}
}
