package views_test

import (
	"context"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/views"
)

// Statuses and skip reasons read in the page's language; English pages
// keep the lifecycle's own words, and what the catalog cannot say better
// is shown as the API or lifecycle said it.
func TestStatusNamesAndSkipReasons(t *testing.T) {
	cat := i18n.MustLoad()
	zh := i18n.With(context.Background(), cat.Localizer(i18n.Chinese))
	en := i18n.With(context.Background(), cat.Localizer(i18n.English))

	if got := views.StatusName(zh, modelarts.StatusStopped); got != "已停止" {
		t.Errorf("StatusName(zh, STOPPED) = %q", got)
	}
	if got := views.StatusName(en, modelarts.StatusStartFailed); got != "Start failed" {
		t.Errorf("StatusName(en, START_FAILED) = %q", got)
	}
	if got := views.StatusName(zh, "NEW_STATE"); got != "NEW_STATE" {
		t.Errorf("an unknown status reads %q, want the API's value", got)
	}

	stopped := modelarts.ServerResponse{Status: modelarts.StatusStopped}
	_, reason := modelarts.Eligible(modelarts.BatchStop, &stopped)
	if got := views.SkipReason(en, modelarts.BatchStop, stopped.Status, reason); got != reason {
		t.Errorf("English skip reason %q, want the lifecycle's %q", got, reason)
	}
	// English pages keep the lifecycle's words for the server's own rules.
	prepaid := modelarts.ServerResponse{Status: modelarts.StatusRunning, ChargingMode: modelarts.ChargingPrePaid}
	_, why := modelarts.Eligible(modelarts.BatchDelete, &prepaid)
	if why != modelarts.ReasonPrePaid {
		t.Fatalf("Eligible(DELETE, pre-paid) = %q, want ReasonPrePaid", why)
	}
	if got := views.SkipReason(en, modelarts.BatchDelete, prepaid.Status, why); got != why {
		t.Errorf("English pre-paid skip reason %q, want %q", got, why)
	}
	tests := []struct {
		action modelarts.BatchType
		st     modelarts.Status
		reason string
		want   string
	}{
		{modelarts.BatchStop, modelarts.StatusStopped, reason, "只有运行中的服务器才能停止；此服务器当前为“已停止”"},
		{modelarts.BatchStart, modelarts.StatusStopping, "busy", "忙碌：服务器当前状态为“停止中”；请等待其稳定"},
		{modelarts.BatchStop, "", batch.ReasonVanished, "已不在服务器列表中"},
		// Rules about the server itself, not its state.
		{modelarts.BatchDelete, modelarts.StatusRunning, modelarts.ReasonPrePaid, "包年/包月（PRE_PAID）服务器不能在此删除；请在费用中心退订"},
		{modelarts.BatchChangeOS, modelarts.StatusStopped, modelarts.ReasonSupernode, "超节点（HPS）服务器不支持批量更换或重装操作系统"},
		// Words the catalog does not know: as the lifecycle said them.
		{modelarts.BatchDelete, modelarts.StatusRunning, "some future rule", "some future rule"},
	}
	for _, tt := range tests {
		if got := views.SkipReason(zh, tt.action, tt.st, tt.reason); got != tt.want {
			t.Errorf("SkipReason(zh, %s, %s) = %q, want %q", tt.action, tt.st, got, tt.want)
		}
	}
}

// TestBatchReasonsInBothLanguages: the words beside a server that needs
// attention, and a chunk's reason, follow the reader's language, with the
// status and action by their display names; English keeps the API's words.
func TestBatchReasonsInBothLanguages(t *testing.T) {
	cat := i18n.MustLoad()
	zh := i18n.With(context.Background(), cat.Localizer(i18n.Chinese))
	en := i18n.With(context.Background(), cat.Localizer(i18n.English))
	settled := batch.Why{ID: "reason.server.unknown_settled", Args: []any{"State", modelarts.StatusRunning}}
	if got, want := views.WhyText(zh, settled), "请求结果未知（ModelArts 可能已执行）；服务器当前为 运行中。请先检查后再重试。"; got != want {
		t.Errorf("Chinese: %q, want %q", got, want)
	}
	if got, want := views.WhyText(en, settled), "Outcome of the request unknown (ModelArts may have acted); the server is RUNNING. Check it before trying again."; got != want {
		t.Errorf("English page: %q, want %q", got, want)
	}
	if got, want := settled.English(), "Outcome of the request unknown (ModelArts may have acted); the server is RUNNING. Check it before trying again."; got != want {
		t.Errorf("English for the log: %q, want %q", got, want)
	}
	notSent := batch.Why{ID: "reason.server.not_sent", Args: []any{"Why", (&batch.Chunk{Failure: batch.FailureUnreachable}).Why()}}
	if got := views.WhyText(zh, notSent); got != "未发送：无法连接 ModelArts（连接被拒绝或域名无法解析）；未发送任何请求。" {
		t.Errorf("nested reason in Chinese: %q", got)
	}
	gone := batch.Why{ID: "reason.server.disappeared", Args: []any{"Action", modelarts.BatchType("DELETE")}}
	if got := views.WhyText(zh, gone); !strings.Contains(got, "删除") || strings.Contains(got, "DELETE") {
		t.Errorf("action in Chinese: %q", got)
	}
	if views.WhyText(zh, batch.Why{}) != "" {
		t.Error("the zero reason is not empty")
	}
}

// TestExecTextInBothLanguages: why an approved request ran no batch is said
// from its code in the reader's language; older rows keep their text.
func TestExecTextInBothLanguages(t *testing.T) {
	cat := i18n.MustLoad()
	zh := i18n.With(context.Background(), cat.Localizer(i18n.Chinese))
	en := i18n.With(context.Background(), cat.Localizer(i18n.English))
	if got := views.ExecText(zh, "nothing_to_send", "not sent: approval: no server"); got != "未发送任何请求：所有服务器都已无法执行此操作。" {
		t.Errorf("Chinese: %q", got)
	}
	if got := views.ExecText(en, "nothing_to_send", "not sent: approval: no server"); got != "Nothing was sent: none of the servers can take this action any more." {
		t.Errorf("English: %q", got)
	}
	if got := views.ExecText(zh, "", "not sent: an older text"); got != "not sent: an older text" {
		t.Errorf("a row without a code: %q", got)
	}
}
