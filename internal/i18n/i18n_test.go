package i18n_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/devserver-console/console/internal/i18n"
)

// Every catalog has exactly the keys of every other: a message added in
// one language only fails here, naming the key and the language missing it.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	c := i18n.MustLoad()
	for _, a := range i18n.Languages {
		for _, b := range i18n.Languages {
			if a == b {
				continue
			}
			var missing []string
			for id := range c.IDs(a) {
				if !c.IDs(b)[id] {
					missing = append(missing, id)
				}
			}
			sort.Strings(missing)
			for _, id := range missing {
				t.Errorf("catalog %s lacks %q, which %s has", b, id, a)
			}
		}
	}
	if len(c.IDs(i18n.English)) < 50 {
		t.Fatalf("the English catalog has only %d messages; did it load?", len(c.IDs(i18n.English)))
	}
}

// The key-parity check itself fails on a catalog that lacks a key: load a
// pair of catalogs that differ and check the ids differ as the test sees them.
func TestCatalogParityDetectsAMissingKey(t *testing.T) {
	fsys := fstest.MapFS{
		"locales/en/x.json":      {Data: []byte(`{"a": "A"}`)},
		"locales/en/y.json":      {Data: []byte(`{"b": "B"}`)},
		"locales/zh-Hans/x.json": {Data: []byte(`{"a": "甲"}`)},
	}
	c, err := i18n.LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IDs(i18n.English)["b"] || c.IDs(i18n.Chinese)["b"] {
		t.Fatalf("ids: en %v, zh %v", c.IDs(i18n.English), c.IDs(i18n.Chinese))
	}
}

// An id defined in two files of one language is a load error naming both.
func TestCatalogRejectsAnIDInTwoFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"locales/en/x.json":      {Data: []byte(`{"a": "A"}`)},
		"locales/en/y.json":      {Data: []byte(`{"a": "B"}`)},
		"locales/zh-Hans/x.json": {Data: []byte(`{"a": "甲"}`)},
	}
	_, err := i18n.LoadFS(fsys)
	if err == nil || !strings.Contains(err.Error(), "x.json") || !strings.Contains(err.Error(), "y.json") {
		t.Fatalf("err = %v, want one naming both files", err)
	}
}

func TestMatchPrefersTheSettingThenAcceptLanguage(t *testing.T) {
	c := i18n.MustLoad()
	for _, tc := range []struct{ setting, accept, want string }{
		{"", "", "en"},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"},
		{"", "zh", "zh-Hans"},
		{"", "zh-Hans-CN", "zh-Hans"},
		{"", "en-GB,en;q=0.9", "en"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"", "de, zh;q=0.5", "zh-Hans"},
		{"", "not a header", "en"},
		{"en", "zh-CN", "en"},
		{"zh-Hans", "en-US", "zh-Hans"},
		{"klingon", "zh-CN", "zh-Hans"},
	} {
		if got := c.Match(tc.setting, tc.accept); got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.setting, tc.accept, got, tc.want)
		}
	}
}

func TestLocalizerFillsPlaceholdersAndPlurals(t *testing.T) {
	c := i18n.MustLoad()
	en, zh := c.Localizer(i18n.English), c.Localizer(i18n.Chinese)
	if got := en.T("status.STOPPED"); got != "Stopped" {
		t.Errorf("en status.STOPPED = %q", got)
	}
	if got := zh.T("status.STOPPED"); got != "已停止" {
		t.Errorf("zh status.STOPPED = %q", got)
	}
	if got := en.N("servers.count", 1); got != "1 server" {
		t.Errorf("en 1 = %q", got)
	}
	if got := en.N("servers.count", 3); got != "3 servers" {
		t.Errorf("en 3 = %q", got)
	}
	if got := zh.N("servers.count", 3); got != "3 台服务器" {
		t.Errorf("zh 3 = %q", got)
	}
	if got := en.T("account.password_hint", "Min", 12, "Max", 128); got != "12 to 128 characters." {
		t.Errorf("hint = %q", got)
	}
	if got := en.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key = %q, want the id", got)
	}
	if en.Lang() != "en" || zh.Lang() != "zh-Hans" || c.Localizer("xx").Lang() != "en" {
		t.Errorf("langs: %q %q", en.Lang(), zh.Lang())
	}
	ctx := i18n.With(context.Background(), zh)
	if i18n.From(ctx) != zh || i18n.From(context.Background()) != nil {
		t.Error("From does not return what With stored")
	}
}
