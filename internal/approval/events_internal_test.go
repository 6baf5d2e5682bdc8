package approval

import (
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// TestNotificationsFollowTheirLanguage: the messages of each transition
// read in the language the console was configured with for them
// (CONSOLE_WEBHOOK_LANG), with counts in the right plural and what people
// typed carried as it is.
func TestNotificationsFollowTheirLanguage(t *testing.T) {
	cat := i18n.MustLoad()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	one := &Request{ID: "r1", RequesterName: "olga", Action: modelarts.BatchDelete,
		Servers: []Server{{ID: "a"}}, Reason: "rack 7 retired", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	two := *one
	two.Servers = []Server{{ID: "a"}, {ID: "b"}}
	two.Comment, two.DecidedAt = "not now", at

	tests := []struct {
		lang  string
		kind  audit.EventKind
		r     *Request
		title string
		line  string
	}{
		{i18n.English, EventRequested, one, "Approval requested: Delete on 1 server", "Requested by olga: rack 7 retired"},
		{i18n.English, EventDenied, &two, "Denied: Delete on 2 servers", "Requested by olga, denied by ann: not now"},
		{i18n.Chinese, EventRequested, one, "审批申请：删除 1 台服务器", "申请人 olga：rack 7 retired"},
		{i18n.Chinese, EventDenied, &two, "已拒绝：删除 2 台服务器", "申请人 olga，拒绝人 ann：not now"},
	}
	for _, tt := range tests {
		ev := notifyEvent(cat.Localizer(tt.lang), tt.kind, tt.r, "ann")
		if ev.Title != tt.title {
			t.Errorf("%s %s: title %q, want %q", tt.lang, tt.kind, ev.Title, tt.title)
		}
		if len(ev.Lines) == 0 || !strings.HasPrefix(ev.Lines[0], tt.line) {
			t.Errorf("%s %s: lines %q, want the first to start %q", tt.lang, tt.kind, ev.Lines, tt.line)
		}
	}
}

// The policy reads in the page's language, with its lists and durations.
func TestPolicyInChinese(t *testing.T) {
	zh := i18n.MustLoad().Localizer(i18n.Chinese)
	p := Policy{Actions: []modelarts.BatchType{modelarts.BatchDelete, modelarts.BatchChangeOS}, MinServers: 10, TTL: 48 * time.Hour}
	got := strings.Join(p.DescribeIn(zh), " ")
	for _, want := range []string{"删除和切换操作系统需要审批人批准。", "对 10 台或更多服务器", "在 2 天内未作出决定"} {
		if !strings.Contains(got, want) {
			t.Errorf("policy in Chinese %q lacks %q", got, want)
		}
	}
	if got := p.ExplainIn(zh, modelarts.BatchStop, 12); got != "对 12 台服务器执行停止需要审批人批准：对 10 台或更多服务器的任何操作都需要批准。" {
		t.Errorf("ExplainIn(zh, STOP, 12) = %q", got)
	}
	if got := p.Describe()[0]; got != "Delete and Change OS need approval by an approver." {
		t.Errorf("Describe()[0] = %q", got)
	}
}
