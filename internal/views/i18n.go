package views

import (
	"context"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// english renders pages when the request carries no localizer (component
// unit tests, or a page rendered outside the web layer).
var english = i18n.MustLoad().Localizer(i18n.English)

// Loc returns the request's localizer (web puts it into the request
// context; English when there is none).
func Loc(ctx context.Context) *i18n.Localizer {
	if l := i18n.From(ctx); l != nil {
		return l
	}
	return english
}

// T is message id of the request's language, with {{.Key}} placeholders
// filled from kv (key, value pairs). Every user-visible text of a
// template goes through T or N (TestTemplatesUseTheCatalog checks).
func T(ctx context.Context, id string, kv ...any) string { return Loc(ctx).T(id, kv...) }

// N is message id in the plural form for count ({{.Count}} in the text).
func N(ctx context.Context, id string, count int, kv ...any) string {
	return Loc(ctx).N(id, count, kv...)
}

// Lang is the request's language, for the html lang attribute.
func Lang(ctx context.Context) string { return Loc(ctx).Lang() }

// ActionName is a batch action for display ("STOP" → "Stop" / "停止").
func ActionName(ctx context.Context, t modelarts.BatchType) string {
	if l := Loc(ctx); l.Has("action." + string(t)) {
		return l.T("action." + string(t))
	}
	return string(t)
}

// RoleName is a console role for display.
func RoleName(ctx context.Context, r auth.Role) string {
	if l := Loc(ctx); l.Has("role." + string(r)) {
		return l.T("role." + string(r))
	}
	return string(r)
}

// StatusName is a ModelArts status for display ("START_FAILED" → "Start
// failed" / "启动失败"); a status the catalog does not know is shown in the
// API's plain words. The audit log and exports keep the API's value.
func StatusName(ctx context.Context, st modelarts.Status) string {
	if l := Loc(ctx); l.Has("status." + string(st)) {
		return l.T("status." + string(st))
	}
	return st.Label()
}

// WhyText words a batch reason in the request's language, with statuses
// and actions by their display names; English keeps the API's words
// ("the server reached STOPPED"), as the console's English always has.
func WhyText(ctx context.Context, w batch.Why) string {
	if Lang(ctx) == i18n.English {
		return w.Text(Loc(ctx), batch.Names{})
	}
	return w.Text(Loc(ctx), batch.Names{
		Status: func(st modelarts.Status) string { return StatusName(ctx, st) },
		Action: func(t modelarts.BatchType) string { return ActionName(ctx, t) },
	})
}

// ExecText says why an approved request ran no batch, in the request's
// language from its code; requests decided before codes were kept show
// their stored English text.
func ExecText(ctx context.Context, code, text string) string {
	if l := Loc(ctx); code != "" && l.Has("approvals.exec."+code) {
		return l.T("approvals.exec." + code)
	}
	return text
}

// SkipReason says, in the request's language, why action was not (or
// would not be) sent to a server whose status was st; reason is the
// lifecycle's English words (batch.Skip.Reason): the rules about the server
// itself (supernodes, yearly/monthly servers) are known by their words
// (modelarts.ReasonSupernode, ReasonPrePaid), those about its state by the
// state. The batch and the audit log keep the English.
func SkipReason(ctx context.Context, action modelarts.BatchType, st modelarts.Status, reason string) string {
	if Lang(ctx) == i18n.English && reason != "" {
		// The lifecycle's own words, as the batch and audit keep them.
		return reason
	}
	switch {
	case reason == batch.ReasonVanished || reason == approval.ReasonVanished:
		return T(ctx, "skip.vanished")
	case reason == modelarts.ReasonSupernode:
		return T(ctx, "skip.supernode")
	case reason == modelarts.ReasonPrePaid:
		return T(ctx, "skip.prepaid")
	case st == "":
		return reason
	case st.Transient():
		return T(ctx, "skip.busy", "Status", StatusName(ctx, st))
	case st == modelarts.StatusDeleted:
		return T(ctx, "skip.deleted")
	case action.Valid() && !modelarts.AllowedFrom(action, st):
		return T(ctx, "skip.not_from."+string(action), "Status", StatusName(ctx, st))
	}
	return reason
}
