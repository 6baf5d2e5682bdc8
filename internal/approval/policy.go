package approval

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// DefaultTTL is how long a request waits for a decision by default.
const DefaultTTL = 24 * time.Hour

// Policy says which actions need a second person's approval. It is the one
// place that decides: the web layer asks it before sending anything, and the
// Service refuses requests it does not cover.
type Policy struct {
	// Actions always need approval, whatever the number of servers.
	Actions []modelarts.BatchType
	// MinServers, when positive, makes any action on that many servers or
	// more need approval.
	MinServers int
	// TTL is how long a request waits for a decision (DefaultTTL when zero).
	TTL time.Duration
}

// ttl is the policy's TTL with the default applied.
func (p Policy) ttl() time.Duration {
	if p.TTL <= 0 {
		return DefaultTTL
	}
	return p.TTL
}

// Off reports whether no action ever needs approval.
func (p Policy) Off() bool { return len(p.Actions) == 0 && p.MinServers <= 0 }

// Requires reports whether action, sent to servers servers, needs approval.
func (p Policy) Requires(action modelarts.BatchType, servers int) bool {
	if slices.Contains(p.Actions, action) {
		return true
	}
	return p.MinServers > 0 && servers >= p.MinServers
}

// Explain says why action on servers servers needs approval, for the
// preview ("Delete needs approval by an approver."), or "" when it does not.
func (p Policy) Explain(action modelarts.BatchType, servers int) string {
	return p.ExplainIn(english(), action, servers)
}

// ExplainIn is Explain in l's language.
func (p Policy) ExplainIn(l *i18n.Localizer, action modelarts.BatchType, servers int) string {
	switch {
	case slices.Contains(p.Actions, action):
		return l.T("policy.explain.action", "Action", actionName(l, action))
	case p.MinServers > 0 && servers >= p.MinServers:
		return l.N("policy.explain.size", servers, "Action", actionName(l, action), "Min", p.MinServers)
	}
	return ""
}

// Describe is the policy in force in sentences, for the approvals page.
func (p Policy) Describe() []string { return p.DescribeIn(english()) }

// DescribeIn is Describe in l's language.
func (p Policy) DescribeIn(l *i18n.Localizer) []string {
	if p.Off() {
		return []string{l.T("policy.off")}
	}
	var out []string
	if len(p.Actions) > 0 {
		names := make([]string, len(p.Actions))
		for i, a := range p.Actions {
			names[i] = actionName(l, a)
		}
		list := names[0]
		if len(names) > 1 {
			list = l.T("policy.list_and", "Items", strings.Join(names[:len(names)-1], l.T("policy.list_sep")), "Last", names[len(names)-1])
		}
		out = append(out, l.N("policy.actions", len(names), "Actions", list))
	}
	if p.MinServers > 0 {
		out = append(out, l.T("policy.size", "Min", p.MinServers))
	}
	out = append(out, l.T("policy.decide"), l.T("policy.expire", "TTL", durationIn(l, p.ttl())))
	return out
}

// english renders the policy's sentences when no language is asked for.
var english = sync.OnceValue(func() *i18n.Localizer { return i18n.MustLoad().Localizer(i18n.English) })

// actionName is an action's name in l's language.
func actionName(l *i18n.Localizer, t modelarts.BatchType) string {
	if l.Has("action." + string(t)) {
		return l.T("action." + string(t))
	}
	return string(t)
}

// durationIn writes d in the largest whole unit that fits, in l's
// language: "24 hours", "90 minutes", "2 days".
func durationIn(l *i18n.Localizer, d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return l.N("policy.days", int(d/(24*time.Hour)))
	case d >= time.Hour && d%time.Hour == 0:
		return l.N("policy.hours", int(d/time.Hour))
	case d >= time.Minute && d%time.Minute == 0:
		return l.N("policy.minutes", int(d/time.Minute))
	}
	return d.String()
}
