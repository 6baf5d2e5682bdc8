package views

import (
	"context"
	"strings"

	"github.com/a-h/templ"
)

// current reports whether the request path is under prefix, for
// aria-current on navigation links.
func current(ctx context.Context, prefix string) bool {
	p := Page(ctx).Path
	if p == prefix || strings.HasPrefix(p, prefix+"/") {
		return true
	}
	return false
}

// fieldErrorAttrs marks a control invalid and points it at its message
// (the element fieldError renders) when msg is not empty.
func fieldErrorAttrs(id, msg string) templ.Attributes {
	if msg == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{"aria-invalid": "true", "aria-describedby": id + "-error"}
}

// describedBy joins a hint's id with an error's id when there is an error.
func describedBy(hintID, msg, errID string) string {
	if msg == "" {
		return hintID
	}
	return hintID + " " + errID
}

// commonTimeZones are offered as suggestions in the time zone field; any
// IANA name is accepted.
var commonTimeZones = []string{
	"UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "Asia/Kolkata",
	"Asia/Dubai", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo",
	"Africa/Johannesburg", "Australia/Sydney",
}
