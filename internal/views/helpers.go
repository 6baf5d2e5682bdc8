package views

import (
	"context"
	"strings"
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
