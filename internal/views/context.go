// Package views holds the console's templ components: the page layout and
// one file per page or area. Components see only domain types and their own
// view models; cross-cutting values (the user, CSRF token, simulator flag)
// come from the PageContext in the request context.
package views

import (
	"context"
	"strings"

	"github.com/devserver-console/console/internal/auth"
)

// PageContext carries what every page needs to know about the request.
type PageContext struct {
	User      *auth.User
	CSRFToken string
	Simulated bool
	Path      string

	// The signed-in user's display settings (zero values: follow the
	// device and the browser).
	Theme    auth.Theme
	TimeZone string
	// PendingApprovals is the count beside the "Approvals" link: requests
	// the user could decide (approvers, admins) or their own pending ones.
	PendingApprovals int
	// Project is the current project; Projects those the user may switch
	// to (empty when not signed in).
	Project  ProjectInfo
	Projects []ProjectInfo
}

// ProjectInfo is what the header shows of a project.
type ProjectInfo struct {
	Name      string
	Region    string
	ProjectID string
	Endpoint  string
	// Keep: the page's links, forms and htmx requests must name this
	// project (it is not the one a URL without ?project= opens).
	Keep bool
}

// Place is how the header names where a project is: its region, else its
// endpoint's host.
func (p ProjectInfo) Place() string {
	if p.Region != "" {
		return p.Region
	}
	return p.Endpoint
}

type pageKey struct{}

// WithPage returns ctx carrying pc.
func WithPage(ctx context.Context, pc PageContext) context.Context {
	return context.WithValue(ctx, pageKey{}, pc)
}

// Page returns the PageContext of ctx (the zero value if none).
func Page(ctx context.Context) PageContext {
	pc, _ := ctx.Value(pageKey{}).(PageContext)
	return pc
}

// Can reports whether the signed-in user holds permission p.
func Can(ctx context.Context, p auth.Permission) bool {
	u := Page(ctx).User
	return u != nil && !u.Disabled && u.Role.Can(p)
}

// htmxConfig is the htmx configuration the layout publishes: no eval and no
// injected styles (the CSP allows neither), no settling of style attributes
// (htmx would copy them with setAttribute, which the CSP blocks; the console
// uses none), and 422 responses (validation errors) are swapped so forms
// re-render with their messages.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,` +
	`"attributesToSettle":["class","width","height"],` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},{"code":"[45]..","swap":false,"error":true}]}`

// colorScheme tells the browser which schemes the page supports, so form
// controls and scroll bars match the theme.
func colorScheme(ctx context.Context) string {
	switch Page(ctx).Theme {
	case auth.ThemeLight:
		return "light"
	case auth.ThemeDark:
		return "dark"
	}
	return "light dark"
}

func csrfHeaders(token string) string {
	return `{"X-CSRF-Token":"` + token + `"}`
}

// switchTarget is where the project switcher goes from path: the same page,
// except a batch's page (a batch belongs to one project), which goes to the
// batch list.
func switchTarget(path string) string {
	switch {
	case path == "" || path == "/":
		return "/servers"
	case strings.HasPrefix(path, "/batches/"):
		return "/batches"
	case strings.HasPrefix(path, "/servers/"):
		return "/servers"
	case strings.HasPrefix(path, "/audit/"):
		return "/audit"
	}
	return path
}
