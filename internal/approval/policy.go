package approval

import (
	"fmt"
	"slices"
	"strings"
	"time"

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
	switch {
	case slices.Contains(p.Actions, action):
		return ActionLabel(action) + " needs approval by an approver."
	case p.MinServers > 0 && servers >= p.MinServers:
		return fmt.Sprintf("%s on %s needs approval by an approver: any action on %d or more servers does.",
			ActionLabel(action), plural(servers, "server"), p.MinServers)
	}
	return ""
}

// Describe is the policy in force in sentences, for the approvals page.
func (p Policy) Describe() []string {
	if p.Off() {
		return []string{"No action needs approval: every operator's confirmed action is sent at once."}
	}
	var out []string
	if len(p.Actions) > 0 {
		names := make([]string, len(p.Actions))
		for i, a := range p.Actions {
			names[i] = ActionLabel(a)
		}
		verb := "needs"
		if len(names) > 1 {
			verb = "need"
		}
		out = append(out, fmt.Sprintf("%s %s approval by an approver.", joinAnd(names), verb))
	}
	if p.MinServers > 0 {
		out = append(out, fmt.Sprintf("Any action on %d or more servers needs approval by an approver.", p.MinServers))
	}
	out = append(out,
		"An approver or admin other than the requester approves or denies; approving sends the action at once.",
		"A request not decided within "+humanDuration(p.ttl())+" expires and sends nothing.")
	return out
}

// ActionLabel is an action's name as the console's buttons show it.
func ActionLabel(t modelarts.BatchType) string {
	switch t {
	case modelarts.BatchStart:
		return "Start"
	case modelarts.BatchStop:
		return "Stop"
	case modelarts.BatchReboot:
		return "Reboot"
	case modelarts.BatchChangeOS:
		return "Change OS"
	case modelarts.BatchReinstallOS:
		return "Reinstall OS"
	case modelarts.BatchDelete:
		return "Delete"
	}
	return string(t)
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// humanDuration writes d in the largest whole unit that fits: "24 hours",
// "90 minutes", "2 days".
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}
