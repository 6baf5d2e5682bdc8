package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/views"
)

// When renders an instant in the user's zone (UTC without a setting), with
// the UTC time in the title and the instant in datetime, in either language.
func TestWhenShowsTheUsersZoneWithUTCOnHover(t *testing.T) {
	at := time.Date(2026, 3, 1, 14, 30, 5, 0, time.UTC)
	for _, tc := range []struct {
		tz, lang, text, title string
	}{
		{"", i18n.English, "2026-03-01 14:30:05 UTC", "2026-03-01 14:30:05 UTC"},
		{"Asia/Shanghai", i18n.English, "2026-03-01 22:30:05 CST", "2026-03-01 14:30:05 UTC"},
		{"America/New_York", i18n.Chinese, "2026-03-01 09:30:05 EST", "2026-03-01 14:30:05 UTC"},
		{"Not/AZone", i18n.English, "2026-03-01 14:30:05 UTC", "2026-03-01 14:30:05 UTC"},
	} {
		ctx := views.WithPage(context.Background(), views.PageContext{TimeZone: tc.tz})
		ctx = i18n.With(ctx, i18n.MustLoad().Localizer(tc.lang))
		var buf bytes.Buffer
		if err := views.When(at, "second").Render(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		d, err := goquery.NewDocumentFromReader(strings.NewReader(buf.String()))
		if err != nil {
			t.Fatal(err)
		}
		el := d.Find("time")
		if got := el.Text(); got != tc.text {
			t.Errorf("%s: text %q, want %q", tc.tz, got, tc.text)
		}
		if got := el.AttrOr("title", ""); got != tc.title {
			t.Errorf("%s: title %q, want %q", tc.tz, got, tc.title)
		}
		if got := el.AttrOr("datetime", ""); got != "2026-03-01T14:30:05Z" {
			t.Errorf("%s: datetime %q", tc.tz, got)
		}
	}
}
