package views_test

import (
	"context"
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
	tests := []struct {
		action modelarts.BatchType
		st     modelarts.Status
		reason string
		want   string
	}{
		{modelarts.BatchStop, modelarts.StatusStopped, reason, "只有运行中的服务器才能停止；此服务器当前为“已停止”"},
		{modelarts.BatchStart, modelarts.StatusStopping, "busy", "忙碌：服务器当前状态为“停止中”；请等待其稳定"},
		{modelarts.BatchStop, "", batch.ReasonVanished, "已不在服务器列表中"},
		// A rule about the server itself, not its state: the lifecycle's words.
		{modelarts.BatchDelete, modelarts.StatusRunning, "yearly/monthly (PRE_PAID) servers cannot be deleted here", "yearly/monthly (PRE_PAID) servers cannot be deleted here"},
	}
	for _, tt := range tests {
		if got := views.SkipReason(zh, tt.action, tt.st, tt.reason); got != tt.want {
			t.Errorf("SkipReason(zh, %s, %s) = %q, want %q", tt.action, tt.st, got, tt.want)
		}
	}
}
