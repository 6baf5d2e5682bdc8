// Package i18n holds the console's message catalogs (English and Simplified
// Chinese, embedded) and picks a language per request: the user's setting,
// else the browser's Accept-Language, else English. It wraps
// github.com/nicksnyder/go-i18n/v2 so the rest of the console sees one
// small API: a Localizer with T (a message) and N (a message with a plural
// count). It imports nothing of the console's.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// The languages the console speaks, as stored in a user's setting and
// written in the html lang attribute.
const (
	English = "en"
	Chinese = "zh-Hans" // Simplified Chinese
)

// Default is the language used when neither the user's setting nor the
// browser names one the console speaks.
const Default = English

// Languages lists the supported languages, the default first.
var Languages = []string{English, Chinese}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// The catalogs are split by area of the console, one file per area and
// language (locales/<lang>/<area>.json: servers, batches, audit …), so
// work on different pages adds messages to different files. All files of
// a language load into one catalog; an id may appear in only one of them.
//
//go:embed locales
var localeFS embed.FS

// Catalog is the loaded message catalogs. It is safe for concurrent use.
type Catalog struct {
	bundle  *goi18n.Bundle
	matcher language.Matcher
	tags    []language.Tag // parallel to Languages
	ids     map[string]map[string]bool
}

// Load parses the embedded catalogs (locales/<lang>/*.json, for each entry
// of Languages).
func Load() (*Catalog, error) { return LoadFS(localeFS) }

// LoadFS parses the catalogs locales/<lang>/*.json of fsys (for tests of
// the catalog checks; the console uses Load).
func LoadFS(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{bundle: goi18n.NewBundle(language.English), ids: map[string]map[string]bool{}}
	c.bundle.RegisterUnmarshalFunc("json", json.Unmarshal)
	for _, lang := range Languages {
		files, err := fs.Glob(fsys, path.Join("locales", lang, "*.json"))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("i18n: no catalog files for %s under locales/%s: %v", lang, lang, err)
		}
		ids := map[string]bool{}
		where := map[string]string{}
		for _, name := range files {
			buf, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("i18n: read %s: %w", name, err)
			}
			// go-i18n reads the language from the file name
			// (<area>.<lang>.json), not from the directory.
			area := strings.TrimSuffix(path.Base(name), ".json")
			mf, err := c.bundle.ParseMessageFileBytes(buf, area+"."+lang+".json")
			if err != nil {
				return nil, fmt.Errorf("i18n: parse %s: %w", name, err)
			}
			for _, m := range mf.Messages {
				if prev, dup := where[m.ID]; dup {
					return nil, fmt.Errorf("i18n: message %q is in both %s and %s", m.ID, prev, name)
				}
				where[m.ID] = name
				ids[m.ID] = true
			}
		}
		c.ids[lang] = ids
		c.tags = append(c.tags, language.MustParse(lang))
	}
	c.matcher = language.NewMatcher(c.tags)
	return c, nil
}

// MustLoad is Load for package initialisation and tests; the catalogs are
// embedded, so a failure is a build defect.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// IDs returns the message ids of lang's catalog.
func (c *Catalog) IDs(lang string) map[string]bool { return c.ids[lang] }

// Match picks the language for a request: setting when it is supported,
// else the best match for the Accept-Language header, else Default.
func (c *Catalog) Match(setting, acceptLanguage string) string {
	if Supported(setting) {
		return setting
	}
	if strings.TrimSpace(acceptLanguage) == "" {
		return Default
	}
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return Default
	}
	_, idx, conf := c.matcher.Match(prefs...)
	if conf == language.No {
		return Default
	}
	return Languages[idx]
}

// Localizer renders the messages of one language. The zero value and nil
// render English message ids unchanged, so code without a catalog (a
// unit test of one component) still shows something to read.
type Localizer struct {
	lang string
	c    *Catalog
	l    *goi18n.Localizer
}

// Localizer returns the localizer for lang (which must be supported; any
// other value gives the default language).
func (c *Catalog) Localizer(lang string) *Localizer {
	if !Supported(lang) {
		lang = Default
	}
	// English is the fallback for a message a catalog lacks (a test keeps
	// the catalogs complete, so this only matters during development).
	return &Localizer{lang: lang, c: c, l: goi18n.NewLocalizer(c.bundle, lang, Default)}
}

// Lang is the localizer's language, for the html lang attribute.
func (l *Localizer) Lang() string {
	if l == nil || l.lang == "" {
		return Default
	}
	return l.lang
}

// T returns message id with its {{.Key}} placeholders filled from kv,
// given as key, value pairs.
func (l *Localizer) T(id string, kv ...any) string {
	return l.localize(id, nil, kv)
}

// N returns message id in the plural form for count; the template sees
// {{.Count}} and the pairs of kv.
func (l *Localizer) N(id string, count int, kv ...any) string {
	return l.localize(id, count, append(kv, "Count", count))
}

// Has reports whether the catalog of the localizer's language has id.
func (l *Localizer) Has(id string) bool {
	return l != nil && l.c != nil && l.c.ids[l.lang][id]
}

func (l *Localizer) localize(id string, count any, kv []any) string {
	if l == nil || l.l == nil {
		return id
	}
	var data map[string]any
	if len(kv) > 0 {
		data = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			data[k] = kv[i+1]
		}
	}
	s, err := l.l.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil || s == "" {
		// A missing message shows its id rather than nothing; the catalog
		// tests fail on any id the code uses and the catalogs lack.
		return id
	}
	return s
}

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Localizer) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the localizer of ctx, or nil (which renders ids) when none.
func From(ctx context.Context) *Localizer {
	l, _ := ctx.Value(ctxKey{}).(*Localizer)
	return l
}
