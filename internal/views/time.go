package views

import (
	"context"
	"time"

	"github.com/devserver-console/console/internal/auth"
)

// Time layouts of When. Exports and the audit log's stored values are UTC;
// these only shape what a person reads.
const (
	layoutDateTime = "2006-01-02 15:04:05"
	layoutMinute   = "2006-01-02 15:04"
	layoutClock    = "15:04:05"
)

// zone is the time zone the page shows times in before console.js runs:
// the person's setting, else UTC (the browser's zone is only known to the
// browser; console.js switches to it).
func zone(ctx context.Context) *time.Location {
	if tz := Page(ctx).TimeZone; tz != "" {
		if loc, err := auth.LoadTimeZone(tz); err == nil {
			return loc
		}
	}
	return time.UTC
}

// whenText formats t in the page's zone with layout, naming the zone.
func whenText(ctx context.Context, t time.Time, layout string) string {
	return t.In(zone(ctx)).Format(layout + " MST")
}

// utcTitle is the hover text of a time: the same instant in UTC.
func utcTitle(ctx context.Context, t time.Time) string {
	return T(ctx, "time.utc_title", "UTC", t.UTC().Format(layoutDateTime))
}

// whenLayout is the Go layout of a When precision.
func whenLayout(precision string) string {
	switch precision {
	case "minute":
		return layoutMinute
	case "clock":
		return layoutClock
	}
	return layoutDateTime
}
