package approval_test

import (
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/modelarts"
)

func TestPolicyRequires(t *testing.T) {
	def := approval.Policy{Actions: []modelarts.BatchType{modelarts.BatchDelete, modelarts.BatchReinstallOS, modelarts.BatchChangeOS}}
	sized := approval.Policy{Actions: []modelarts.BatchType{modelarts.BatchDelete}, MinServers: 10}
	onlySize := approval.Policy{MinServers: 3}
	off := approval.Policy{}
	tests := []struct {
		name    string
		p       approval.Policy
		action  modelarts.BatchType
		servers int
		want    bool
		explain string // substring; "" means no explanation
	}{
		{"default delete", def, modelarts.BatchDelete, 1, true, "Delete needs approval by an approver."},
		{"default reinstall", def, modelarts.BatchReinstallOS, 1, true, "Reinstall OS needs approval"},
		{"default change os", def, modelarts.BatchChangeOS, 40, true, "Change OS needs approval"},
		{"default stop", def, modelarts.BatchStop, 1000, false, ""},
		{"size below", sized, modelarts.BatchStop, 9, false, ""},
		{"size at", sized, modelarts.BatchStop, 10, true, "Stop on 10 servers needs approval by an approver: any action on 10 or more servers does."},
		{"listed below size", sized, modelarts.BatchDelete, 1, true, "Delete needs approval"},
		{"only size", onlySize, modelarts.BatchDelete, 2, false, ""},
		{"only size at", onlySize, modelarts.BatchStart, 3, true, "3 or more"},
		{"off", off, modelarts.BatchDelete, 100000, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Requires(tt.action, tt.servers); got != tt.want {
				t.Errorf("Requires(%s, %d) = %v, want %v", tt.action, tt.servers, got, tt.want)
			}
			got := tt.p.Explain(tt.action, tt.servers)
			if (tt.explain == "") != (got == "") || !strings.Contains(got, tt.explain) {
				t.Errorf("Explain = %q, want %q", got, tt.explain)
			}
		})
	}
}

func TestPolicyDescribe(t *testing.T) {
	tests := []struct {
		p    approval.Policy
		want []string
	}{
		{approval.Policy{}, []string{"No action needs approval"}},
		{approval.Policy{Actions: []modelarts.BatchType{modelarts.BatchDelete}}, []string{"Delete needs approval by an approver.", "expires", "24 hours"}},
		{approval.Policy{Actions: []modelarts.BatchType{modelarts.BatchDelete, modelarts.BatchReinstallOS, modelarts.BatchChangeOS}, TTL: 2 * time.Hour},
			[]string{"Delete, Reinstall OS and Change OS need approval by an approver.", "2 hours"}},
		{approval.Policy{MinServers: 10, TTL: 90 * time.Minute}, []string{"Any action on 10 or more servers needs approval by an approver.", "90 minutes"}},
	}
	for _, tt := range tests {
		got := strings.Join(tt.p.Describe(), " ")
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Describe(%+v) = %q, want it to say %q", tt.p, got, w)
			}
		}
	}
}
